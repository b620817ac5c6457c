// JSON at the API edge: parse request bodies without exceptions, read typed fields with errors
// that name the field.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/exchange.h"
#include "api/problem.h"
#include "common/status.h"

namespace hc::api {

// Parses `text` as one JSON value (RFC 8259, UTF-8 checked, at most kJsonDepthMax levels deep).
// InvalidArgument on failure, saying where: "line 3, column 7 (byte 41): syntax error".
Result<boost::json::value> ParseJson(std::string_view text);

// Parses a request body that must be a JSON object:
//   - a Content-Type other than application/json (parameters such as charset allowed), or none →
//     415 unsupported_media_type;
//   - unparseable text → 400 malformed_json with the parser's position and message;
//   - valid JSON that is not an object → 400 bad_request.
ProblemOr<boost::json::object> ParseJsonObjectBody(const Request& request);

// Typed field getters. Each returns InvalidArgument naming the field when it is missing or has the
// wrong type ("field 'patient': expected a string, got a number"); ProblemFromStatus turns that
// into 400 bad_request. The Optional forms return nullopt for a missing field (or a null value)
// and fail only on a wrong type. Integers must be JSON integers within range (1.0 is refused).
Result<std::string> GetString(const boost::json::object& obj, std::string_view field);
Result<std::optional<std::string>> GetOptionalString(const boost::json::object& obj,
                                                     std::string_view field);
Result<int64_t> GetInt64(const boost::json::object& obj, std::string_view field);
Result<uint64_t> GetUint64(const boost::json::object& obj, std::string_view field);
Result<std::optional<uint64_t>> GetOptionalUint64(const boost::json::object& obj,
                                                  std::string_view field);
Result<bool> GetBool(const boost::json::object& obj, std::string_view field);
Result<std::optional<bool>> GetOptionalBool(const boost::json::object& obj, std::string_view field);
// Pointers into `obj`; valid while `obj` is alive and unmodified.
Result<const boost::json::object*> GetObject(const boost::json::object& obj,
                                             std::string_view field);
Result<const boost::json::array*> GetArray(const boost::json::object& obj, std::string_view field);

// "a string", "a number", ...: for error messages.
std::string_view JsonKindName(const boost::json::value& v);

}  // namespace hc::api

#include "api/json.h"

#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/system/error_code.hpp>

#include "api/limits.h"

namespace hc::api {

namespace json = boost::json;

namespace {

// "line 3, column 7 (byte 41)", 1-based, counting bytes.
std::string DescribeOffset(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1) +
         " (byte " + std::to_string(offset) + ")";
}

Status FieldError(std::string_view field, std::string_view expected, const json::value* got) {
  std::string m = "field '";
  m += field;
  m += "': ";
  if (got == nullptr) {
    m += "missing";
  } else {
    m += "expected ";
    m += expected;
    m += ", got ";
    m += JsonKindName(*got);
  }
  return InvalidArgument(std::move(m));
}

// The field's value, or nullptr when absent.
const json::value* Find(const json::object& obj, std::string_view field) {
  return obj.if_contains(field);
}

bool IsAbsent(const json::value* v) { return v == nullptr || v->is_null(); }

// application/json, with optional parameters ("; charset=utf-8"), case-insensitively.
bool IsJsonMediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

}  // namespace

std::string_view JsonKindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "an unknown kind";
}

Result<json::value> ParseJson(std::string_view text) {
  json::parse_options options;
  options.max_depth = kJsonDepthMax;
  json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed != text.size()) ec = json::error::extra_data;
  if (!ec) parser.finish(ec);
  if (ec) {
    // On failure, `consumed` is where the parser stopped: the offending byte.
    return InvalidArgument(DescribeOffset(text, consumed) + ": " + ec.message());
  }
  return parser.release();
}

ProblemOr<json::object> ParseJsonObjectBody(const Request& request) {
  const std::string_view content_type = request.Header(http::field::content_type);
  if (!IsJsonMediaType(content_type)) {
    return Problem(
        ProblemCode::kUnsupportedMediaType,
        content_type.empty()
            ? std::string("expected Content-Type: application/json, got none")
            : "expected Content-Type: application/json, got " + std::string(content_type));
  }
  Result<json::value> parsed = ParseJson(request.body());
  if (!parsed.ok()) return Problem(ProblemCode::kMalformedJson, parsed.status().message());
  if (!parsed->is_object()) {
    return Problem(ProblemCode::kBadRequest,
                   "the body must be a JSON object, got " + std::string(JsonKindName(*parsed)));
  }
  return std::move(parsed->as_object());
}

Result<std::string> GetString(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v == nullptr || !v->is_string()) return FieldError(field, "a string", v);
  return std::string(v->get_string());
}

Result<std::optional<std::string>> GetOptionalString(const json::object& obj,
                                                     std::string_view field) {
  const json::value* v = Find(obj, field);
  if (IsAbsent(v)) return std::optional<std::string>();
  if (!v->is_string()) return FieldError(field, "a string", v);
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<int64_t> GetInt64(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v != nullptr && v->is_int64()) return v->get_int64();
  if (v != nullptr && v->is_uint64()) {
    return InvalidArgument("field '" + std::string(field) + "': out of the int64 range");
  }
  return FieldError(field, "an integer", v);
}

Result<uint64_t> GetUint64(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v != nullptr && v->is_uint64()) return v->get_uint64();
  if (v != nullptr && v->is_int64()) {
    if (v->get_int64() < 0) {
      return InvalidArgument("field '" + std::string(field) + "': must not be negative");
    }
    return static_cast<uint64_t>(v->get_int64());
  }
  return FieldError(field, "a non-negative integer", v);
}

Result<std::optional<uint64_t>> GetOptionalUint64(const json::object& obj, std::string_view field) {
  if (IsAbsent(Find(obj, field))) return std::optional<uint64_t>();
  HC_ASSIGN_OR_RETURN(uint64_t value, GetUint64(obj, field));
  return std::optional<uint64_t>(value);
}

Result<bool> GetBool(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v == nullptr || !v->is_bool()) return FieldError(field, "a boolean", v);
  return v->get_bool();
}

Result<std::optional<bool>> GetOptionalBool(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (IsAbsent(v)) return std::optional<bool>();
  if (!v->is_bool()) return FieldError(field, "a boolean", v);
  return std::optional<bool>(v->get_bool());
}

Result<const json::object*> GetObject(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v == nullptr || !v->is_object()) return FieldError(field, "an object", v);
  return &v->get_object();
}

Result<const json::array*> GetArray(const json::object& obj, std::string_view field) {
  const json::value* v = Find(obj, field);
  if (v == nullptr || !v->is_array()) return FieldError(field, "an array", v);
  return &v->get_array();
}

}  // namespace hc::api

#include "api/problem.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace hc::api {

namespace {

using C = ProblemCode;

// In enum order; SpecOf indexes it.
constexpr std::array<ProblemSpec, 19> kSpecs = {{
    {C::kBadRequest, "bad_request", 400, "Bad request"},
    {C::kMalformedJson, "malformed_json", 400, "Malformed JSON"},
    {C::kInvalidTx, "invalid_tx", 400, "Invalid transaction"},
    {C::kUnauthenticated, "unauthenticated", 401, "Unauthenticated"},
    {C::kForbidden, "forbidden", 403, "Forbidden"},
    {C::kNotFound, "not_found", 404, "Not found"},
    {C::kUnknownRoute, "unknown_route", 404, "Unknown route"},
    {C::kMethodNotAllowed, "method_not_allowed", 405, "Method not allowed"},
    {C::kRequestTimeout, "request_timeout", 408, "Request timeout"},
    {C::kConflict, "conflict", 409, "Conflict"},
    {C::kBodyTooLarge, "body_too_large", 413, "Request body too large"},
    {C::kUnsupportedMediaType, "unsupported_media_type", 415, "Unsupported media type"},
    {C::kHeadersTooLarge, "headers_too_large", 431, "Request header fields too large"},
    {C::kInternal, "internal", 500, "Internal error"},
    {C::kMempoolFull, "mempool_full", 503, "Mempool full"},
    {C::kTooManyConnections, "too_many_connections", 503, "Too many connections"},
    {C::kTooManySubscribers, "too_many_subscribers", 503, "Too many subscribers"},
    {C::kUnavailable, "unavailable", 503, "Service unavailable"},
    {C::kDeadlineExceeded, "deadline_exceeded", 504, "Deadline exceeded"},
}};

constexpr bool SpecsInEnumOrder() {
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    if (static_cast<size_t>(kSpecs[i].code) != i) return false;
  }
  return true;
}
static_assert(SpecsInEnumOrder(), "kSpecs must list every ProblemCode in enum order");
static_assert(static_cast<size_t>(C::kDeadlineExceeded) + 1 == kSpecs.size(),
              "a ProblemCode was added without a spec");

}  // namespace

std::span<const ProblemSpec> AllProblemSpecs() { return kSpecs; }

const ProblemSpec& SpecOf(ProblemCode code) {
  const auto index = static_cast<size_t>(code);
  HC_ASSERT_LT(index, kSpecs.size());
  return kSpecs[index];
}

std::string Problem::type() const {
  std::string out(kProblemTypePrefix);
  out += name();
  return out;
}

std::string Problem::ToJson() const {
  boost::json::object doc;
  doc["type"] = type();
  doc["title"] = title();
  doc["status"] = status();
  doc["detail"] = detail_;
  doc["code"] = name();
  return boost::json::serialize(doc);
}

Problem ProblemFromStatus(const Status& status) {
  HC_ASSERT_MSG(!status.ok(), "ProblemFromStatus needs a failure");
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return Problem(C::kBadRequest, status.message());
    case StatusCode::kNotFound:
      return Problem(C::kNotFound, status.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return Problem(C::kConflict, status.message());
    case StatusCode::kPermissionDenied:
      return Problem(C::kForbidden, status.message());
    case StatusCode::kUnauthenticated:
      return Problem(C::kUnauthenticated, status.message());
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
      return Problem(C::kUnavailable, status.message());
    case StatusCode::kOk:
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      break;
  }
  spdlog::error("api: internal error answered as 500: {}", status.ToString());
  return Problem(C::kInternal, "internal error; see the server log");
}

}  // namespace hc::api

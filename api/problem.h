// RFC 9457 problem details: how every client API error is answered.
//
// A problem is rendered as `application/problem+json`:
//   {"type": "urn:healthchain:problem:<code>", "title": ..., "status": ..., "detail": ..., "code":
//   ...}
// `code` is the stable machine-readable member clients switch on; `type` carries the same code as
// a URI (RFC 9457 §3.1.1); `title` is fixed per code; `detail` explains this occurrence.
//
// Add a code only when some client reacts to it differently (STYLE.md, "Errors"); the list is
// mirrored in docs/api/openapi.yaml (components/schemas/ProblemCode) and a test keeps them equal.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/assert.h"
#include "common/status.h"

namespace hc::api {

enum class ProblemCode : int {
  kBadRequest,            // 400 the request is malformed (bad target, bad field, garbage bytes)
  kMalformedJson,         // 400 the body is not parseable JSON
  kInvalidTx,             // 400 a submitted tx fails its checks (size, parse, chain id, signature)
  kUnauthenticated,       // 401 missing or bad request signature, unknown identity
  kForbidden,             // 403 authenticated but not allowed
  kNotFound,              // 404 the route exists; the thing asked for does not
  kUnknownRoute,          // 404 no route has this path
  kMethodNotAllowed,      // 405 the path exists with other methods (see the Allow header)
  kRequestTimeout,        // 408 the request did not arrive in time
  kConflict,              // 409 duplicate, or the state does not allow it
  kBodyTooLarge,          // 413 the body exceeds the route's limit
  kUnsupportedMediaType,  // 415 the Content-Type is not one the route accepts
  kHeadersTooLarge,       // 431 the request line and header fields exceed the limit
  kInternal,              // 500 a bug or an unexpected failure on the server
  kMempoolFull,           // 503 the node cannot take more transactions now; retry later
  kTooManyConnections,    // 503 the server is at its connection limit; retry later
  kTooManySubscribers,    // 503 the server is at its WebSocket subscriber limit; retry later
  kUnavailable,           // 503 the server cannot serve this now (shutting down, overloaded)
  kDeadlineExceeded,      // 504 the answer was not ready before the request's deadline
};

// The fixed facts of one problem code.
struct ProblemSpec {
  ProblemCode code;
  std::string_view name;   // the `code` member, e.g. "malformed_json"
  unsigned status;         // the HTTP status
  std::string_view title;  // the `title` member
};

// Every problem code, in enum order (for documentation checks and tests).
std::span<const ProblemSpec> AllProblemSpecs();
const ProblemSpec& SpecOf(ProblemCode code);

// Prefix of the `type` member; the code name follows it.
inline constexpr std::string_view kProblemTypePrefix = "urn:healthchain:problem:";
inline constexpr std::string_view kProblemContentType = "application/problem+json";

class Problem {
 public:
  Problem(ProblemCode code, std::string detail) : code_(code), detail_(std::move(detail)) {}

  ProblemCode code() const { return code_; }
  std::string_view name() const { return SpecOf(code_).name; }
  unsigned status() const { return SpecOf(code_).status; }
  std::string_view title() const { return SpecOf(code_).title; }
  const std::string& detail() const { return detail_; }
  std::string type() const;

  // The application/problem+json document.
  std::string ToJson() const;

  friend bool operator==(const Problem& a, const Problem& b) {
    return a.code_ == b.code_ && a.detail_ == b.detail_;
  }

 private:
  ProblemCode code_;
  std::string detail_;
};

// Maps an expected failure from below the API to the problem a client sees:
//   InvalidArgument → bad_request, NotFound → not_found, AlreadyExists and FailedPrecondition →
//   conflict, PermissionDenied → forbidden, Unauthenticated → unauthenticated, ResourceExhausted
//   and Unavailable → unavailable; Corruption, IoError and Internal → internal, whose detail does
//   not repeat the message (it may name files or keys); the message is logged instead.
// Callers that know better pick the code themselves (a full mempool answers mempool_full).
// `status` must not be OK.
Problem ProblemFromStatus(const Status& status);

// Holds either a T or a Problem: the result of API-edge helpers whose failures are answered to
// the client as they are (ParseJsonObjectBody). Reading value() of a problem is a bug (aborts).
template <typename T>
class [[nodiscard]] ProblemOr {
 public:
  ProblemOr(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  ProblemOr(Problem problem) : v_(std::move(problem)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Problem& problem() const {
    HC_ASSERT(!ok());
    return std::get<Problem>(v_);
  }
  T& value() & {
    HC_ASSERT(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    HC_ASSERT(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    HC_ASSERT(ok());
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Problem> v_;
};

}  // namespace hc::api

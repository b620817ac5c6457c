// Status and Result<T>: how expected failures travel in Health Chain (no exceptions in our code).
//
// A Status is either OK or carries a code and a human-readable message. Add a code only when some
// caller reacts to it differently (STYLE.md, "Errors"). Broken invariants are not Statuses: they
// are bugs and abort through HC_ASSERT (common/assert.h).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace hc {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // malformed input: bytes, JSON, flags, proofs
  kNotFound,            // the thing asked for does not exist
  kAlreadyExists,       // a duplicate: tx id seen, key enrolled, file exists
  kPermissionDenied,    // authenticated but not allowed (file modes, authorisation)
  kUnauthenticated,     // a signature or identity did not check out
  kCorruption,          // stored data failed a check; the store must not be used
  kIoError,             // the OS or the disk said no
  kResourceExhausted,   // a bound was hit (queue full, size cap)
  kUnavailable,         // try again later (shutting down, peer down)
  kFailedPrecondition,  // the request is well-formed but the state does not allow it
  kInternal,            // a third-party library failed in a way we did not expect
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy with `context` prepended to the message ("context: message").
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T> holds either a T or a non-OK Status. Reading value() of an error is a bug (aborts).
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cvref_t<T>, Status>, "Result<Status> makes no sense");

 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    HC_ASSERT(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
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
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hc

#define HC_STATUS_CONCAT_INNER(a, b) a##b
#define HC_STATUS_CONCAT(a, b) HC_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` (a Status) is not OK.
#define HC_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::hc::Status hc_status_tmp_ = (expr);            \
    if (!hc_status_tmp_.ok()) return hc_status_tmp_; \
  } while (0)

// HC_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error Status from the enclosing function.
#define HC_ASSIGN_OR_RETURN(lhs, rexpr) \
  HC_ASSIGN_OR_RETURN_IMPL(HC_STATUS_CONCAT(hc_result_, __LINE__), lhs, rexpr)
#define HC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                             \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

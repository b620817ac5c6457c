#include "api/limits.h"

#include <string>

namespace hc::api {

namespace {

Status CheckRange(const char* field, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return InvalidArgument(std::string("limits.") + field + " = " + std::to_string(value) +
                           " is outside [" + std::to_string(min) + ", " + std::to_string(max) +
                           "]");
  }
  return Status::Ok();
}

}  // namespace

Status ServerLimits::Validate() const {
  constexpr int64_t kMaxMs = 3'600'000;
  HC_RETURN_IF_ERROR(CheckRange("body_bytes_max", static_cast<int64_t>(body_bytes_max), 1,
                                static_cast<int64_t>(kBodyBytesCeiling)));
  // Below a few hundred bytes no real request line and Host field fit.
  HC_RETURN_IF_ERROR(CheckRange("header_bytes_max", static_cast<int64_t>(header_bytes_max), 256,
                                static_cast<int64_t>(kHeaderBytesCeiling)));
  HC_RETURN_IF_ERROR(
      CheckRange("request_read_timeout_ms", request_read_timeout.count(), 1, kMaxMs));
  HC_RETURN_IF_ERROR(CheckRange("idle_timeout_ms", idle_timeout.count(), 1, kMaxMs));
  HC_RETURN_IF_ERROR(CheckRange("write_timeout_ms", write_timeout.count(), 1, kMaxMs));
  HC_RETURN_IF_ERROR(CheckRange("handler_deadline_ms", handler_deadline.count(), 1,
                                kHandlerDeadlineCeiling.count()));
  HC_RETURN_IF_ERROR(CheckRange("linger_timeout_ms", linger_timeout.count(), 1, kMaxMs));
  HC_RETURN_IF_ERROR(
      CheckRange("tls_handshake_timeout_ms", tls_handshake_timeout.count(), 1, kMaxMs));
  HC_RETURN_IF_ERROR(
      CheckRange("connections_max", static_cast<int64_t>(connections_max), 1, 1'000'000));
  HC_RETURN_IF_ERROR(
      CheckRange("websockets_max", static_cast<int64_t>(websockets_max), 1, 1'000'000));
  HC_RETURN_IF_ERROR(CheckRange("websocket_queue_max", static_cast<int64_t>(websocket_queue_max), 1,
                                static_cast<int64_t>(kWebSocketQueueCeiling)));
  if (request_read_timeout > idle_timeout) {
    return InvalidArgument("limits.request_read_timeout_ms must not exceed limits.idle_timeout_ms");
  }
  return Status::Ok();
}

}  // namespace hc::api

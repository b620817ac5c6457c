// Limits of the client API's HTTP server (STYLE.md: "put a limit on everything", one header per
// module, static_asserts on how the limits relate).
//
// The k* constants are the defaults and the hard ceilings; ServerLimits carries the values one
// server runs with (the node reads them from its configuration; tests shrink them to run fast).
// ServerLimits::Validate() refuses values outside the ceilings or that break the relations below.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace hc::api {

// ---- Request size ----

// Default body limit of a route. Signed transactions are a few KiB; 1 MiB leaves room for batches.
inline constexpr size_t kBodyBytesDefault = size_t{1} << 20;
// Hard ceiling for any route's body limit (payload upload raises its own limit up to this). The
// body is held in memory, so this bounds the memory one connection can pin.
inline constexpr size_t kBodyBytesCeiling = size_t{64} << 20;
// Request line plus all header fields. Signed-request headers (signature, key id, timestamp, body
// hash) fit comfortably in 16 KiB; Beast's own default is 8 KiB.
inline constexpr size_t kHeaderBytesDefault = size_t{16} << 10;
inline constexpr size_t kHeaderBytesCeiling = size_t{64} << 10;
// Bytes read per read call while waiting for a request to start.
inline constexpr size_t kReadChunkBytes = size_t{4} << 10;

static_assert(kBodyBytesDefault <= kBodyBytesCeiling);
static_assert(kHeaderBytesDefault <= kHeaderBytesCeiling);
static_assert(kReadChunkBytes <= kHeaderBytesDefault,
              "the first read must not be able to exceed the header limit on its own");

// ---- Query and path ----

// A query string with more parameters than this is refused (400), which bounds the work of
// parsing and of every handler's lookups.
inline constexpr size_t kQueryParamsMax = 64;
// Path segments of a request target; our deepest route has 5.
inline constexpr size_t kPathSegmentsMax = 32;
static_assert(kPathSegmentsMax * 2 <= kHeaderBytesDefault);

// ---- JSON ----

// Nesting depth the JSON parser accepts; our bodies nest at most 4-5 levels.
inline constexpr size_t kJsonDepthMax = 32;

// ---- Time ----

using Millis = std::chrono::milliseconds;

// From the first byte of a request (or from accepting the connection, for the first request) to
// its last byte. A client that trickles a request in (slow loris) is answered 408 and closed.
inline constexpr Millis kRequestReadTimeoutDefault{10'000};
// How long a keep-alive connection may sit idle between requests before it is closed quietly.
inline constexpr Millis kIdleTimeoutDefault{30'000};
// How long writing one response may take (a client that does not read is closed).
inline constexpr Millis kWriteTimeoutDefault{10'000};
// How long a handler has to answer before the server answers 504 deadline_exceeded for it. Routes
// that wait for a commit (?wait=commit) raise their own deadline.
inline constexpr Millis kHandlerDeadlineDefault{30'000};
inline constexpr Millis kHandlerDeadlineCeiling{300'000};
// After an error response with "Connection: close", how long the server keeps reading (and
// discarding) what the client still sends, so the client sees the response rather than a reset.
inline constexpr Millis kLingerTimeoutDefault{2'000};
// From accepting a connection on a TLS listener to the end of its TLS handshake (a few round
// trips). A client that connects and stays silent, or trickles its handshake in, is closed
// quietly; the first request's read timeout starts once the handshake is done.
inline constexpr Millis kTlsHandshakeTimeoutDefault{5'000};
inline constexpr size_t kLingerBytesMax = size_t{1} << 20;

static_assert(kRequestReadTimeoutDefault <= kIdleTimeoutDefault,
              "a request must not be allowed to trickle in longer than a connection may idle");
static_assert(kWriteTimeoutDefault <= kHandlerDeadlineDefault);
static_assert(kHandlerDeadlineDefault <= kHandlerDeadlineCeiling);
static_assert(kLingerTimeoutDefault < kRequestReadTimeoutDefault);
static_assert(kTlsHandshakeTimeoutDefault <= kRequestReadTimeoutDefault,
              "a handshake must not be allowed longer than a whole request");

// ---- Connections ----

// Open connections served at once. Past it a new connection is answered 503 too_many_connections
// and closed.
inline constexpr size_t kConnectionsDefault = 1024;
// Connections being refused at once (each is written a 503 and drained briefly). Past this a new
// connection is closed without an answer: writing one would itself cost unbounded resources.
inline constexpr size_t kRejectingConnectionsMax = 64;
// Requests served on one keep-alive connection before the server asks the client to reconnect
// ("Connection: close"); 0 means unlimited.
inline constexpr uint32_t kRequestsPerConnectionDefault = 10'000;

static_assert(kRejectingConnectionsMax <= kConnectionsDefault);

// ---- WebSocket subscribers (GET /v1/events) ----

// WebSocket connections open at once. Each is also a connection (connections_max). Past it an
// upgrade request is answered 503 too_many_subscribers (before the upgrade) and the node keeps
// serving everyone else.
inline constexpr size_t kWebSocketsDefault = 64;
// Messages queued for one subscriber (not yet written to its socket). A subscriber whose queue
// would pass this is closed with 1008 "subscriber too slow"; the producer never waits. The default
// holds one full block of events (ledger::kBlockTxsMax, asserted in api/events_routes.cc) so a
// subscriber that keeps up is never dropped for a burst.
inline constexpr size_t kWebSocketQueueDefault = 16'384;
inline constexpr size_t kWebSocketQueueCeiling = 1'000'000;
// The largest message a client may send on a subscription (it has nothing to say but control
// frames); larger ones close the socket.
inline constexpr size_t kWebSocketReadBytesMax = 4096;

static_assert(kWebSocketsDefault <= kConnectionsDefault,
              "every WebSocket also holds one of the server's connections");
static_assert(kWebSocketQueueDefault <= kWebSocketQueueCeiling);

// The limits one HttpServer runs with. Copyable value type; defaults are the constants above.
struct ServerLimits {
  size_t body_bytes_max = kBodyBytesDefault;  // per-route RouteOptions may raise it to the ceiling
  size_t header_bytes_max = kHeaderBytesDefault;
  Millis request_read_timeout = kRequestReadTimeoutDefault;
  Millis idle_timeout = kIdleTimeoutDefault;
  Millis write_timeout = kWriteTimeoutDefault;
  Millis handler_deadline = kHandlerDeadlineDefault;
  Millis linger_timeout = kLingerTimeoutDefault;
  Millis tls_handshake_timeout = kTlsHandshakeTimeoutDefault;  // TLS listeners only
  size_t connections_max = kConnectionsDefault;
  uint32_t requests_per_connection_max = kRequestsPerConnectionDefault;  // 0: unlimited
  size_t websockets_max = kWebSocketsDefault;           // capped by connections_max
  size_t websocket_queue_max = kWebSocketQueueDefault;  // messages per WebSocket

  // OK when every value is positive, within its ceiling and the relations above hold; otherwise
  // InvalidArgument naming the offending field. The server refuses to start with invalid limits.
  Status Validate() const;
};

}  // namespace hc::api

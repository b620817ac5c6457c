// HttpServer: the client API's HTTP/1.1 server core on Boost.Beast. It owns connections, limits,
// routing, problem+json errors and request metrics; route handlers (node/, later issues) own the
// ledger logic. api/ never includes ledger/, node/ or RocksDB: the node registers handlers that
// close over its own interfaces.
//
// Per connection, requests are served one at a time, in order: the next request is read only
// after the previous response is written, so pipelined requests queue in the read buffer and are
// answered in order (RFC 9112 §9.3.2). Keep-alive is honoured until requests_per_connection_max.
//
// Every failure of the server itself is answered as application/problem+json (api/problem.h):
//   unparseable HTTP → 400 bad_request, then close;      unknown path → 404 unknown_route;
//   known path, other method → 405 method_not_allowed with an Allow header;
//   body over the route's limit → 413 body_too_large, then close;
//   request line + headers over the limit → 431 headers_too_large, then close;
//   request not complete within request_read_timeout → 408 request_timeout, then close;
//   connection limit reached → 503 too_many_connections, then close;
//   handler silent past its deadline → 504 deadline_exceeded (the connection stays usable);
//   handler dropped its Responder without answering → 500 internal.
//
// WebSocket routes (AddWebSocketRoute): a GET with `Upgrade: websocket` to such a route runs the
// route's WebSocketHandler first, which authorises the request and either refuses it (its problem
// is answered over HTTP, before any upgrade) or accepts it. Past limits.websockets_max open
// WebSockets the request is answered 503 too_many_subscribers. Otherwise the handshake completes
// (101) and the connection becomes a WebSocket: the server writes the messages the route queues
// (WebSocketChannel), reads and discards what the client sends (only control frames are expected;
// a message over kWebSocketReadBytesMax closes it), pings an idle client and closes one that stays
// silent past limits.idle_timeout. A WebSocket counts as a connection and as a subscriber until it
// closes. Stop() closes every WebSocket with 1001 (going away).
// After a "close" answer the server drains what the client still sends for a short while
// (limits.linger_timeout) so the client reads the answer rather than a connection reset.
//
// TLS (ServerOptions::tls_context set): the listener speaks only HTTPS and WSS. Every accepted
// connection first completes a TLS handshake within limits.tls_handshake_timeout; then it is served
// exactly as a plain one (same routes, limits, timeouts and answers), the first request's read
// timeout starting when the handshake ends. SetTlsContext swaps the context for later connections
// (a renewed certificate, without a restart). A client that sends plaintext HTTP or anything else
// that is not a TLS handshake, or stays silent, is closed without an answer (logged at debug and
// counted). The session code is one class template over the stream type (the TCP socket or
// boost::beast::ssl_stream over it), so both kinds share every line but the handshake and the
// closing: a TLS connection closed after an answer sends close_notify and waits briefly for the
// client's, instead of half-closing the socket.
//
// Metrics (in the registry given at construction):
//   api_requests_total{route,method,status}   counter; route is the pattern, "unmatched" otherwise
//   api_request_duration_seconds{route}       histogram, first request byte to response queued
//   api_connections_open                      gauge
//   api_connections_accepted_total            counter
//   api_connections_rejected_total            counter (connection limit)
//   api_websockets_open                       gauge
//   api_websockets_closed_slow_total          counter (closed because their queue was full)
//   api_tls_handshakes_failed_total           counter (TLS listeners only: failed or timed-out
//                                             handshakes, plaintext clients among them)
#pragma once

#include <openssl/types.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/limits.h"
#include "api/metrics.h"
#include "api/router.h"
#include "common/status.h"

namespace hc::api {

struct ServerOptions {
  // An IP address literal to listen on (no name resolution).
  std::string host = "127.0.0.1";
  // 0 picks a free port (tests); port() tells which.
  uint16_t port = 8080;
  ServerLimits limits;
  // The Server header of every response.
  std::string server_header = "healthchain";
  // When set, the listener speaks only TLS with this context (crypto::MakeApiServerTlsContext
  // builds one from a certificate chain and key); when null, plain HTTP and WebSocket. The server
  // shares it (SSL_CTX_up_ref); it must not be changed once given to the server (to renew the
  // certificate, build a new context and pass it to HttpServer::SetTlsContext).
  std::shared_ptr<SSL_CTX> tls_context;
};

namespace internal {
struct ServerState;
class Listener;
}  // namespace internal

// Thread-safety: Start, Stop, SetTlsContext, port, Routes and open_connections may be called from
// any thread.
// The io_context must outlive the HttpServer; the HttpServer must be destroyed (or stopped)
// before the io_context is. Handlers run on the io_context's threads.
class HttpServer {
 public:
  // The server serves `router`'s routes on `ioc`, which the caller runs (on one or more threads).
  // `metrics` is shared with the rest of the node, which adds its own metrics to it.
  HttpServer(boost::asio::io_context& ioc, ServerOptions options, Router router,
             std::shared_ptr<MetricsRegistry> metrics);
  ~HttpServer();  // Stop()

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Validates the limits, binds and listens, and starts accepting on the io_context.
  // InvalidArgument for bad limits or a host that is not an IP address; IoError when binding or
  // listening fails ("127.0.0.1:8080: Address already in use"). Call at most once.
  Status Start();

  // Stops accepting and closes every connection; answers not yet written are dropped, and a
  // Responder answering afterwards is a no-op. Idempotent. A handler already running on another
  // io_context thread may still be running when Stop returns: join the io_context's threads
  // before destroying what handlers refer to.
  void Stop();

  // A TLS server only: every connection accepted from now on (once this returns) handshakes with
  // `tls_context` instead of the previous context, e.g. a renewed certificate; connections already
  // accepted keep the context they started with. The server shares it (SSL_CTX_up_ref); it must not
  // be changed afterwards. Returns InvalidArgument for a null context (a TLS server never falls
  // back to plaintext) and FailedPrecondition for a plain-HTTP server (whether the listener speaks
  // TLS is fixed at construction); the server is unchanged then.
  Status SetTlsContext(std::shared_ptr<SSL_CTX> tls_context);

  // The bound port, after a successful Start (0 before).
  uint16_t port() const;
  // Every registered (method, pattern), in registration order.
  std::vector<RouteInfo> Routes() const;
  // Connections currently being served (excluding ones being refused at the limit).
  size_t open_connections() const;

 private:
  boost::asio::io_context& ioc_;
  std::shared_ptr<internal::ServerState> state_;
  std::shared_ptr<internal::Listener> listener_;
};

// ---- WebSocket routes ----

// The server side of one accepted WebSocket, as its route sees it.
class WebSocketChannel {
 public:
  virtual ~WebSocketChannel() = default;

  // Runs `fn` on the connection's strand, after the functions posted before it; dropped when the
  // socket closes first. Any thread; never blocks. A post counts against the queue bound until it
  // runs: when the bound is passed the socket is closed as too slow and false is returned.
  virtual bool Post(std::function<void()> fn) = 0;
  // On the connection's strand only (in a posted function): queues one text message. When the
  // queue is full the socket is closed with 1008 "subscriber too slow" (queued messages are
  // dropped) and false is returned; false too once the socket is closing.
  virtual bool SendText(std::string text) = 0;
  // Whether the socket is closing or closed. Any thread.
  virtual bool closed() const = 0;
};

// Called on the connection's strand once the handshake completed. What it returns (for example a
// ledger subscription) is kept while the socket is open and released when it closes. Functions it
// hands elsewhere should hold the channel by weak_ptr.
using WebSocketOpen =
    std::function<std::shared_ptr<void>(const std::shared_ptr<WebSocketChannel>&)>;
// Authorises an upgrade request (on the connection's strand; it must not block): a problem is
// answered over HTTP and no upgrade happens; a WebSocketOpen accepts it.
using WebSocketHandler = std::function<ProblemOr<WebSocketOpen>(const Request&)>;

// Registers GET `pattern` as a WebSocket route. A GET without `Upgrade: websocket` is answered 400
// bad_request ("this route needs a WebSocket upgrade").
void AddWebSocketRoute(Router& router, std::string_view pattern, WebSocketHandler handler);

// Registers GET `pattern` answering `metrics`' Prometheus text exposition.
void AddMetricsRoute(Router& router, std::shared_ptr<const MetricsRegistry> metrics,
                     std::string_view pattern = "/metrics");

}  // namespace hc::api

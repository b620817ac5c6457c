#include "api/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace hc::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

namespace internal {

// The two kinds of connection stream: the TCP socket itself, or TLS over it. Beast's ssl_stream
// (rather than asio's) coalesces a response's buffers into one TLS record per write.
using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;
template <class Stream>
inline constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// The TCP socket under any layer of a connection's stream.
inline tcp::socket& RawSocket(tcp::socket& socket) { return socket; }
inline tcp::socket& RawSocket(beast::tcp_stream& stream) { return stream.socket(); }
template <class Stream>
tcp::socket& LowestSocket(Stream& stream) {
  return RawSocket(beast::get_lowest_layer(stream));
}

// A served connection (HTTP or WebSocket), as HttpServer::Stop sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection from any thread.
  virtual void PostClose() = 0;
};

// The handler a WebSocket route registers: the server recognises a route as a WebSocket route by
// this type. Called as a plain handler (no Upgrade header), it refuses the request.
struct WebSocketRoute {
  std::shared_ptr<const WebSocketHandler> handler;
  void operator()(const Request&, Responder responder) const {
    responder.SendProblem(ProblemCode::kBadRequest,
                          "this route needs a WebSocket upgrade (Upgrade: websocket)");
  }
};

// What the listener, every connection and the HttpServer share. Connections hold it by
// shared_ptr, so it outlives the HttpServer object while the io_context still runs them.
struct ServerState {
  // `tls_context` is the one of `o` (which HttpServer takes out of it, so that a context replaced
  // by SetTlsContext is not kept alive by the options).
  ServerState(ServerOptions o, const std::shared_ptr<SSL_CTX>& tls_context, Router r,
              std::shared_ptr<MetricsRegistry> m)
      : options(std::move(o)),
        tls_enabled(tls_context != nullptr),
        tls(MakeAsioContext(tls_context)),
        router(std::move(r)),
        metrics(std::move(m)),
        latency_buckets(LatencyBucketsSeconds()),
        connections_open(
            metrics->GetGauge("api_connections_open", "Client API connections being served.")),
        connections_accepted(metrics->GetCounter("api_connections_accepted_total",
                                                 "Client API connections accepted.")),
        connections_rejected(metrics->GetCounter(
            "api_connections_rejected_total",
            "Client API connections refused because the connection limit was reached.")),
        websockets_open(metrics->GetGauge("api_websockets_open",
                                          "Client API WebSocket subscribers connected.")),
        websockets_closed_slow(metrics->GetCounter(
            "api_websockets_closed_slow_total",
            "Client API WebSockets closed because their queue was full (too slow).")),
        tls_handshakes_failed(
            !tls_enabled ? nullptr
                         : &metrics->GetCounter("api_tls_handshakes_failed_total",
                                                "Client API TLS handshakes that failed or timed "
                                                "out (plaintext clients among them).")) {}

  // asio's context owns the SSL_CTX it wraps (it frees it), so it is given a reference of its own.
  static std::shared_ptr<asio::ssl::context> MakeAsioContext(const std::shared_ptr<SSL_CTX>& ctx) {
    if (ctx == nullptr) return nullptr;
    const int up_ref = SSL_CTX_up_ref(ctx.get());
    HC_ASSERT(up_ref == 1);
    return std::make_shared<asio::ssl::context>(ctx.get());
  }

  // The context the next accepted connection handshakes with.
  std::shared_ptr<asio::ssl::context> TlsContext() const {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  // Takes one of the WebSocket slots; false at the limit.
  bool ReserveWebSocket() {
    const size_t cap = std::min(options.limits.websockets_max, options.limits.connections_max);
    size_t n = websockets.load();
    while (n < cap) {
      if (websockets.compare_exchange_weak(n, n + 1)) return true;
    }
    return false;
  }

  void RecordRequest(const std::string& route, const std::string& method, unsigned status,
                     double seconds) {
    metrics
        ->GetCounter("api_requests_total", "Client API requests answered, by route and status.",
                     {{"route", route}, {"method", method}, {"status", std::to_string(status)}})
        .Inc();
    metrics
        ->GetHistogram("api_request_duration_seconds",
                       "Client API request latency, from its first byte to its answer.",
                       latency_buckets, {{"route", route}})
        .Observe(seconds);
  }

  const ServerOptions options;  // without its tls_context (see the constructor)
  const bool tls_enabled;       // false: plain HTTP, for the server's whole life
  // The TLS context of new connections; SetTlsContext replaces it. A connection does not need it
  // once its stream is built: the stream's SSL holds a reference of its own to the SSL_CTX (and
  // the wrapper sets no callbacks whose state the SSL would share), so a replaced context lives on
  // exactly as long as the connections that started with it.
  mutable std::mutex tls_mu;
  std::shared_ptr<asio::ssl::context> tls;  // guarded by tls_mu; null iff !tls_enabled
  const Router router;
  const std::shared_ptr<MetricsRegistry> metrics;
  const std::vector<double> latency_buckets;
  Gauge& connections_open;
  Counter& connections_accepted;
  Counter& connections_rejected;
  Gauge& websockets_open;
  Counter& websockets_closed_slow;
  Counter* const tls_handshakes_failed;  // null without TLS

  std::atomic<bool> stopped{false};
  std::atomic<size_t> open{0};       // serving sessions
  std::atomic<size_t> rejecting{0};  // sessions answering too_many_connections
  std::atomic<uint64_t> next_exchange_id{1};
  std::atomic<size_t> websockets{0};  // reserved or open WebSockets

  std::mutex mu;  // guards the two below
  uint64_t next_session_id = 1;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> sessions;
};

namespace {

constexpr std::string_view kUnmatchedRoute = "unmatched";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string Describe(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

bool IsHttpParseError(const ErrorCode& ec) {
  return ec.category() == beast::http::make_error_code(beast::http::error::bad_method).category();
}

}  // namespace

// A served connection answers requests; a refused one (past connections_max) answers 503 once.
enum class SessionMode { kServe, kReject };

// One client connection over `Stream` (PlainStream or TlsStream). Every member function runs on
// the connection's strand, except Deliver (any thread), the constructor and the destructor.
//
// Timeouts: one io_timer_ bounds whichever socket operation is pending (TLS handshake, request
// read, write, linger). When it fires it cancels the socket's operations rather than closing the
// socket, so the read handler can still answer 408. io_timer_gen_ tells a stale expiry from a
// current one.
template <class Stream>
class Session final : public ExchangeSink,
                      public Connection,
                      public std::enable_shared_from_this<Session<Stream>> {
  using Shared = std::enable_shared_from_this<Session<Stream>>;
  using Shared::shared_from_this;
  using Shared::weak_from_this;

 public:
  using Mode = SessionMode;

  Session(Stream stream, std::shared_ptr<ServerState> state, Mode mode)
      : stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        state_(std::move(state)),
        mode_(mode),
        buffer_(state_->options.limits.header_bytes_max + kReadChunkBytes * 16),
        io_timer_(executor_),
        handler_timer_(executor_),
        accepted_at_(SteadyClock::now()) {
    ErrorCode ec;
    const tcp::endpoint remote = socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : Describe(remote);
    if (mode_ == Mode::kServe) {
      state_->open.fetch_add(1, std::memory_order_relaxed);
      state_->connections_open.Add(1);
    } else {
      state_->rejecting.fetch_add(1, std::memory_order_relaxed);
    }
  }

  ~Session() override {
    {
      std::lock_guard lock(state_->mu);
      state_->sessions.erase(id_);
    }
    if (mode_ == Mode::kServe) {
      state_->open.fetch_sub(1, std::memory_order_relaxed);
      state_->connections_open.Add(-1);
    } else {
      state_->rejecting.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  void Start() {
    {
      std::lock_guard lock(state_->mu);
      id_ = state_->next_session_id++;
      state_->sessions.emplace(id_, weak_from_this());
    }
    asio::post(executor_, [self = shared_from_this()] {
      if constexpr (kIsTls<Stream>) {
        self->Handshake();
      } else {
        self->Begin();
      }
    });
  }

  // From HttpServer::Stop, on any thread.
  void PostClose() override {
    asio::post(executor_, [self = shared_from_this()] { self->Close(); });
  }

  void Deliver(uint64_t exchange_id, HttpResponse response) override {
    asio::post(executor_,
               [self = shared_from_this(), exchange_id, res = std::move(response)]() mutable {
                 self->OnAnswer(exchange_id, std::move(res));
               });
  }

 private:
  const ServerLimits& limits() const { return state_->options.limits; }
  tcp::socket& socket() { return LowestSocket(stream_); }

  // A refused connection is answered 503 and closed; a served one waits for its first request.
  void Begin() {
    if (mode_ == Mode::kReject) {
      Write(MakeProblemResponse(
                Problem(ProblemCode::kTooManyConnections,
                        "the server is serving its maximum number of connections; retry later")),
            /*close=*/true);
    } else {
      ReadStart();
    }
  }

  // ---- TLS ----

  void Handshake() {
    ArmIoDeadline(SteadyClock::now() + limits().tls_handshake_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](ErrorCode ec) { self->OnHandshake(ec); });
  }

  void OnHandshake(ErrorCode ec) {
    if (closed_) return;
    const bool timed_out = DisarmIoDeadline();
    if (ec) {
      // Plaintext HTTP ("http request"), garbage ("wrong version number"), a client that refused
      // our certificate, or silence: nobody to answer in a language both ends speak.
      state_->tls_handshakes_failed->Inc();
      spdlog::debug("api: {}: TLS handshake {}: {}", remote_, timed_out ? "timed out" : "failed",
                    ec.message());
      return Close();
    }
    // The first request gets its whole read timeout after the handshake.
    accepted_at_ = SteadyClock::now();
    Begin();
  }

  // ---- Deadlines ----

  void ArmIoDeadline(SteadyClock::time_point deadline) {
    const uint64_t gen = ++io_timer_gen_;
    io_timed_out_ = false;
    io_timer_.expires_at(deadline);
    io_timer_.async_wait([self = shared_from_this(), gen](ErrorCode ec) {
      if (ec || gen != self->io_timer_gen_ || self->closed_) return;
      self->io_timed_out_ = true;
      ErrorCode ignored;
      self->socket().cancel(ignored);
    });
  }

  // Returns whether the deadline expired (and cancelled the pending operation).
  bool DisarmIoDeadline() {
    ++io_timer_gen_;
    io_timer_.cancel();
    const bool timed_out = io_timed_out_;
    io_timed_out_ = false;
    return timed_out;
  }

  // ---- Reading a request ----

  // Waits for the first byte of the next request: up to request_read_timeout after accepting for
  // the first request, up to idle_timeout between keep-alive requests. Pipelined bytes already in
  // the buffer start the next request at once.
  void ReadStart() {
    if (closed_) return;
    if (state_->stopped.load()) return Close();
    if (buffer_.size() > 0) {
      request_start_ = SteadyClock::now();
      request_deadline_ = request_start_ + limits().request_read_timeout;
      return ReadHeader();
    }
    ArmIoDeadline(first_request_ ? accepted_at_ + limits().request_read_timeout
                                 : SteadyClock::now() + limits().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kReadChunkBytes),
        [self = shared_from_this()](ErrorCode ec, size_t n) { self->OnReadStart(ec, n); });
  }

  void OnReadStart(ErrorCode ec, size_t n) {
    if (closed_) return;
    DisarmIoDeadline();
    // Nothing of a request has arrived: an idle timeout, an EOF or a reset closes quietly.
    if (ec) return Close();
    buffer_.commit(n);
    request_start_ = SteadyClock::now();
    request_deadline_ = first_request_ ? accepted_at_ + limits().request_read_timeout
                                       : request_start_ + limits().request_read_timeout;
    ReadHeader();
  }

  void ReadHeader() {
    version_ = 11;
    client_keep_alive_ = false;
    route_label_ = kUnmatchedRoute;
    method_label_ = "OTHER";
    match_.reset();
    query_.clear();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().header_bytes_max));
    // The route, and so its body limit, is known only once the header is parsed; until then only
    // the ceiling applies (Beast checks Content-Length against it as the header completes).
    parser_->body_limit(kBodyBytesCeiling);
    ArmIoDeadline(request_deadline_);
    beast::http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](ErrorCode ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(ErrorCode ec) {
    if (closed_) return;
    const bool timed_out = DisarmIoDeadline();
    if (ec) return OnReadError(ec, timed_out);
    ++requests_;
    const HttpRequest& header = parser_->get();
    version_ = header.version();
    client_keep_alive_ = header.keep_alive();
    if (header.method() != http::verb::unknown) {
      const auto m = http::to_string(header.method());
      method_label_.assign(m.data(), m.size());
    }

    const std::string_view target(header.target().data(), header.target().size());
    Result<ParsedTarget> parsed = ParseTarget(target);
    if (!parsed.ok()) return Fail(ProblemCode::kBadRequest, parsed.status().message());
    Result<Router::Match> match = state_->router.Find(header.method(), parsed->path);
    if (!match.ok()) return Fail(ProblemCode::kBadRequest, match.status().message());
    query_ = std::move(parsed->query);
    match_ = std::move(match).value();

    size_t body_limit = limits().body_bytes_max;
    if (match_->kind == Router::MatchKind::kFound) {
      route_label_ = match_->route->pattern;
      body_limit = match_->route->options.body_bytes_max.value_or(body_limit);
    }
    if (const auto length = parser_->content_length(); length && *length > body_limit) {
      return Fail(ProblemCode::kBodyTooLarge, "the body is " + std::to_string(*length) +
                                                  " bytes; this route accepts at most " +
                                                  std::to_string(body_limit));
    }
    parser_->body_limit(body_limit);
    body_limit_ = body_limit;
    if (parser_->is_done()) return Dispatch();

    if (version_ >= 11 &&
        boost::beast::iequals(std::string_view(header[http::field::expect].data(),
                                               header[http::field::expect].size()),
                              "100-continue")) {
      // The client waits for this before sending the body (RFC 9110 §10.1.1).
      ArmIoDeadline(request_deadline_);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](ErrorCode ec, size_t) {
                          if (self->closed_) return;
                          self->DisarmIoDeadline();
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    ArmIoDeadline(request_deadline_);
    beast::http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](ErrorCode ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(ErrorCode ec) {
    if (closed_) return;
    const bool timed_out = DisarmIoDeadline();
    if (ec) return OnReadError(ec, timed_out);
    Dispatch();
  }

  void OnReadError(ErrorCode ec, bool timed_out) {
    namespace he = beast::http;
    if (timed_out) {
      return Fail(ProblemCode::kRequestTimeout,
                  "the request did not arrive within " +
                      std::to_string(limits().request_read_timeout.count()) + " ms");
    }
    if (ec == he::error::header_limit ||
        (ec == he::error::buffer_overflow && !parser_->is_header_done())) {
      return Fail(ProblemCode::kHeadersTooLarge, "the request line and header fields exceed " +
                                                     std::to_string(limits().header_bytes_max) +
                                                     " bytes");
    }
    if (ec == he::error::body_limit) {
      return Fail(ProblemCode::kBodyTooLarge,
                  "the body exceeds " +
                      std::to_string(parser_->is_header_done() ? body_limit_ : kBodyBytesCeiling) +
                      " bytes");
    }
    if (ec == he::error::end_of_stream || ec == he::error::partial_message) {
      // The client went away mid-request: nobody to answer.
      return Close();
    }
    if (IsHttpParseError(ec)) {
      return Fail(ProblemCode::kBadRequest, "malformed HTTP request: " + ec.message());
    }
    spdlog::debug("api: {}: read failed: {}", remote_, ec.message());
    Close();
  }

  // ---- Handing the request to its handler ----

  void Dispatch() {
    HttpRequest message = parser_->release();
    parser_.reset();
    Router::Match match = std::move(*match_);
    match_.reset();

    if (match.kind == Router::MatchKind::kUnknownPath) {
      const std::string_view target(message.target().data(), message.target().size());
      return Write(MakeProblemResponse(
                       Problem(ProblemCode::kUnknownRoute,
                               "no route for " + std::string(target.substr(0, target.find('?'))))),
                   /*close=*/false);
    }
    if (match.kind == Router::MatchKind::kMethodNotAllowed) {
      const std::string allow = JoinMethods(match.allowed);
      HttpResponse res =
          MakeProblemResponse(Problem(ProblemCode::kMethodNotAllowed,
                                      method_label_ + " is not allowed here; allowed: " + allow));
      res.set(http::field::allow, allow);
      return Write(std::move(res), /*close=*/false);
    }
    if (state_->stopped.load()) {
      return Write(
          MakeProblemResponse(Problem(ProblemCode::kUnavailable, "the server is shutting down")),
          /*close=*/true);
    }

    const Router::Route& route = *match.route;
    if (const auto* ws = route.handler.target<WebSocketRoute>();
        ws != nullptr && beast::websocket::is_upgrade(message)) {
      return Upgrade(*ws->handler, route, std::move(message), std::move(match.params));
    }
    exchange_ = std::make_shared<Exchange>(state_->next_exchange_id.fetch_add(1),
                                           std::weak_ptr<ExchangeSink>(weak_from_this()));
    const uint64_t exchange_id = exchange_->id;
    handler_timer_.expires_after(
        route.options.handler_deadline.value_or(limits().handler_deadline));
    handler_timer_.async_wait([self = shared_from_this(), exchange_id](ErrorCode ec) {
      if (ec) return;
      self->OnHandlerDeadline(exchange_id);
    });
    const Request request(std::move(message), route.pattern, std::move(match.params),
                          std::move(query_), remote_);
    query_.clear();
    route.handler(request, Responder(exchange_));
  }

  // A WebSocket route's upgrade request: authorised by the route, then handed to a WsSession
  // with the socket (this session ends without closing it).
  void Upgrade(const WebSocketHandler& handler, const Router::Route& route, HttpRequest message,
               std::vector<Param> params);

  void OnAnswer(uint64_t exchange_id, HttpResponse response) {
    // The exchange may be over: the connection closed, or the deadline answered first.
    if (closed_ || exchange_ == nullptr || exchange_->id != exchange_id) return;
    handler_timer_.cancel();
    exchange_.reset();
    Write(std::move(response), /*close=*/false);
  }

  void OnHandlerDeadline(uint64_t exchange_id) {
    if (closed_ || exchange_ == nullptr || exchange_->id != exchange_id) return;
    // When the handler claimed the exchange first, its answer is already on its way.
    if (!exchange_->Claim()) return;
    exchange_.reset();
    Write(MakeProblemResponse(Problem(ProblemCode::kDeadlineExceeded,
                                      "the answer was not ready before the request's deadline")),
          /*close=*/false);
  }

  // ---- Writing ----

  // Answers `problem` and closes: for failures after which the stream cannot be trusted (or the
  // unread body is too large to skip).
  void Fail(ProblemCode code, std::string detail) {
    Write(MakeProblemResponse(Problem(code, std::move(detail))), /*close=*/true);
  }

  void Write(HttpResponse response, bool close) {
    if (closed_) return;
    const uint32_t max = limits().requests_per_connection_max;
    const bool keep_alive =
        !close && client_keep_alive_ && !state_->stopped.load() && (max == 0 || requests_ < max);
    response.version(version_);
    response.set(http::field::server, state_->options.server_header);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    if (mode_ == Mode::kServe) {
      const std::chrono::duration<double> elapsed = SteadyClock::now() - request_start_;
      state_->RecordRequest(route_label_, method_label_, response.result_int(), elapsed.count());
    }
    response_ = std::move(response);
    ArmIoDeadline(SteadyClock::now() + limits().write_timeout);
    beast::http::async_write(stream_, *response_,
                             [self = shared_from_this(), keep_alive](ErrorCode ec, size_t) {
                               self->OnWrite(ec, keep_alive);
                             });
  }

  void OnWrite(ErrorCode ec, bool keep_alive) {
    if (closed_) return;
    DisarmIoDeadline();
    response_.reset();
    if (ec) {
      spdlog::debug("api: {}: write failed: {}", remote_, ec.message());
      return Close();
    }
    if (!keep_alive) return Linger();
    first_request_ = false;
    ReadStart();
  }

  // Half-closes and discards what the client still sends until it closes too, the linger timeout
  // passes or kLingerBytesMax bytes were skipped. Closing with unread input would make the kernel
  // send a reset, which can destroy the answer in flight to the client.
  //
  // Over TLS the half-close is a close_notify (so the client can tell the end of the stream from a
  // truncation), and the wait is for the client's close_notify or its close, within the same
  // timeout.
  void Linger() {
    ArmIoDeadline(SteadyClock::now() + limits().linger_timeout);
    if constexpr (kIsTls<Stream>) {
      stream_.async_shutdown([self = shared_from_this()](ErrorCode) { self->Close(); });
    } else {
      ErrorCode ignored;
      socket().shutdown(tcp::socket::shutdown_send, ignored);
      lingered_bytes_ = 0;
      LingerRead();
    }
  }

  void LingerRead() {
    stream_.async_read_some(asio::buffer(linger_buf_),
                            [self = shared_from_this()](ErrorCode ec, size_t n) {
                              if (self->closed_) return;
                              self->lingered_bytes_ += n;
                              if (ec || self->lingered_bytes_ > kLingerBytesMax) {
                                return self->Close();
                              }
                              self->LingerRead();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    ++io_timer_gen_;
    io_timer_.cancel();
    handler_timer_.cancel();
    exchange_.reset();  // a late answer finds no exchange and is dropped
    ErrorCode ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  Stream stream_;
  // The connection's strand; a copy, so Deliver and PostClose read no socket state off-strand.
  const asio::any_io_executor executor_;
  const std::shared_ptr<ServerState> state_;
  const Mode mode_;
  uint64_t id_ = 0;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<http::string_body>> parser_;
  std::optional<Router::Match> match_;
  std::vector<Param> query_;
  std::optional<HttpResponse> response_;
  std::shared_ptr<Exchange> exchange_;  // the request waiting for its handler's answer

  asio::steady_timer io_timer_;
  uint64_t io_timer_gen_ = 0;
  bool io_timed_out_ = false;
  asio::steady_timer handler_timer_;

  // From accepting (plain) or from the end of the TLS handshake: the first request's deadline.
  SteadyClock::time_point accepted_at_;
  SteadyClock::time_point request_start_;
  SteadyClock::time_point request_deadline_;
  bool closed_ = false;
  bool first_request_ = true;
  uint32_t requests_ = 0;
  size_t body_limit_ = 0;
  unsigned version_ = 11;
  bool client_keep_alive_ = false;
  std::string route_label_{kUnmatchedRoute};
  std::string method_label_ = "OTHER";
  size_t lingered_bytes_ = 0;
  std::array<char, 4096> linger_buf_;
};

namespace websocket = beast::websocket;

// What a WebSocket runs over: a plain socket becomes a beast::tcp_stream, a TLS stream stays
// itself (the WebSocket's own timer enforces its timeouts either way).
template <class Stream>
struct WebSocketLayer {
  using type = beast::tcp_stream;
};
template <>
struct WebSocketLayer<TlsStream> {
  using type = TlsStream;
};

// One accepted WebSocket over `Stream` (the stream its HTTP session read the upgrade request
// from). Every member function runs on the connection's strand, except Post, closed and PostClose
// (any thread), the constructor and the destructor.
//
// Writes go out one at a time from queue_ (bounded by limits.websocket_queue_max). Closing is
// graceful when possible (a close frame after the write in flight, if any), bounded by
// close_timer_: past limits.write_timeout the socket is closed outright.
template <class Stream>
class WsSession final : public Connection,
                        public WebSocketChannel,
                        public std::enable_shared_from_this<WsSession<Stream>> {
  using Shared = std::enable_shared_from_this<WsSession<Stream>>;
  using Shared::shared_from_this;
  using Shared::weak_from_this;

 public:
  WsSession(Stream stream, std::shared_ptr<ServerState> state,
            std::shared_ptr<const Request> request, WebSocketOpen open, std::string remote)
      : executor_(stream.get_executor()),
        ws_(std::move(stream)),
        state_(std::move(state)),
        request_(std::move(request)),
        open_(std::move(open)),
        remote_(std::move(remote)),
        close_timer_(executor_) {
    state_->open.fetch_add(1, std::memory_order_relaxed);
    state_->connections_open.Add(1);
    state_->websockets_open.Add(1);
  }

  ~WsSession() override {
    {
      std::lock_guard lock(state_->mu);
      state_->sessions.erase(id_);
    }
    keep_.reset();
    state_->open.fetch_sub(1, std::memory_order_relaxed);
    state_->connections_open.Add(-1);
    state_->websockets.fetch_sub(1, std::memory_order_relaxed);
    state_->websockets_open.Add(-1);
  }

  // On the strand of the HTTP session that read the upgrade request (the same strand).
  void Start() {
    {
      std::lock_guard lock(state_->mu);
      id_ = state_->next_session_id++;
      state_->sessions.emplace(id_, weak_from_this());
    }
    if (state_->stopped.load()) return Close();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = limits().write_timeout;
    t.idle_timeout = limits().idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [server = state_->options.server_header](websocket::response_type& res) {
          res.set(http::field::server, server);
        }));
    ws_.read_message_max(kWebSocketReadBytesMax);
    ws_.async_accept(request_->message(),
                     [self = shared_from_this()](ErrorCode ec) { self->OnAccept(ec); });
  }

  void PostClose() override {
    asio::post(executor_, [self = shared_from_this()] {
      self->BeginClose(websocket::close_reason(websocket::close_code::going_away,
                                               "the server is shutting down"));
    });
  }

  bool Post(std::function<void()> fn) override {
    if (closed_flag_.load()) return false;
    const size_t pending = pending_posts_.fetch_add(1) + 1;
    if (pending > limits().websocket_queue_max) {
      pending_posts_.fetch_sub(1);
      asio::post(executor_, [self = shared_from_this()] { self->TooSlow(); });
      return false;
    }
    asio::post(executor_, [self = shared_from_this(), fn = std::move(fn)] {
      self->pending_posts_.fetch_sub(1);
      if (self->closing_) return;
      fn();
    });
    return true;
  }

  bool SendText(std::string text) override {
    if (closing_ || !accepted_) return false;
    if (queue_.size() >= limits().websocket_queue_max) {
      TooSlow();
      return false;
    }
    queue_.push_back(std::move(text));
    if (!writing_) WriteNext();
    return true;
  }

  bool closed() const override { return closed_flag_.load(); }

 private:
  const ServerLimits& limits() const { return state_->options.limits; }

  void OnAccept(ErrorCode ec) {
    if (closing_) return;
    if (ec) {
      spdlog::debug("api: {}: WebSocket handshake failed: {}", remote_, ec.message());
      return Close();
    }
    accepted_ = true;
    if (state_->stopped.load()) {
      return BeginClose(websocket::close_reason(websocket::close_code::going_away,
                                                "the server is shutting down"));
    }
    WebSocketOpen open = std::move(open_);
    open_ = nullptr;
    keep_ = open(shared_from_this());
    Read();
  }

  // Reads and discards what the client sends; control frames are answered by Beast.
  void Read() {
    ws_.async_read(read_buf_, [self = shared_from_this()](ErrorCode ec, size_t) {
      if (self->closed_) return;
      if (ec) {
        // The client closed, went silent past the idle timeout, or sent too much. While our own
        // close is under way, its completion (or the close timer) ends the session.
        if (!self->closing_) self->Close();
        return;
      }
      self->read_buf_.consume(self->read_buf_.size());
      self->Read();
    });
  }

  void WriteNext() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = shared_from_this()](ErrorCode ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(ErrorCode ec) {
    writing_ = false;
    if (closed_) return;
    if (!queue_.empty()) queue_.pop_front();
    if (ec) {
      spdlog::debug("api: {}: WebSocket write failed: {}", remote_, ec.message());
      return Close();
    }
    if (closing_) return SendClose();
    if (!queue_.empty()) WriteNext();
  }

  void TooSlow() {
    if (closing_) return;
    state_->websockets_closed_slow.Inc();
    spdlog::info("api: {}: WebSocket subscriber too slow; closing it", remote_);
    BeginClose(websocket::close_reason(websocket::close_code::policy_error, "subscriber too slow"));
  }

  // Stops producing, drops what is queued (except the write in flight) and sends a close frame
  // with `reason` once nothing else is being written.
  void BeginClose(websocket::close_reason reason) {
    if (closing_) return;
    closing_ = true;
    closed_flag_.store(true);
    keep_.reset();
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
    } else {
      queue_.clear();
    }
    close_reason_ = std::move(reason);
    close_timer_.expires_after(limits().write_timeout);
    close_timer_.async_wait([self = shared_from_this()](ErrorCode ec) {
      if (!ec) self->Close();
    });
    if (!accepted_) return Close();  // the handshake is still running: nothing to say yet
    if (!writing_) SendClose();
  }

  void SendClose() {
    ws_.async_close(close_reason_, [self = shared_from_this()](ErrorCode) { self->Close(); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    closed_flag_.store(true);
    keep_.reset();
    queue_.clear();
    close_timer_.cancel();
    ErrorCode ignored;
    tcp::socket& socket = LowestSocket(ws_);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  const asio::any_io_executor executor_;  // the connection's strand
  websocket::stream<typename WebSocketLayer<Stream>::type> ws_;
  const std::shared_ptr<ServerState> state_;
  const std::shared_ptr<const Request> request_;
  WebSocketOpen open_;
  std::shared_ptr<void> keep_;  // what the route keeps alive while the socket is open
  const std::string remote_;
  uint64_t id_ = 0;
  beast::flat_buffer read_buf_;
  std::deque<std::string> queue_;
  asio::steady_timer close_timer_;
  websocket::close_reason close_reason_;
  std::atomic<size_t> pending_posts_{0};
  std::atomic<bool> closed_flag_{false};
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

template <class Stream>
void Session<Stream>::Upgrade(const WebSocketHandler& handler, const Router::Route& route,
                              HttpRequest message, std::vector<Param> params) {
  auto request = std::make_shared<const Request>(std::move(message), route.pattern,
                                                 std::move(params), std::move(query_), remote_);
  query_.clear();
  ProblemOr<WebSocketOpen> open = handler(*request);
  if (!open.ok()) return Write(MakeProblemResponse(open.problem()), /*close=*/false);
  if (!state_->ReserveWebSocket()) {
    return Write(
        MakeProblemResponse(Problem(
            ProblemCode::kTooManySubscribers,
            "the server is serving its maximum number of WebSocket subscribers (" +
                std::to_string(std::min(limits().websockets_max, limits().connections_max)) +
                "); retry later")),
        /*close=*/false);
  }
  const std::chrono::duration<double> elapsed = SteadyClock::now() - request_start_;
  state_->RecordRequest(route_label_, method_label_, 101, elapsed.count());
  auto ws = std::make_shared<WsSession<Stream>>(std::move(stream_), state_, std::move(request),
                                                std::move(open).value(), remote_);
  // This session is over; the stream is the WebSocket's now.
  closed_ = true;
  ++io_timer_gen_;
  io_timer_.cancel();
  handler_timer_.cancel();
  ws->Start();
}

// Accepts connections on its own strand and hands each to a Session.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, std::shared_ptr<ServerState> state)
      : ioc_(ioc),
        state_(std::move(state)),
        executor_(asio::make_strand(ioc)),
        acceptor_(executor_),
        retry_timer_(executor_) {}

  Status Open(const tcp::endpoint& endpoint) {
    const std::string where = Describe(endpoint);
    ErrorCode ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return IoError(where + ": open: " + ec.message());
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return IoError(where + ": SO_REUSEADDR: " + ec.message());
    acceptor_.bind(endpoint, ec);
    if (ec) return IoError(where + ": bind: " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return IoError(where + ": listen: " + ec.message());
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    if (ec) return IoError(where + ": local_endpoint: " + ec.message());
    port_.store(bound.port());
    spdlog::info("api: listening on {}{}", Describe(bound),
                 state_->tls_enabled ? " (TLS: HTTPS and WSS only)" : "");
    return Status::Ok();
  }

  void Run() {
    asio::post(executor_, [self = shared_from_this()] { self->Accept(); });
  }

  void PostClose() {
    asio::post(executor_, [self = shared_from_this()] {
      ErrorCode ignored;
      self->acceptor_.close(ignored);
      self->retry_timer_.cancel();
    });
  }

  uint16_t port() const { return port_.load(); }

 private:
  void Accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [self = shared_from_this()](ErrorCode ec, tcp::socket socket) {
                             self->OnAccept(ec, std::move(socket));
                           });
  }

  void OnAccept(ErrorCode ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Typically EMFILE/ENFILE: back off instead of spinning on a failing accept.
      spdlog::warn("api: accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([self = shared_from_this()](ErrorCode wait_ec) {
        if (!wait_ec) self->Accept();
      });
      return;
    }
    if (state_->stopped.load()) {
      ErrorCode ignored;
      socket.close(ignored);
      return;
    }
    state_->connections_accepted.Inc();
    // Only this strand adds sessions, so the count cannot pass the limit between check and add.
    if (state_->open.load() >= state_->options.limits.connections_max) {
      state_->connections_rejected.Inc();
      if (state_->rejecting.load() >= kRejectingConnectionsMax) {
        ErrorCode ignored;
        socket.close(ignored);
      } else {
        Serve(std::move(socket), SessionMode::kReject);
      }
    } else {
      Serve(std::move(socket), SessionMode::kServe);
    }
    Accept();
  }

  void Serve(tcp::socket socket, SessionMode mode) {
    if (!state_->tls_enabled) {
      std::make_shared<Session<PlainStream>>(std::move(socket), state_, mode)->Start();
      return;
    }
    const std::shared_ptr<asio::ssl::context> tls = state_->TlsContext();
    std::optional<TlsStream> stream;
    try {
      stream.emplace(std::move(socket), *tls);
    } catch (const boost::system::system_error& e) {
      // asio reports a failed SSL_new (out of memory) by exception; this is where it arises. The
      // socket, moved into the half-built stream, is closed with it.
      spdlog::warn("api: cannot start a TLS connection: {}", e.what());
      return;
    }
    std::make_shared<Session<TlsStream>>(std::move(*stream), state_, mode)->Start();
  }

  asio::io_context& ioc_;
  const std::shared_ptr<ServerState> state_;
  const asio::any_io_executor executor_;  // the listener's strand
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace internal

HttpServer::HttpServer(asio::io_context& ioc, ServerOptions options, Router router,
                       std::shared_ptr<MetricsRegistry> metrics)
    : ioc_(ioc) {
  HC_ASSERT(metrics != nullptr);
  const std::shared_ptr<SSL_CTX> tls_context = std::exchange(options.tls_context, nullptr);
  state_ = std::make_shared<internal::ServerState>(std::move(options), tls_context,
                                                   std::move(router), std::move(metrics));
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  HC_ASSERT_MSG(listener_ == nullptr, "HttpServer::Start called twice");
  HC_RETURN_IF_ERROR(state_->options.limits.Validate());
  if (state_->options.server_header.find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("server_header must not contain CR or LF");
  }
  ErrorCode ec;
  const asio::ip::address address = asio::ip::make_address(state_->options.host, ec);
  if (ec) {
    return InvalidArgument("listen host '" + state_->options.host +
                           "' is not an IP address: " + ec.message());
  }
  auto listener = std::make_shared<internal::Listener>(ioc_, state_);
  HC_RETURN_IF_ERROR(listener->Open(tcp::endpoint(address, state_->options.port)));
  listener_ = std::move(listener);
  listener_->Run();
  return Status::Ok();
}

void HttpServer::Stop() {
  if (state_->stopped.exchange(true)) return;
  if (listener_ != nullptr) listener_->PostClose();
  std::vector<std::shared_ptr<internal::Connection>> sessions;
  {
    std::lock_guard lock(state_->mu);
    for (const auto& [id, weak] : state_->sessions) {
      if (auto s = weak.lock()) sessions.push_back(std::move(s));
    }
  }
  // Outside the lock: dropping the last reference runs ~Session, which takes the lock.
  for (const auto& s : sessions) s->PostClose();
}

Status HttpServer::SetTlsContext(std::shared_ptr<SSL_CTX> tls_context) {
  if (tls_context == nullptr) {
    return InvalidArgument("a TLS server needs a TLS context (it never falls back to plaintext)");
  }
  if (!state_->tls_enabled) {
    return FailedPrecondition(
        "the API server speaks plain HTTP; whether it speaks TLS is fixed when it is made");
  }
  std::shared_ptr<asio::ssl::context> replaced =
      internal::ServerState::MakeAsioContext(tls_context);
  {
    std::lock_guard lock(state_->tls_mu);
    state_->tls.swap(replaced);
  }
  // `replaced` (the previous context) is released here, outside the lock; connections that
  // started with it keep their own references to its SSL_CTX.
  return Status::Ok();
}

uint16_t HttpServer::port() const { return listener_ == nullptr ? 0 : listener_->port(); }

std::vector<RouteInfo> HttpServer::Routes() const { return state_->router.Routes(); }

size_t HttpServer::open_connections() const { return state_->open.load(); }

void AddWebSocketRoute(Router& router, std::string_view pattern, WebSocketHandler handler) {
  HC_ASSERT(handler != nullptr);
  router.Get(pattern, internal::WebSocketRoute{
                          std::make_shared<const WebSocketHandler>(std::move(handler))});
}

void AddMetricsRoute(Router& router, std::shared_ptr<const MetricsRegistry> metrics,
                     std::string_view pattern) {
  HC_ASSERT(metrics != nullptr);
  router.Get(pattern, [metrics = std::move(metrics)](const Request&, Responder responder) {
    responder.SendText(http::status::ok, kPrometheusContentType, metrics->RenderPrometheus());
  });
}

}  // namespace hc::api

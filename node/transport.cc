#include "node/transport.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/assert.h"
#include "common/encoding.h"

namespace hc::node {

std::array<uint8_t, kFrameHeaderBytes> EncodeFrameLength(uint32_t length) {
  return {static_cast<uint8_t>(length >> 24), static_cast<uint8_t>(length >> 16),
          static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
}

uint32_t DecodeFrameLength(const std::array<uint8_t, kFrameHeaderBytes>& h) {
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | uint32_t{h[3]};
}

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
using ErrorCode = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct HostPort {
  std::string host;
  std::string port;
  uint16_t port_number = 0;
};

// "host:port" or "[ipv6]:port".
Result<HostPort> ParseHostPort(std::string_view address, bool allow_port_zero) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("\"" + std::string(address) + "\": " + why);
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("expected host:port");
  std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return bad("unbalanced brackets");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address must be in brackets ([::1]:7000)");
  }
  if (host.empty()) return bad("empty host");
  uint16_t number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    return bad("port must be a number from 0 to 65535");
  }
  if (number == 0 && !allow_port_zero) return bad("port 0");
  return HostPort{std::string(host), std::string(port), number};
}

std::string ShortPin(const crypto::TlsPin& pin) { return HexEncode(pin).substr(0, 16); }

// Refusals are caused by remote parties; writing a line for each would let anyone fill the disk.
// Each kind of message gets a burst of lines, then one per second, and the next line written says
// how many were suppressed. Used on the IO strand only.
class LogLimiter {
 public:
  static constexpr double kBurst = 10;
  static constexpr double kPerSecond = 1;

  // True when a line may be written; `*suppressed` is then the number skipped since the last one.
  bool Allow(uint64_t* suppressed) {
    const Clock::time_point now = Clock::now();
    const double elapsed_s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(kBurst, tokens_ + elapsed_s * kPerSecond);
    if (tokens_ < 1) {
      ++suppressed_;
      return false;
    }
    tokens_ -= 1;
    *suppressed = std::exchange(suppressed_, 0);
    return true;
  }

 private:
  double tokens_ = kBurst;
  Clock::time_point last_ = Clock::now();
  uint64_t suppressed_ = 0;
};

std::string Suppressed(uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar messages suppressed)";
}

std::string EndpointString(const tcp::endpoint& e) {
  const std::string addr = e.address().to_string();
  return (e.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(e.port());
}

bool IsPeerClose(const ErrorCode& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated ||
         ec == asio::error::connection_reset;
}

// A queued frame: the payload is shared between the peers it was broadcast to; the header lives
// here so that the write's buffer sequence can point at it.
struct Outgoing {
  std::shared_ptr<const Bytes> payload;
  std::array<uint8_t, kFrameHeaderBytes> header{};
  bool essential = false;
  std::chrono::steady_clock::time_point queued_at;
};

struct Peer;

// One TCP+TLS connection, inbound or outbound. Owned by the completion handlers of the operations
// pending on it (each captures a shared_ptr); the transport keeps only weak references, so a
// connection is freed once it is closed and its last handler has run, and no reference cycle can
// outlive the io_context. Every field is touched on the strand only.
struct Connection {
  Connection(const Strand& strand, ssl::context& ctx, uint64_t serial_number, bool is_outbound,
             Peer* dialed_peer, tcp::socket socket)
      : stream(std::move(socket), ctx),
        handshake_timer(strand),
        serial(serial_number),
        outbound(is_outbound),
        peer(dialed_peer) {}

  ssl::stream<tcp::socket> stream;
  asio::steady_timer handshake_timer;
  std::optional<tcp::resolver> resolver;  // outbound connections to a host name
  const uint64_t serial;
  const bool outbound;
  Peer* peer;  // the peer dialed (outbound), or the one its pin named (inbound, once authenticated)
  std::string remote = "?";
  bool authenticated = false;
  bool closed = false;
  bool counted_pending = false;  // counts against pending_handshakes_max
  bool received_any = false;
  int64_t backoff_at_dial_ms = 0;

  std::array<uint8_t, kFrameHeaderBytes> read_header{};
  Bytes read_body;
  // The frames of the write in progress and the buffer sequence pointing into them. Left alone
  // until that write's handler runs, even when the connection is closed meanwhile.
  std::vector<Outgoing> in_flight;
  std::vector<asio::const_buffer> buffers;
};

struct Peer {
  Peer(const PeerEndpoint& endpoint, HostPort host_port, const Strand& strand, int64_t backoff)
      : id(endpoint.id),
        address(endpoint.address),
        host(std::move(host_port.host)),
        port(std::move(host_port.port)),
        port_number(host_port.port_number),
        pin(endpoint.pin),
        receives_broadcast(endpoint.receives_broadcast),
        backoff_ms(backoff),
        reconnect_timer(strand) {}

  const uint32_t id;
  const std::string address;
  const std::string host;
  const std::string port;
  const uint16_t port_number;
  const crypto::TlsPin pin;
  const bool receives_broadcast;

  // The send queue, shared between Send (any thread) and the writer (strand).
  std::mutex mu;
  std::deque<Outgoing> queue;           // guarded by mu
  size_t queue_bytes = 0;               // guarded by mu
  size_t queue_nonessential = 0;        // guarded by mu
  size_t queue_nonessential_bytes = 0;  // guarded by mu
  bool kick_posted = false;             // guarded by mu: a Kick is on its way to the strand
  bool writing = false;                 // guarded by mu: a write is in progress

  // Strand only.
  std::weak_ptr<Connection> outbound;  // authenticated outbound connection
  std::weak_ptr<Connection> inbound;   // authenticated inbound connection
  Connection* writer = nullptr;        // the connection whose write is in progress
  bool dialing = false;                // an outbound connection exists (pending or authenticated)
  bool up = false;
  int64_t backoff_ms;
  uint64_t failed_dials = 0;  // since the last successful handshake
  asio::steady_timer reconnect_timer;

  // For PeerStatuses (any thread).
  std::atomic<bool> status_up{false};
  std::atomic<bool> status_outbound_up{false};
  std::atomic<bool> status_inbound_up{false};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> dropped_queue_full{0};
};

bool IsOpen(const std::shared_ptr<Connection>& c) { return c != nullptr && !c->closed; }

}  // namespace

// ---- Configuration ----

Status ValidateTransportConfig(const TransportConfig& c) {
  if (c.tls_cert_path.empty()) return InvalidArgument("tls_cert_path: empty");
  if (c.tls_key_path.empty()) return InvalidArgument("tls_key_path: empty");
  if (!c.listen_address.empty()) {
    auto hp = ParseHostPort(c.listen_address, /*allow_port_zero=*/true);
    if (!hp.ok()) return hp.status().WithContext("listen_address");
  }
  if (c.frame_bytes_max == 0 || c.frame_bytes_max > kFrameBytesMaxLimit) {
    return InvalidArgument("frame_bytes_max: must be 1.." + std::to_string(kFrameBytesMaxLimit));
  }
  if (c.queue_frames_max == 0) return InvalidArgument("queue_frames_max: must be at least 1");
  if (c.queue_bytes_max < c.frame_bytes_max) {
    return InvalidArgument("queue_bytes_max: must be at least frame_bytes_max (" +
                           std::to_string(c.frame_bytes_max) + ")");
  }
  if (c.reconnect_initial_ms <= 0 || c.reconnect_initial_ms > c.reconnect_max_ms) {
    return InvalidArgument("reconnect_initial_ms: must be positive and at most reconnect_max_ms");
  }
  if (c.reconnect_max_ms > int64_t{24} * 3600 * 1000) {
    return InvalidArgument("reconnect_max_ms: at most a day");
  }
  if (c.handshake_timeout_ms <= 0) return InvalidArgument("handshake_timeout_ms: must be positive");
  if (c.nonessential_ttl_ms <= 0) return InvalidArgument("nonessential_ttl_ms: must be positive");
  if (c.pending_handshakes_max == 0) {
    return InvalidArgument("pending_handshakes_max: must be at least 1");
  }
  if (c.peers.size() > kMaxPeers) {
    return InvalidArgument("peers: more than " + std::to_string(kMaxPeers));
  }
  std::set<uint32_t> ids;
  std::set<crypto::TlsPin> pins;
  for (const PeerEndpoint& p : c.peers) {
    const std::string where = "peers[id " + std::to_string(p.id) + "]";
    if (!ids.insert(p.id).second) return InvalidArgument(where + ": duplicate id");
    if (p.pin == crypto::TlsPin{}) return InvalidArgument(where + ": pin is all zeros");
    if (!pins.insert(p.pin).second) {
      return InvalidArgument(where + ": pin " + ShortPin(p.pin) + "… is another peer's");
    }
    if (p.id != c.self_id && !p.address.empty()) {
      auto hp = ParseHostPort(p.address, /*allow_port_zero=*/false);
      if (!hp.ok()) return hp.status().WithContext(where + ".address");
    }
  }
  return Status::Ok();
}

// ---- The implementation ----

class PeerTransport::Impl : public std::enable_shared_from_this<PeerTransport::Impl> {
 public:
  Impl(asio::io_context& io, TransportConfig config, TransportCallbacks callbacks,
       crypto::TlsIdentity identity, crypto::SslCtxPtr ctx)
      : io_(io),
        strand_(asio::make_strand(io)),
        config_(std::move(config)),
        callbacks_(std::move(callbacks)),
        identity_(std::move(identity)),
        ssl_ctx_(ctx.release()),
        acceptor_(strand_),
        accept_retry_timer_(strand_),
        rng_(static_cast<uint64_t>(Clock::now().time_since_epoch().count()) ^
             (uint64_t{config_.self_id} << 32)) {
    for (const PeerEndpoint& e : config_.peers) {
      if (e.id == config_.self_id) continue;
      HostPort hp;
      if (!e.address.empty()) hp = ParseHostPort(e.address, false).value();  // validated
      peers_.push_back(
          std::make_unique<Peer>(e, std::move(hp), strand_, config_.reconnect_initial_ms));
      by_id_[e.id] = peers_.back().get();
      by_pin_[e.pin] = peers_.back().get();
    }
  }

  Status Start();
  void Stop();
  bool Send(uint32_t peer, std::shared_ptr<const Bytes> frame, bool essential);
  size_t Broadcast(const std::shared_ptr<const Bytes>& frame, bool essential);
  void Disconnect(uint32_t peer, std::string reason);
  std::vector<PeerStatus> PeerStatuses() const;

  uint16_t listen_port() const { return listen_port_.load(); }
  const crypto::TlsPin& pin() const { return identity_.pin(); }
  const TransportStats& stats() const { return stats_; }

 private:
  // All private members below run on the strand.
  void Begin();
  void DoStop();
  void DoAccept();
  void OnAccept(const ErrorCode& ec, tcp::socket socket);
  void Dial(Peer& p);
  void OnConnected(const std::shared_ptr<Connection>& conn, const ErrorCode& ec);
  void ArmHandshakeTimer(const std::shared_ptr<Connection>& conn);
  void StartHandshake(const std::shared_ptr<Connection>& conn, ssl::stream_base::handshake_type t);
  void OnHandshake(const std::shared_ptr<Connection>& conn, const ErrorCode& ec);
  void Authenticated(const std::shared_ptr<Connection>& conn);
  void ReadHeader(const std::shared_ptr<Connection>& conn);
  void OnHeader(const std::shared_ptr<Connection>& conn, const ErrorCode& ec);
  void OnBody(const std::shared_ptr<Connection>& conn, const ErrorCode& ec);
  void Kick(Peer& p);
  void MaybeStartWrite(Peer& p);
  void OnWrite(const std::shared_ptr<Connection>& conn, const ErrorCode& ec);
  void Close(const std::shared_ptr<Connection>& conn, const std::string& reason);
  void ScheduleReconnect(Peer& p);
  void UpdatePeerUp(Peer& p);
  std::shared_ptr<Connection> NewConnection(bool outbound, Peer* peer, tcp::socket socket);
  std::shared_ptr<Connection> WritableConnection(Peer& p);
  void CloseWithWarning(const std::shared_ptr<Connection>& conn, const std::string& reason);

  void InvokeOnFrame(uint32_t peer, Bytes payload);
  void InvokeOnPeerState(uint32_t peer, bool up);

  asio::io_context& io_;
  Strand strand_;
  const TransportConfig config_;
  const TransportCallbacks callbacks_;
  const crypto::TlsIdentity identity_;
  ssl::context ssl_ctx_;
  TransportStats stats_;

  // Fixed after construction; read from any thread.
  std::vector<std::unique_ptr<Peer>> peers_;
  std::unordered_map<uint32_t, Peer*> by_id_;
  std::map<crypto::TlsPin, Peer*> by_pin_;

  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint16_t> listen_port_{0};

  // Held while a callback runs, so that Stop can wait for one in progress.
  std::mutex callback_mu_;
  std::atomic<bool> callbacks_enabled_{true};

  // Strand only.
  bool shut_down_ = false;
  bool listening_ = false;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> live_;  // every open connection
  uint64_t next_serial_ = 1;
  size_t pending_inbound_ = 0;
  std::mt19937_64 rng_;
  LogLimiter refusal_log_;
  LogLimiter accept_log_;
};

Status PeerTransport::Impl::Start() {
  if (stopped_.load()) return FailedPrecondition("transport is stopped");
  if (started_.exchange(true)) return FailedPrecondition("transport already started");
  if (!config_.listen_address.empty()) {
    const HostPort hp = ParseHostPort(config_.listen_address, true).value();  // validated
    const std::string& where = config_.listen_address;
    ErrorCode ec;
    tcp::endpoint endpoint;
    const asio::ip::address address = asio::ip::make_address(hp.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, hp.port_number);
    } else {
      tcp::resolver resolver(io_);
      const auto results = resolver.resolve(hp.host, hp.port, ec);
      if (ec || results.empty()) {
        return InvalidArgument("listen address " + where + ": cannot resolve " + hp.host + ": " +
                               (ec ? ec.message() : "no address"));
      }
      endpoint = results.begin()->endpoint();
    }
    // The acceptor is not used by any handler yet: nothing has been posted to the strand.
    if (acceptor_.open(endpoint.protocol(), ec); ec) {
      return IoError("cannot listen on " + where + ": socket: " + ec.message());
    }
    // Lets a restarted node bind again while connections of its previous run are in TIME_WAIT.
    if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
      return IoError("cannot listen on " + where + ": SO_REUSEADDR: " + ec.message());
    }
    if (acceptor_.bind(endpoint, ec); ec) {
      acceptor_.close(ec);
      return IoError("cannot listen on " + where + ": " + ec.message());
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      acceptor_.close(ec);
      return IoError("cannot listen on " + where + ": listen: " + ec.message());
    }
    const tcp::endpoint local = acceptor_.local_endpoint(ec);
    if (ec) return IoError("cannot listen on " + where + ": getsockname: " + ec.message());
    listen_port_.store(local.port());
    listening_ = true;
    spdlog::info("transport[{}]: listening on {} (pin {}…)", config_.self_id, EndpointString(local),
                 ShortPin(identity_.pin()));
  }
  asio::post(strand_, [self = shared_from_this()] { self->Begin(); });
  return Status::Ok();
}

void PeerTransport::Impl::Begin() {
  if (shut_down_) return;
  if (listening_) DoAccept();
  for (auto& p : peers_) Dial(*p);
}

// ---- Stop ----

void PeerTransport::Impl::Stop() {
  stopped_.store(true);
  if (strand_.running_in_this_thread()) {
    // Called on the IO strand (possibly from a callback, which holds callback_mu_): no other
    // callback can be running.
    callbacks_enabled_.store(false);
  } else {
    const std::lock_guard<std::mutex> lock(callback_mu_);
    callbacks_enabled_.store(false);
  }
  // Posted, never run inline: Stop may be called from a callback, which holds callback_mu_, and
  // closing connections invokes on_peer_state.
  asio::post(strand_, [self = shared_from_this()] { self->DoStop(); });
}

void PeerTransport::Impl::DoStop() {
  if (shut_down_) return;
  shut_down_ = true;
  ErrorCode ignored;
  acceptor_.close(ignored);
  accept_retry_timer_.cancel();
  for (auto& p : peers_) p->reconnect_timer.cancel();
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [serial, weak] : live_) {
    if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) Close(c, "transport stopped");
  for (auto& p : peers_) {
    const std::lock_guard<std::mutex> lock(p->mu);
    p->queue.clear();
    p->queue_bytes = 0;
    p->queue_nonessential = 0;
    p->queue_nonessential_bytes = 0;
  }
  spdlog::info("transport[{}]: stopped", config_.self_id);
}

// ---- Accepting ----

void PeerTransport::Impl::DoAccept() {
  acceptor_.async_accept(strand_, [self = shared_from_this()](const ErrorCode& ec, auto socket) {
    self->OnAccept(ec, tcp::socket(std::move(socket)));
  });
}

void PeerTransport::Impl::OnAccept(const ErrorCode& ec, tcp::socket socket) {
  if (shut_down_) return;
  if (ec) {
    stats_.accept_errors.fetch_add(1);
    if (ec == asio::error::operation_aborted) return;
    uint64_t suppressed = 0;
    if (accept_log_.Allow(&suppressed)) {
      spdlog::warn("transport[{}]: accept failed: {}{}", config_.self_id, ec.message(),
                   Suppressed(suppressed));
    }
    if (ec == asio::error::connection_aborted || ec == asio::error::connection_reset) {
      DoAccept();  // about that one connection only
    } else {
      // Out of descriptors or buffers: accepting again at once would spin.
      accept_retry_timer_.expires_after(milliseconds(kAcceptRetryDelayMs));
      accept_retry_timer_.async_wait([self = shared_from_this()](const ErrorCode& wait_ec) {
        if (!wait_ec && !self->shut_down_) self->DoAccept();
      });
    }
    return;
  }
  if (pending_inbound_ >= config_.pending_handshakes_max) {
    stats_.refused_pending_limit.fetch_add(1);
    uint64_t suppressed = 0;
    if (refusal_log_.Allow(&suppressed)) {
      ErrorCode ignored;
      spdlog::warn("transport[{}]: refused a connection from {}: {} handshakes pending{}",
                   config_.self_id, EndpointString(socket.remote_endpoint(ignored)),
                   pending_inbound_, Suppressed(suppressed));
    }
    ErrorCode ignored;
    socket.close(ignored);
    DoAccept();
    return;
  }
  auto conn = NewConnection(/*outbound=*/false, nullptr, std::move(socket));
  conn->counted_pending = true;
  ++pending_inbound_;
  ErrorCode ignored;
  conn->remote = EndpointString(conn->stream.lowest_layer().remote_endpoint(ignored));
  conn->stream.lowest_layer().set_option(tcp::no_delay(true), ignored);
  ArmHandshakeTimer(conn);
  StartHandshake(conn, ssl::stream_base::server);
  DoAccept();
}

// ---- Dialing ----

void PeerTransport::Impl::Dial(Peer& p) {
  if (shut_down_ || p.dialing || p.address.empty()) return;
  p.dialing = true;
  stats_.dial_attempts.fetch_add(1);
  auto conn = NewConnection(/*outbound=*/true, &p, tcp::socket(strand_));
  conn->backoff_at_dial_ms = p.backoff_ms;
  conn->remote = p.address;
  // The handshake timeout covers resolving and connecting too.
  ArmHandshakeTimer(conn);

  ErrorCode ec;
  const asio::ip::address address = asio::ip::make_address(p.host, ec);
  if (!ec) {
    conn->stream.lowest_layer().async_connect(
        tcp::endpoint(address, p.port_number),
        [self = shared_from_this(), conn](const ErrorCode& connect_ec) {
          self->OnConnected(conn, connect_ec);
        });
    return;
  }
  conn->resolver.emplace(strand_);
  conn->resolver->async_resolve(
      p.host, p.port,
      [self = shared_from_this(), conn](const ErrorCode& resolve_ec,
                                        const tcp::resolver::results_type& results) {
        if (conn->closed) return;
        if (resolve_ec) {
          self->OnConnected(conn, resolve_ec);
          return;
        }
        asio::async_connect(conn->stream.lowest_layer(), results,
                            [self, conn](const ErrorCode& connect_ec, const tcp::endpoint&) {
                              self->OnConnected(conn, connect_ec);
                            });
      });
}

void PeerTransport::Impl::OnConnected(const std::shared_ptr<Connection>& conn,
                                      const ErrorCode& ec) {
  if (conn->closed) return;
  Peer& p = *conn->peer;
  if (ec) {
    stats_.dial_failures.fetch_add(1);
    ++p.failed_dials;
    // A peer that is down is dialed again and again; say so at 1, 2, 4, 8, ... failures.
    if ((p.failed_dials & (p.failed_dials - 1)) == 0) {
      spdlog::info(
          "transport[{}]: peer {} at {} unreachable: {} (attempt {}; retrying with backoff)",
          config_.self_id, p.id, p.address, ec.message(), p.failed_dials);
    }
    Close(conn, "connect failed: " + ec.message());
    return;
  }
  ErrorCode ignored;
  conn->remote = EndpointString(conn->stream.lowest_layer().remote_endpoint(ignored));
  conn->stream.lowest_layer().set_option(tcp::no_delay(true), ignored);
  StartHandshake(conn, ssl::stream_base::client);
}

// ---- Handshake and authentication ----

void PeerTransport::Impl::ArmHandshakeTimer(const std::shared_ptr<Connection>& conn) {
  conn->handshake_timer.expires_after(milliseconds(config_.handshake_timeout_ms));
  conn->handshake_timer.async_wait([self = shared_from_this(), conn](const ErrorCode& ec) {
    if (ec || conn->closed || conn->authenticated) return;
    self->stats_.handshake_timeout.fetch_add(1);
    self->CloseWithWarning(conn, "handshake timed out");
  });
}

void PeerTransport::Impl::StartHandshake(const std::shared_ptr<Connection>& conn,
                                         ssl::stream_base::handshake_type type) {
  conn->stream.async_handshake(type, [self = shared_from_this(), conn](const ErrorCode& ec) {
    self->OnHandshake(conn, ec);
  });
}

void PeerTransport::Impl::OnHandshake(const std::shared_ptr<Connection>& conn,
                                      const ErrorCode& ec) {
  if (conn->closed) return;
  conn->handshake_timer.cancel();
  if (ec) {
    stats_.handshake_failed.fetch_add(1);
    CloseWithWarning(conn, "TLS handshake failed: " + ec.message());
    return;
  }
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT (server) and TLS 1.3 without PSK (client) guarantee a
  // certificate; a missing one is refused all the same rather than asserted on.
  const X509* cert = SSL_get0_peer_certificate(conn->stream.native_handle());
  if (cert == nullptr) {
    stats_.handshake_failed.fetch_add(1);
    CloseWithWarning(conn, "no peer certificate");
    return;
  }
  const Result<crypto::TlsPin> pin = crypto::TlsPinOfCertificate(cert);
  if (!pin.ok()) {
    stats_.handshake_failed.fetch_add(1);
    CloseWithWarning(conn, "cannot read the peer certificate's key: " + pin.status().ToString());
    return;
  }
  if (conn->outbound) {
    if (*pin != conn->peer->pin) {
      stats_.refused_wrong_peer_cert.fetch_add(1);
      CloseWithWarning(conn, "peer " + std::to_string(conn->peer->id) +
                                 " presented certificate pin " + ShortPin(*pin) + "…, expected " +
                                 ShortPin(conn->peer->pin) + "…");
      return;
    }
  } else {
    const auto it = by_pin_.find(*pin);
    if (it == by_pin_.end()) {
      stats_.refused_unknown_peer_cert.fetch_add(1);
      CloseWithWarning(conn, "unknown certificate pin " + ShortPin(*pin) + "…");
      return;
    }
    conn->peer = it->second;
  }
  Authenticated(conn);
}

void PeerTransport::Impl::Authenticated(const std::shared_ptr<Connection>& conn) {
  Peer& p = *conn->peer;
  conn->authenticated = true;
  if (conn->counted_pending) {
    conn->counted_pending = false;
    --pending_inbound_;
  }
  if (conn->outbound) {
    p.outbound = conn;
    p.backoff_ms = config_.reconnect_initial_ms;
    p.failed_dials = 0;
    p.status_outbound_up.store(true);
    stats_.connects_outbound.fetch_add(1);
  } else {
    // A peer that restarted dials in again while its previous connection may not have been
    // noticed as dead yet (no heartbeat): the new connection supersedes it. It is installed before
    // the old one is closed so that the peer is never seen as down in between.
    std::shared_ptr<Connection> previous = p.inbound.lock();
    p.inbound = conn;
    p.status_inbound_up.store(true);
    stats_.connects_inbound.fetch_add(1);
    if (previous) Close(previous, "superseded by a new inbound connection from the same peer");
  }
  spdlog::info("transport[{}]: peer {} connected ({} {})", config_.self_id, p.id,
               conn->outbound ? "outbound to" : "inbound from", conn->remote);
  UpdatePeerUp(p);
  ReadHeader(conn);
  MaybeStartWrite(p);
}

void PeerTransport::Impl::CloseWithWarning(const std::shared_ptr<Connection>& conn,
                                           const std::string& reason) {
  uint64_t suppressed = 0;
  if (refusal_log_.Allow(&suppressed)) {
    spdlog::warn("transport[{}]: closing {} connection {} {}: {}{}", config_.self_id,
                 conn->outbound ? "outbound" : "inbound", conn->outbound ? "to" : "from",
                 conn->remote, reason, Suppressed(suppressed));
  }
  Close(conn, reason);
}

// ---- Reading ----

void PeerTransport::Impl::ReadHeader(const std::shared_ptr<Connection>& conn) {
  asio::async_read(
      conn->stream, asio::buffer(conn->read_header),
      [self = shared_from_this(), conn](const ErrorCode& ec, size_t) { self->OnHeader(conn, ec); });
}

void PeerTransport::Impl::OnHeader(const std::shared_ptr<Connection>& conn, const ErrorCode& ec) {
  if (conn->closed) return;
  if (ec) {
    Close(conn, IsPeerClose(ec) ? "closed by the peer" : "read failed: " + ec.message());
    return;
  }
  const uint32_t length = DecodeFrameLength(conn->read_header);
  // Checked before anything is allocated for the frame: the length is the peer's claim.
  if (length == 0) {
    stats_.closed_zero_length_frame.fetch_add(1);
    CloseWithWarning(conn, "zero-length frame");
    return;
  }
  if (length > config_.frame_bytes_max) {
    stats_.closed_oversize_frame.fetch_add(1);
    CloseWithWarning(conn, "frame of " + std::to_string(length) + " bytes exceeds the cap of " +
                               std::to_string(config_.frame_bytes_max));
    return;
  }
  conn->read_body.resize(length);
  asio::async_read(conn->stream, asio::buffer(conn->read_body),
                   [self = shared_from_this(), conn](const ErrorCode& body_ec, size_t) {
                     self->OnBody(conn, body_ec);
                   });
}

void PeerTransport::Impl::OnBody(const std::shared_ptr<Connection>& conn, const ErrorCode& ec) {
  if (conn->closed) return;
  if (ec) {
    Close(conn, IsPeerClose(ec) ? "closed by the peer" : "read failed: " + ec.message());
    return;
  }
  Peer& p = *conn->peer;
  conn->received_any = true;
  const size_t size = conn->read_body.size();
  stats_.frames_received.fetch_add(1);
  stats_.bytes_received.fetch_add(size);
  p.frames_received.fetch_add(1);
  Bytes payload = std::exchange(conn->read_body, Bytes());
  InvokeOnFrame(p.id, std::move(payload));
  ReadHeader(conn);
}

// ---- Sending ----

void PeerTransport::Impl::Disconnect(uint32_t peer_id, std::string reason) {
  const auto it = by_id_.find(peer_id);
  if (it == by_id_.end() || stopped_.load(std::memory_order_acquire)) return;
  Peer* const p = it->second;
  asio::post(strand_, [self = shared_from_this(), p, reason = std::move(reason)] {
    if (self->shut_down_) return;
    bool closed_any = false;
    for (const auto& weak : {p->outbound, p->inbound}) {
      if (auto conn = weak.lock(); IsOpen(conn)) {
        self->Close(conn, reason);
        closed_any = true;
      }
    }
    if (closed_any) self->stats_.closed_by_request.fetch_add(1);
  });
}

bool PeerTransport::Impl::Send(uint32_t peer_id, std::shared_ptr<const Bytes> frame,
                               bool essential) {
  if (stopped_.load(std::memory_order_acquire)) {
    stats_.dropped_stopped.fetch_add(1);
    return false;
  }
  if (frame == nullptr || frame->empty() || frame->size() > config_.frame_bytes_max) {
    stats_.dropped_send_invalid.fetch_add(1);
    return false;
  }
  const auto it = by_id_.find(peer_id);
  if (it == by_id_.end()) {
    stats_.dropped_unknown_peer.fetch_add(1);
    return false;
  }
  Peer& p = *it->second;
  const size_t size = frame->size();
  bool post_kick = false;
  {
    const std::lock_guard<std::mutex> lock(p.mu);
    const auto fits = [&](size_t frames, size_t bytes) {
      return frames + 1 <= config_.queue_frames_max && bytes + size <= config_.queue_bytes_max;
    };
    // Dropping every non-essential frame would not make room: the queue is full of essential
    // frames, and the new one is what goes.
    if (!fits(p.queue.size() - p.queue_nonessential, p.queue_bytes - p.queue_nonessential_bytes)) {
      stats_.dropped_queue_full_essential.fetch_add(1);
      p.dropped_queue_full.fetch_add(1);
      return false;
    }
    while (!fits(p.queue.size(), p.queue_bytes)) {
      const auto victim = std::find_if(p.queue.begin(), p.queue.end(),
                                       [](const Outgoing& o) { return !o.essential; });
      HC_ASSERT(victim != p.queue.end());  // the counters above say one exists
      const size_t victim_size = victim->payload->size();
      p.queue_bytes -= victim_size;
      p.queue_nonessential -= 1;
      p.queue_nonessential_bytes -= victim_size;
      p.queue.erase(victim);
      stats_.dropped_queue_full.fetch_add(1);
      p.dropped_queue_full.fetch_add(1);
    }
    p.queue.push_back(Outgoing{std::move(frame), EncodeFrameLength(static_cast<uint32_t>(size)),
                               essential, std::chrono::steady_clock::now()});
    p.queue_bytes += size;
    if (!essential) {
      p.queue_nonessential += 1;
      p.queue_nonessential_bytes += size;
    }
    // While a write is in progress its completion picks up this frame; otherwise wake the writer,
    // once for however many frames arrive before it runs.
    if (!p.writing && !p.kick_posted) {
      p.kick_posted = true;
      post_kick = true;
    }
  }
  if (post_kick) asio::post(strand_, [self = shared_from_this(), &p] { self->Kick(p); });
  return true;
}

size_t PeerTransport::Impl::Broadcast(const std::shared_ptr<const Bytes>& frame, bool essential) {
  size_t queued = 0;
  for (auto& p : peers_) {
    if (p->receives_broadcast && Send(p->id, frame, essential)) ++queued;
  }
  return queued;
}

void PeerTransport::Impl::Kick(Peer& p) {
  {
    const std::lock_guard<std::mutex> lock(p.mu);
    p.kick_posted = false;
  }
  MaybeStartWrite(p);
}

std::shared_ptr<Connection> PeerTransport::Impl::WritableConnection(Peer& p) {
  if (auto out = p.outbound.lock(); IsOpen(out)) return out;
  if (auto in = p.inbound.lock(); IsOpen(in)) return in;
  return nullptr;
}

// Writes everything queued for `p` in one async_write. Asio's SSL stream copies the buffer sequence
// into 8 KiB chunks and hands each to one SSL_write, so small frames share TLS records instead of
// each paying for its own (DESIGN.md §8).
void PeerTransport::Impl::MaybeStartWrite(Peer& p) {
  if (shut_down_ || p.writer != nullptr) return;
  const std::shared_ptr<Connection> conn = WritableConnection(p);
  if (conn == nullptr) return;
  HC_ASSERT(conn->in_flight.empty());
  {
    const std::lock_guard<std::mutex> lock(p.mu);
    // Non-essential frames that waited beyond their time (the peer was down or slow) are stale.
    const auto stale_before =
        std::chrono::steady_clock::now() - std::chrono::milliseconds(config_.nonessential_ttl_ms);
    for (Outgoing& o : p.queue) {
      if (!o.essential && o.queued_at < stale_before) {
        stats_.dropped_stale.fetch_add(1);
        continue;
      }
      conn->in_flight.push_back(std::move(o));
    }
    p.queue.clear();
    p.queue_bytes = 0;
    p.queue_nonessential = 0;
    p.queue_nonessential_bytes = 0;
    if (conn->in_flight.empty()) return;  // all of it was stale
    p.writing = true;
  }
  p.writer = conn.get();
  conn->buffers.clear();
  conn->buffers.reserve(2 * conn->in_flight.size());
  for (const Outgoing& o : conn->in_flight) {
    conn->buffers.push_back(asio::buffer(o.header));
    conn->buffers.push_back(asio::buffer(*o.payload));
  }
  stats_.writes.fetch_add(1);
  asio::async_write(
      conn->stream, conn->buffers,
      [self = shared_from_this(), conn](const ErrorCode& ec, size_t) { self->OnWrite(conn, ec); });
}

void PeerTransport::Impl::OnWrite(const std::shared_ptr<Connection>& conn, const ErrorCode& ec) {
  if (!conn->closed && ec) {
    Close(conn, IsPeerClose(ec) ? "closed by the peer" : "write failed: " + ec.message());
  }
  if (conn->closed) {
    // Close counted these frames as dropped; only now that the write is over may they go.
    conn->in_flight.clear();
    conn->buffers.clear();
    return;
  }
  Peer& p = *conn->peer;
  HC_ASSERT(p.writer == conn.get());
  uint64_t bytes = 0;
  for (const Outgoing& o : conn->in_flight) bytes += o.payload->size();
  stats_.frames_sent.fetch_add(conn->in_flight.size());
  stats_.bytes_sent.fetch_add(bytes);
  p.frames_sent.fetch_add(conn->in_flight.size());
  conn->in_flight.clear();
  conn->buffers.clear();
  p.writer = nullptr;
  {
    const std::lock_guard<std::mutex> lock(p.mu);
    p.writing = false;
  }
  MaybeStartWrite(p);
}

// ---- Connection life cycle ----

std::shared_ptr<Connection> PeerTransport::Impl::NewConnection(bool outbound, Peer* peer,
                                                               tcp::socket socket) {
  auto conn = std::make_shared<Connection>(strand_, ssl_ctx_, next_serial_++, outbound, peer,
                                           std::move(socket));
  live_[conn->serial] = conn;
  return conn;
}

void PeerTransport::Impl::Close(const std::shared_ptr<Connection>& conn,
                                const std::string& reason) {
  if (conn->closed) return;
  conn->closed = true;
  conn->handshake_timer.cancel();
  if (conn->resolver) conn->resolver->cancel();
  // Closing the socket aborts the operations pending on it; their handlers see `closed` and only
  // release their reference. No TLS close_notify: frames are length-delimited, so a truncation
  // cannot pass for a complete message, and a shutdown exchange would need its own timeout.
  ErrorCode ignored;
  conn->stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  conn->stream.lowest_layer().close(ignored);
  live_.erase(conn->serial);
  if (conn->counted_pending) {
    conn->counted_pending = false;
    --pending_inbound_;
  }
  Peer* const p = conn->peer;
  if (p == nullptr) return;  // an inbound connection that never authenticated

  if (conn->authenticated) {
    stats_.disconnects.fetch_add(1);
    spdlog::info("transport[{}]: peer {} disconnected ({} {}): {}", config_.self_id, p->id,
                 conn->outbound ? "outbound to" : "inbound from", conn->remote, reason);
  }
  if (p->writer == conn.get()) {
    p->writer = nullptr;
    stats_.dropped_disconnect.fetch_add(conn->in_flight.size());
    const std::lock_guard<std::mutex> lock(p->mu);
    p->writing = false;
  }
  if (conn->outbound) {
    if (p->outbound.lock() == conn) {
      p->outbound.reset();
      p->status_outbound_up.store(false);
    }
    p->dialing = false;
    // A connection that authenticated and then closed before the peer sent anything is most
    // likely refused by the peer after its own pin check (in TLS 1.3 the client finishes its
    // handshake before the server has checked the client's certificate): back off as for a
    // failed attempt instead of redialing at the initial delay forever.
    if (!conn->received_any) p->backoff_ms = std::max(p->backoff_ms, conn->backoff_at_dial_ms);
    ScheduleReconnect(*p);
  } else if (p->inbound.lock() == conn) {
    p->inbound.reset();
    p->status_inbound_up.store(false);
  }
  if (conn->authenticated) UpdatePeerUp(*p);
  MaybeStartWrite(*p);
}

void PeerTransport::Impl::ScheduleReconnect(Peer& p) {
  if (shut_down_ || p.address.empty()) return;
  // Jittered down to half so that peers restarted together do not dial in lockstep.
  std::uniform_int_distribution<int64_t> jitter(p.backoff_ms / 2, p.backoff_ms);
  const int64_t delay_ms = jitter(rng_);
  p.backoff_ms = std::min(p.backoff_ms * 2, config_.reconnect_max_ms);
  p.reconnect_timer.expires_after(milliseconds(delay_ms));
  p.reconnect_timer.async_wait([self = shared_from_this(), &p](const ErrorCode& ec) {
    if (ec || self->shut_down_) return;
    self->Dial(p);
  });
}

void PeerTransport::Impl::UpdatePeerUp(Peer& p) {
  const bool up = IsOpen(p.outbound.lock()) || IsOpen(p.inbound.lock());
  if (up == p.up) return;
  p.up = up;
  p.status_up.store(up);
  spdlog::info("transport[{}]: peer {} is {}", config_.self_id, p.id, up ? "up" : "down");
  InvokeOnPeerState(p.id, up);
}

// ---- Callbacks ----

void PeerTransport::Impl::InvokeOnFrame(uint32_t peer, Bytes payload) {
  const std::lock_guard<std::mutex> lock(callback_mu_);
  if (!callbacks_enabled_.load() || !callbacks_.on_frame) return;
  callbacks_.on_frame(peer, std::move(payload));
}

void PeerTransport::Impl::InvokeOnPeerState(uint32_t peer, bool up) {
  const std::lock_guard<std::mutex> lock(callback_mu_);
  if (!callbacks_enabled_.load() || !callbacks_.on_peer_state) return;
  callbacks_.on_peer_state(peer, up);
}

std::vector<PeerStatus> PeerTransport::Impl::PeerStatuses() const {
  std::vector<PeerStatus> out;
  out.reserve(peers_.size());
  for (const auto& p : peers_) {
    PeerStatus s;
    s.id = p->id;
    s.up = p->status_up.load();
    s.outbound_up = p->status_outbound_up.load();
    s.inbound_up = p->status_inbound_up.load();
    {
      const std::lock_guard<std::mutex> lock(p->mu);
      s.queued_frames = p->queue.size();
      s.queued_bytes = p->queue_bytes;
    }
    s.frames_sent = p->frames_sent.load();
    s.frames_received = p->frames_received.load();
    s.dropped_queue_full = p->dropped_queue_full.load();
    out.push_back(s);
  }
  return out;
}

// ---- PeerTransport ----

Result<std::unique_ptr<PeerTransport>> PeerTransport::Create(asio::io_context& io,
                                                             TransportConfig config,
                                                             TransportCallbacks callbacks) {
  HC_RETURN_IF_ERROR(ValidateTransportConfig(config));
  HC_ASSIGN_OR_RETURN(crypto::TlsIdentity identity,
                      crypto::LoadTlsIdentity(config.tls_key_path, config.tls_cert_path));
  for (const PeerEndpoint& p : config.peers) {
    if (p.id == config.self_id && p.pin != identity.pin()) {
      return FailedPrecondition("the certificate " + config.tls_cert_path + " has pin " +
                                HexEncode(identity.pin()) + ", but the configuration pins " +
                                HexEncode(p.pin) + " for this node (id " + std::to_string(p.id) +
                                ")");
    }
    if (p.id != config.self_id && p.pin == identity.pin()) {
      return InvalidArgument("peers[id " + std::to_string(p.id) +
                             "]: pinned to this node's own certificate " + config.tls_cert_path);
    }
  }
  HC_ASSIGN_OR_RETURN(crypto::SslCtxPtr ctx, crypto::MakeTlsContext(identity));
  auto impl = std::make_shared<Impl>(io, std::move(config), std::move(callbacks),
                                     std::move(identity), std::move(ctx));
  return std::unique_ptr<PeerTransport>(new PeerTransport(std::move(impl)));
}

PeerTransport::PeerTransport(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
// Stop can throw only std::bad_alloc (from asio::post) or std::system_error (from locking a mutex),
// neither of which a node survives anyway.
PeerTransport::~PeerTransport() { impl_->Stop(); }  // NOLINT(bugprone-exception-escape)

Status PeerTransport::Start() { return impl_->Start(); }
void PeerTransport::Stop() { impl_->Stop(); }
bool PeerTransport::Send(uint32_t peer, std::shared_ptr<const Bytes> frame, bool essential) {
  return impl_->Send(peer, std::move(frame), essential);
}
size_t PeerTransport::Broadcast(const std::shared_ptr<const Bytes>& frame, bool essential) {
  return impl_->Broadcast(frame, essential);
}
void PeerTransport::Disconnect(uint32_t peer, std::string reason) {
  impl_->Disconnect(peer, std::move(reason));
}
uint16_t PeerTransport::listen_port() const { return impl_->listen_port(); }
const crypto::TlsPin& PeerTransport::pin() const { return impl_->pin(); }
const TransportStats& PeerTransport::stats() const { return impl_->stats(); }
std::vector<PeerStatus> PeerTransport::PeerStatuses() const { return impl_->PeerStatuses(); }

}  // namespace hc::node

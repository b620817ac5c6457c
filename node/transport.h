// PeerTransport: authenticated, framed, bounded message transport between nodes (DESIGN.md §6).
//
// Each node listens for peers and dials every known peer that has an address. Connections are TLS
// 1.3 with mutual authentication (crypto/tls.h); a peer is identified by the pin of the certificate
// it presents, never by its address: a connection whose pin is not the one configured for the peer
// it was dialed as, or (inbound) not any known peer's, is closed, logged and counted. A peer may be
// reachable through the connection this node dialed, through the one it dialed in on, or both;
// frames go out on whichever authenticated connection is up, the outbound one by preference, so
// that a validator can answer an observer that only dials in.
//
// Frames are a 4-byte big-endian length and that many payload bytes (opaque here; the node puts a
// serialized PeerFrame in them). A frame of length zero or above the configured cap closes the
// connection before anything is allocated for it. Payloads are delivered in order per connection;
// across a reconnect frames may be lost (those queued stay queued; those being written when the
// connection broke are dropped and counted) or, when a peer is reachable both ways, arrive out of
// order. The protocol above retransmits what it needs.
//
// Threading. The transport runs on an io_context the caller owns and runs (the node uses one IO
// thread). Its sockets, timers and connection state are touched only on one strand of that
// io_context. Send, Broadcast, Stop, stats and PeerStatuses may be called from any thread. Send
// never blocks on the network: it appends to the peer's bounded send queue (a short critical
// section shared with the IO strand) and wakes the writer, which writes everything queued for the
// peer in one async_write (DESIGN.md §8: coalescing 64 small frames into one TLS write costs 0.8 µs
// each instead of 15 µs). The callbacks run on the IO strand and must not block.
//
// Lifetime. Create, then Start. Stop (or the destructor) closes every connection; once Stop
// returns, no callback is running or will run again, and later Sends return false. Pending Asio
// operations keep internal state alive until they complete, so the io_context must be run (or
// destroyed) after Stop for all resources to be released, and PeerTransport must be destroyed
// before its io_context.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/tls.h"
#include "node/limits.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace hc::node {

struct PeerEndpoint {
  uint32_t id = 0;
  // "host:port" (an IPv6 host in brackets: "[::1]:7001"). Empty for a peer this node never dials
  // and that only dials in (an observer).
  std::string address;
  // SHA-256 of the DER SubjectPublicKeyInfo of the peer's TLS certificate (crypto::TlsPin).
  crypto::TlsPin pin{};
  // Whether Broadcast sends to this peer (false for observers, which fetch blocks instead).
  bool receives_broadcast = true;
};

struct TransportConfig {
  uint32_t self_id = 0;
  // "host:port" to accept peers on; port 0 picks a free port (see listen_port()). Empty: accept no
  // connections (a node that only dials out, as an observer may).
  std::string listen_address;
  std::string tls_cert_path;
  std::string tls_key_path;  // mode 0600 (crypto::LoadTlsIdentity)
  // Every other node this one talks to, with distinct ids and distinct pins. An entry for self_id
  // may be present (genesis lists every validator); its pin must then be this node's own.
  std::vector<PeerEndpoint> peers;

  // Largest payload sent or accepted, 1..kFrameBytesMaxLimit.
  uint32_t frame_bytes_max = kDefaultFrameBytesMax;
  // Per-peer send queue bounds (payload bytes); queue_bytes_max must be >= frame_bytes_max.
  size_t queue_frames_max = kDefaultPeerQueueFramesMax;
  size_t queue_bytes_max = kDefaultPeerQueueBytesMax;
  // Non-essential frames queued longer than this are dropped, not sent (node/limits.h).
  int64_t nonessential_ttl_ms = kDefaultNonessentialTtlMs;
  // Reconnect backoff bounds and the time allowed from the start of a connection to the end of its
  // TLS handshake.
  int64_t reconnect_initial_ms = kDefaultReconnectInitialMs;
  int64_t reconnect_max_ms = kDefaultReconnectMaxMs;
  int64_t handshake_timeout_ms = kDefaultHandshakeTimeoutMs;
  // Inbound connections accepted but not yet authenticated.
  size_t pending_handshakes_max = kDefaultPendingHandshakesMax;
};

// Checks a configuration on its own (no files read). kInvalidArgument names the field and reason.
Status ValidateTransportConfig(const TransportConfig& config);

struct TransportCallbacks {
  // A complete frame's payload from an authenticated peer. Runs on the IO strand.
  std::function<void(uint32_t peer, Bytes payload)> on_frame;
  // `up` when the first authenticated connection to or from `peer` is established, `!up` when the
  // last one closes. Runs on the IO strand.
  std::function<void(uint32_t peer, bool up)> on_peer_state;
};

// Counters since Create. Read them with load(); they are updated without ordering guarantees
// between one another.
struct TransportStats {
  // Payload frames and bytes (length prefixes not included) written to and read from peers.
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> bytes_received{0};
  // Coalesced writes (async_write calls); frames_sent / writes is the coalescing factor.
  std::atomic<uint64_t> writes{0};

  // Frames Send did not deliver, by reason.
  std::atomic<uint64_t> dropped_queue_full{0};            // oldest non-essential, to make room
  std::atomic<uint64_t> dropped_queue_full_essential{0};  // the new frame: all queued are essential
  std::atomic<uint64_t> dropped_send_invalid{0};          // empty or above frame_bytes_max
  std::atomic<uint64_t> dropped_unknown_peer{0};          // no such peer id configured
  std::atomic<uint64_t> dropped_stopped{0};               // Send after Stop
  std::atomic<uint64_t> dropped_disconnect{0};            // being written when the connection broke
  std::atomic<uint64_t> dropped_stale{0};  // non-essential, queued beyond nonessential_ttl_ms

  // Connections closed for what the peer sent or did.
  std::atomic<uint64_t> closed_oversize_frame{0};
  std::atomic<uint64_t> closed_zero_length_frame{0};
  std::atomic<uint64_t> closed_by_request{0};  // Disconnect(): the node refused what a peer sent
  std::atomic<uint64_t> refused_unknown_peer_cert{0};  // inbound: the pin is no known peer's
  std::atomic<uint64_t> refused_wrong_peer_cert{0};    // outbound: not the pin of the peer dialed
  std::atomic<uint64_t> refused_pending_limit{0};      // inbound beyond pending_handshakes_max
  std::atomic<uint64_t> handshake_failed{0};           // TLS error (incl. non-TLS bytes, bad cert)
  std::atomic<uint64_t> handshake_timeout{0};

  // Connection life cycle.
  std::atomic<uint64_t> dial_attempts{0};
  std::atomic<uint64_t> dial_failures{0};  // resolve or TCP connect failed
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> connects_outbound{0};  // authenticated
  std::atomic<uint64_t> connects_inbound{0};   // authenticated
  std::atomic<uint64_t> disconnects{0};        // of authenticated connections
};

// A snapshot of one peer's state.
struct PeerStatus {
  uint32_t id = 0;
  bool up = false;
  bool outbound_up = false;
  bool inbound_up = false;
  size_t queued_frames = 0;
  size_t queued_bytes = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t dropped_queue_full = 0;  // both reasons
};

class PeerTransport {
 public:
  // Validates `config`, loads the TLS identity and builds the TLS context. Nothing is bound or
  // dialed yet. Errors: kInvalidArgument for a bad configuration, kFailedPrecondition when the
  // configuration's pin for self_id is not the pin of the certificate at tls_cert_path, and those
  // of crypto::LoadTlsIdentity (naming the file).
  static Result<std::unique_ptr<PeerTransport>> Create(boost::asio::io_context& io,
                                                       TransportConfig config,
                                                       TransportCallbacks callbacks);

  // Stops (see Stop).
  ~PeerTransport();
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // Binds the listen address (synchronously, so that listen_port() is known on return), then starts
  // accepting and dialing on the io_context. Call once, before and not concurrently with Stop.
  // Errors: kInvalidArgument for an address that
  // does not resolve, kIoError when it cannot be bound (naming the address and the OS reason),
  // kFailedPrecondition when already started or stopped.
  Status Start();

  // Closes the listener and every connection and drops queued frames; the closing itself runs on
  // the IO strand just after. Idempotent; any thread, including a callback. When it returns no
  // callback is running (other than the one Stop was called from) and none will be invoked again,
  // and Send returns false.
  void Stop();

  // Queues `frame` (a payload of 1..frame_bytes_max bytes) for `peer`; never blocks. When the queue
  // is full (by count or bytes), the oldest queued non-essential frame is dropped to make room;
  // when every queued frame is essential, `frame` is dropped instead. Returns whether `frame` was
  // queued; false also for an unknown peer, an invalid frame, or after Stop. Each drop is counted.
  bool Send(uint32_t peer, std::shared_ptr<const Bytes> frame, bool essential);

  // Send to every peer with receives_broadcast; returns to how many the frame was queued.
  size_t Broadcast(const std::shared_ptr<const Bytes>& frame, bool essential);

  // Closes every connection to `peer` (the node refused what it sent: an undecodable frame, a
  // Hello from another chain). Thread-safe, never blocks; an outbound connection is redialed
  // with backoff, so a peer that recovers is reconnected. Counted in closed_by_request.
  void Disconnect(uint32_t peer, std::string reason);

  // The bound port, after a successful Start with a listen address; 0 otherwise.
  uint16_t listen_port() const;
  // This node's certificate pin.
  const crypto::TlsPin& pin() const;
  const TransportStats& stats() const;
  // One entry per configured peer (self excluded), in configuration order.
  std::vector<PeerStatus> PeerStatuses() const;

 private:
  class Impl;
  explicit PeerTransport(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The 4-byte big-endian length prefix of a frame, and its inverse (for tests and tools).
std::array<uint8_t, kFrameHeaderBytes> EncodeFrameLength(uint32_t length);
uint32_t DecodeFrameLength(const std::array<uint8_t, kFrameHeaderBytes>& header);

}  // namespace hc::node

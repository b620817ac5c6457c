// Every bound of the node module in one place (STYLE.md: put a limit on everything), with the
// relations between them checked at compile time. Configuration values are checked against the
// hard limits when a component is created.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hc::node {

// ---- Peer transport (node/transport.h) ----

// A frame on the wire is a 4-byte big-endian payload length followed by the payload.
inline constexpr size_t kFrameHeaderBytes = 4;
// The largest payload a node accepts or sends by default, and the largest any configuration may
// set. A frame claiming more closes the connection before a byte of it is allocated. The frame cap
// must be at least the largest consensus message (consensus/limits.h
// kMaxPreparedCertificateWireBytes and what a NEW-VIEW or a state-transfer response can carry); the
// node checks that when it builds the transport configuration.
inline constexpr uint32_t kDefaultFrameBytesMax = 16u << 20;
inline constexpr uint32_t kFrameBytesMaxLimit = 256u << 20;

// Per-peer send queue, by count and by bytes of payload. When it is full the oldest non-essential
// frame is dropped; when everything queued is essential, the new frame is.
inline constexpr size_t kDefaultPeerQueueFramesMax = 16'384;
inline constexpr size_t kDefaultPeerQueueBytesMax = 64u << 20;

// Reconnect backoff: the delay starts at the initial value, doubles after every failed attempt up
// to the cap, and is jittered down to half its value so that restarted peers do not dial in
// lockstep. It is reset by a successful handshake.
inline constexpr int64_t kDefaultReconnectInitialMs = 100;
inline constexpr int64_t kDefaultReconnectMaxMs = 5'000;
// From the start of a connection attempt (resolve, TCP connect, TLS) or an accept to the end of the
// TLS handshake.
inline constexpr int64_t kDefaultHandshakeTimeoutMs = 5'000;
// Connections accepted but not yet authenticated. Beyond it new connections are closed at once,
// so that unauthenticated clients cannot exhaust file descriptors or handshake CPU.
inline constexpr size_t kDefaultPendingHandshakesMax = 64;
// After an accept error that is not about one connection (EMFILE, ENFILE, ENOBUFS), wait this long
// before accepting again instead of spinning.
inline constexpr int64_t kAcceptRetryDelayMs = 100;
// Known peers a transport can be configured with (validators and observers together).
inline constexpr size_t kMaxPeers = 1024;

static_assert(kDefaultFrameBytesMax <= kFrameBytesMaxLimit);
static_assert(kFrameBytesMaxLimit < (1ull << 32), "the length prefix is 32 bits");
static_assert(kDefaultPeerQueueBytesMax >= kDefaultFrameBytesMax,
              "a peer queue must hold at least one frame of the maximum size");
static_assert(kDefaultPeerQueueFramesMax >= 1);
static_assert(kDefaultReconnectInitialMs > 0 &&
              kDefaultReconnectInitialMs <= kDefaultReconnectMaxMs);
static_assert(kDefaultHandshakeTimeoutMs > 0);
static_assert(kDefaultPendingHandshakesMax >= 1);

}  // namespace hc::node

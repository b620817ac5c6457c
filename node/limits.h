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
// A non-essential frame (a tx relay, a state-transfer request or answer) that waited longer than
// this in a peer's queue — the peer was down or could not keep up — is dropped instead of sent: a
// relay that old is of a tx most likely committed since (a validator rejoining would otherwise
// check the signatures of up to a full queue of them), and state transfer asks again.
inline constexpr int64_t kDefaultNonessentialTtlMs = 3'000;

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

// ---- The node daemon (node/node.h): driver, executor, mempool, state transfer, API ----
namespace hc::node {

// Events waiting for the driver thread (peer consensus messages, admitted txs, execution reports,
// peer state changes). Producers on IO threads drop and count when it is full; the executor's
// reports wait for room instead (they are never dropped).
inline constexpr size_t kDriverQueueCapacity = 65'536;
// The driver wakes at least this often even when no timer is due (metrics, status snapshot).
inline constexpr int64_t kDriverIdleWakeMs = 50;
// Events the driver handles before it looks at its timers again.
inline constexpr size_t kDriverBatchMax = 256;
// Consecutive persist records coalesced into one synced write.
inline constexpr size_t kPersistBatchMax = 4096;

// Committed blocks waiting for the executor. The replica commits at most a window (plus a
// state-transfer buffer) ahead of execution, so this is never reached in practice; the driver
// waits for room rather than dropping a commit.
inline constexpr size_t kExecutorQueueCapacity = 4096;
// Execution summaries the driver keeps in memory for App::ExecutedSummary (older ones are read
// from the ledger).
inline constexpr size_t kSummaryCacheMax = 1024;

// Mempool admission jobs (API submissions and relayed txs) waiting for a verify worker. Beyond it
// a client is told mempool_full and a relayed tx is dropped (the relayer retries by proposing).
inline constexpr size_t kAdmissionQueueCapacity = 65'536;
// Jobs a verify worker takes at once; its admitted txs go out in one TxRelay frame.
inline constexpr size_t kAdmissionBatchMax = 256;
inline constexpr uint32_t kVerifyThreadsMax = 64;
// Committed blocks queued for signature checks ahead of execution (catch-up); more are left to
// execution to check. A state transfer response holds at most kStateServeBlocksMax blocks.
inline constexpr size_t kPreVerifyQueueBlocks = 1024;
// Verified tx signatures remembered until the block that carries the tx executes.
inline constexpr size_t kVerifiedCacheMinEntries = 1024;

// StateRequests waiting for the state server; beyond it requests are dropped (peers re-ask).
inline constexpr size_t kStateServeQueueCapacity = 256;
// Blocks one StateResponse carries at most (proto StateRequest: to <= from + 256).
inline constexpr uint64_t kStateServeBlocksMax = 257;

// Observers: how often a follower asks a validator for blocks above its tip, and how long it
// waits for an answer before asking the next validator.
inline constexpr int64_t kObserverPollMs = 300;
inline constexpr int64_t kObserverRequestTimeoutMs = 2'000;

// How often /metrics' database sizes (hc_node_db_*_bytes) are re-read from the data directory.
inline constexpr int64_t kDiskMetricsRefreshMs = 5'000;

// API: POST /v1/tx?wait=commit waits at most this long (the route's handler deadline is a little
// longer, so the waiter is answered by the node, not by the server's 504).
inline constexpr int64_t kWaitCommitMs = 30'000;
inline constexpr int64_t kWaitCommitRouteDeadlineMs = kWaitCommitMs + 2'000;
// Commit waiters registered at once (each holds a Responder); beyond it wait=commit is refused.
inline constexpr size_t kCommitWaitersMax = 100'000;

// POST /v1/txs: txs one batch may carry, and the route's body limit. A batch of kBatchTxsMax txs
// of the largest common size (about 1 KiB) fits well under the body limit; a larger tx simply
// makes a smaller batch.
inline constexpr size_t kBatchTxsMax = 4096;
inline constexpr size_t kBatchBodyBytesMax = size_t{16} << 20;

// API TLS: a certificate that expires in fewer days than this is logged as a warning at start and
// after each reload (SIGHUP); an expired one as an error. Renewals usually happen 30 days ahead.
inline constexpr int64_t kApiTlsExpiryWarningDays = 14;

static_assert(kBatchTxsMax <= kAdmissionQueueCapacity,
              "a whole batch must fit in the admission queue");
static_assert(kDriverBatchMax >= 1 && kAdmissionBatchMax >= 1);
static_assert(kStateServeBlocksMax == 257, "proto StateRequest: to_height <= from_height + 256");
static_assert(kWaitCommitRouteDeadlineMs > kWaitCommitMs);

}  // namespace hc::node

// Every bound of the consensus module in one place (STYLE.md: put a limit on everything), the
// replica's configuration, and the relations between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "consensus/messages.h"

namespace hc::consensus {

// ---- Hard limits (compile time). The configuration is checked against them. ----

// Signer sets are 64-bit masks (quorum.h).
inline constexpr uint32_t kMaxReplicas = 64;
// Sequence numbers in flight between the low and the high watermark.
inline constexpr uint32_t kMaxWindow = 256;
inline constexpr uint32_t kMaxBatchTxs = 10'000;
inline constexpr uint64_t kMaxBatchBytes = 4ull << 20;
// A SignedTx body is at most 64 KiB (wire.md W6); the signature and framing add a little.
inline constexpr uint64_t kMaxTxBytes = (64ull << 10) + 256;
// A BlockHeader is a dozen small fields; anything bigger is garbage.
inline constexpr uint64_t kMaxHeaderBytes = 1024;
// proto StateRequest: to_height <= from_height + 256, so one response holds at most 257 blocks.
inline constexpr uint32_t kMaxFetchBlocks = 257;
// Certified blocks a replica holds ahead of its committed height while catching up (bounded buffer;
// PBFT-PITFALLS.md "Catch-up stalled on out-of-order blocks", "ran out of memory").
inline constexpr uint32_t kMaxStateTransferBuffer = 2 * kMaxFetchBlocks;
// Relayed-but-uncommitted txs the replica tracks for batching and censorship detection. Beyond it,
// new txs are still proposed by the App; they are only not timed (metric tx_tracking_full).
inline constexpr uint32_t kMaxTrackedTxs = 200'000;
// Checkpoint messages kept per replica (the most recent ones by sequence number).
inline constexpr uint32_t kCheckpointsKeptPerReplica = 4;
// Normal-case messages of the view being entered, held while its NEW-VIEW is on its way.
inline constexpr uint32_t kMaxFutureViewMessages = 4096;
// Largest message the replica builds or accepts. A VIEW-CHANGE carries up to `window` prepared
// blocks with 2f PREPAREs each; a NEW-VIEW carries up to `window` blocks plus 2f+1 VIEW-CHANGEs
// whose blocks are stripped to their headers. The node's frame cap must be at least this.
inline constexpr uint64_t kPrepareWireBytes = 128;
inline constexpr uint64_t kMaxBlockWireBytes = kMaxHeaderBytes + kMaxBatchBytes + 16 * kMaxBatchTxs;
inline constexpr uint64_t kMaxPreparedCertificateWireBytes =
    kMaxBlockWireBytes + 256 + kMaxReplicas * kPrepareWireBytes;

static_assert(kMaxReplicas <= 64, "signer sets are 64-bit masks");
static_assert(kMaxBatchTxs * 16 < kMaxBatchBytes, "a batch of minimal txs fits the byte limit");
static_assert(kMaxFetchBlocks <= kMaxStateTransferBuffer,
              "one state-transfer response must fit in the reorder buffer");
static_assert(kMaxWindow <= kMaxStateTransferBuffer,
              "a replica one window behind can buffer the whole window");
static_assert(kCheckpointsKeptPerReplica >= 2,
              "checkpoints of neighbouring intervals must both be kept to reach 2f+1 matching");

// Genesis: height 0. Block 1's prev_block_hash is the genesis hash.
struct Genesis {
  Hash32 hash{};
  int64_t timestamp_ms = 0;
};

// ---- Configuration (one per replica; identical on every replica except `self`). ----
struct Config {
  std::string chain_id;               // 1..64 bytes (wire.md W5)
  std::vector<PublicKey> validators;  // index = ReplicaId; n = size(), f = (n-1)/3
  ReplicaId self;
  Genesis genesis;

  // Batching (DESIGN.md §3): a block closes at batch_txs_max txs, batch_bytes_max bytes of txs,
  // or batch_delay_ms after its oldest unproposed tx arrived.
  uint32_t batch_txs_max = 1000;
  uint64_t batch_bytes_max = 1ull << 20;
  int64_t batch_delay_ms = 20;
  // Adaptive batching: a batch that is due only because its oldest tx has waited batch_delay_ms
  // (not full) waits while this many of the primary's proposals are not yet executed; the next
  // execution report lets it go. Under light load the pipeline is empty and nothing waits; under
  // heavy load txs gather into larger blocks instead of many small ones in flight at once (and a
  // primary whose executor lags proposes less often). 0 = never wait.
  uint32_t partial_batch_pipeline = 1;

  // Sequence numbers in flight: (low, low + window]. A multiple of checkpoint_interval, at least
  // two intervals, so the window can move while the next checkpoint is being collected.
  uint32_t window = 64;
  uint32_t checkpoint_interval = 16;
  // A proposal certifies the log as of exec_height (DESIGN.md §2); backups refuse one whose
  // exec_height is more than this many blocks behind its height.
  uint32_t exec_lag_max = 64;

  // Liveness (pacemaker.h): the view-change timer doubles per failed view change up to the cap
  // and resets on the first committed block.
  int64_t view_change_timeout_ms = 1000;
  int64_t view_change_timeout_max_ms = 16'000;
  // A tx relayed by f+1 replicas and not committed this long after -> view change (R16).
  int64_t censorship_timeout_ms = 5000;
  // While work is stuck: re-send own votes / VIEW-CHANGE and probe a peer for blocks.
  int64_t retransmit_interval_ms = 300;
  // While idle: re-announce the latest checkpoint and COMMIT this often, so a replica that missed
  // the end of the traffic learns it is behind (R19). 0 disables.
  int64_t status_interval_ms = 2000;
  // A state-transfer request unanswered this long is re-sent to the next peer.
  int64_t state_transfer_timeout_ms = 1000;
  // A proposal's timestamp must be within this of the backup's clock (R5).
  int64_t timestamp_drift_ms = 30'000;
  // After this long idle, the primary proposes one empty block so that the last block's entries
  // are covered by a certified header (DESIGN.md §2). 0 disables.
  int64_t empty_block_delay_ms = 500;

  uint32_t n() const { return static_cast<uint32_t>(validators.size()); }
  uint32_t f() const { return n() == 0 ? 0 : (n() - 1) / 3; }
  uint32_t quorum() const { return 2 * f() + 1; }

  // OK, or InvalidArgument naming the first broken relation.
  Status Validate() const;
};

// The largest VIEW-CHANGE / NEW-VIEW a replica with this configuration builds or accepts.
uint64_t MaxViewChangeWireBytes(const Config& config);
uint64_t MaxNewViewWireBytes(const Config& config);

}  // namespace hc::consensus

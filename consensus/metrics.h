// Counters the replica keeps about itself: why messages were dropped (one counter per reason,
// pbft.md R1), how much it signed and verified, and protocol events. Plain integers, read by the
// node's /metrics exporter and by the simulator and benchmarks.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace hc::consensus {

enum class DropReason : uint8_t {
  kUnknownSender,           // not a validator, or ourselves
  kSenderMismatch,          // the replica field is not the authenticated sender
  kBadSignature,            // the signature does not verify under the claimed signer's key
  kTooLarge,                // a size bound (txs, bytes, header, certificate entries) is exceeded
  kMalformed,               // structurally wrong: bad header, unsorted or duplicate entries, ...
  kBadDigest,               // block_hash is not the hash of the header
  kOutsideWindow,           // sequence number not in (low, low + window]
  kStaleView,               // view older than ours
  kFutureView,              // view newer than ours (counted; may make us join a view change)
  kNotPrimary,              // PRE-PREPARE / NEW-VIEW not from the view's primary; PREPARE from it
  kConflictingPrePrepare,   // another digest already accepted for (view, seq): equivocation
  kConflictingVote,         // a replica voted for two digests at (view, seq)
  kDuplicate,               // seen before
  kBadParent,               // prev_block_hash does not link to the block at seq-1
  kBadTimestamp,            // not monotonic, or outside the drift bound of our clock
  kBadExecState,            // (exec_height, log_size, log_root) does not match our execution
  kBadTxs,                  // block body does not match its header or a tx is malformed
  kBadCheckpointProof,      // fewer than 2f+1 matching valid checkpoints
  kBadPreparedCertificate,  // a prepared certificate that does not prove what it claims
  kBadCommitCertificate,    // a state-transfer block whose certificate does not verify
  kBadNewView,              // NEW-VIEW whose O set differs from the one we recompute, ...
  kAlreadyCommitted,        // for a sequence number we have already committed
  kBufferFull,              // a bounded buffer is full
  kUnexpected,              // a message this replica never serves (StateRequest) or never asked
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

std::string_view DropReasonName(DropReason reason);

struct Metrics {
  std::array<uint64_t, kDropReasonCount> dropped{};
  uint64_t messages_received = 0;
  uint64_t messages_accepted = 0;
  uint64_t sends = 0;       // point-to-point messages emitted
  uint64_t broadcasts = 0;  // broadcast actions emitted (each is n-1 messages on the wire)
  uint64_t signatures_created = 0;
  uint64_t signatures_verified = 0;
  uint64_t blocks_proposed = 0;
  uint64_t blocks_committed = 0;
  uint64_t txs_committed = 0;
  uint64_t view_changes_started = 0;
  uint64_t new_views_installed = 0;
  uint64_t checkpoints_stable = 0;
  uint64_t state_transfer_requests = 0;
  uint64_t state_transfer_blocks = 0;
  uint64_t retransmissions = 0;
  uint64_t censorship_view_changes = 0;
  uint64_t tx_tracking_full = 0;
  uint64_t pre_prepares_buffered = 0;

  uint64_t Dropped(DropReason r) const { return dropped[static_cast<size_t>(r)]; }
  uint64_t TotalDropped() const {
    uint64_t s = 0;
    for (uint64_t d : dropped) s += d;
    return s;
  }
};

}  // namespace hc::consensus

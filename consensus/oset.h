// PBFT's O set for a NEW-VIEW (pbft.md R14), as a pure function of 2f+1 VIEW-CHANGE messages, so
// the new primary and every backup compute the same thing and backups can reject a NEW-VIEW that
// differs (PBFT-PITFALLS.md).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "consensus/messages.h"

namespace hc::consensus {

struct NewViewSet {
  // min-s: the highest stable checkpoint among the VIEW-CHANGEs, and the block it certifies.
  SeqNumber stable_seq;
  Hash32 stable_block_hash{};
  const ViewChange* stable_source = nullptr;  // whose checkpoint_proof proves it; null at seq 0
  // The re-proposals: for stable_seq+1, stable_seq+2, ... the prepared certificate of the highest
  // view at that seq, for as long as each block links to the one before (pointers into the inputs).
  std::vector<const PreparedCertificate*> entries;

  enum class Stop { kNoCertificates, kGap, kBrokenLink };
  Stop stop = Stop::kNoCertificates;
  // PBFT's max-s: the highest seq with any certificate above stable_seq (0 if none). Everything in
  // (stable_seq + entries.size(), max_seq] is where plain PBFT would put null requests.
  SeqNumber max_seq;
};

// Returns the block's prev_block_hash, or nullopt if its header does not decode.
using ParentHashFn = std::function<std::optional<Hash32>(const PreparedCertificate&)>;

// `view_changes` must already be validated (signatures, proofs, certificates; R13). Certificates
// at or below the chosen stable_seq are ignored. Deterministic in the set of inputs (order does not
// matter): ties between certificates of one view (only possible with more than f faults) go to the
// smaller digest.
//
// Why the set stops at the first gap or broken link instead of filling it with null requests: with
// R7 (a replica sends COMMIT for seq only after its COMMIT for seq-1, or once seq-1 is committed or
// stable), a block committed at seq s implies that f+1 correct replicas prepared every ancestor of
// it above the last stable checkpoint in that view, so each ancestor is the highest-view
// certificate at its seq in any 2f+1 VIEW-CHANGEs. Hence nothing at or above a gap or a broken link
// can have committed anywhere, and the hash chain forbids re-proposing a block whose parent is not
// the block before it. Plain PBFT's null requests exist only to fill gaps below possibly committed
// requests; under R7 there are none. See docs/spec/pbft.md R14 for the full argument.
NewViewSet ComputeNewViewSet(std::span<const ViewChange* const> view_changes,
                             const Hash32& genesis_hash, const ParentHashFn& parent_of);

}  // namespace hc::consensus

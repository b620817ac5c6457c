// Counting votes by distinct signer, never by message (PBFT-PITFALLS.md): a replica that sends the
// same vote twice, or two votes, is one signer.
#pragma once

#include <bit>
#include <cstdint>

#include "common/assert.h"
#include "common/ids.h"
#include "consensus/limits.h"

namespace hc::consensus {

class SignerSet {
 public:
  // Adds `id` (< kMaxReplicas; callers check membership first). True iff it was not present.
  bool Add(ReplicaId id) {
    HC_ASSERT_LT(id.value(), kMaxReplicas);
    const uint64_t bit = uint64_t{1} << id.value();
    const bool added = (mask_ & bit) == 0;
    mask_ |= bit;
    return added;
  }
  bool Contains(ReplicaId id) const {
    return id.value() < kMaxReplicas && (mask_ >> id.value()) & 1;
  }
  uint32_t Count() const { return static_cast<uint32_t>(std::popcount(mask_)); }
  bool HasQuorum(uint32_t quorum) const { return Count() >= quorum; }
  uint64_t mask() const { return mask_; }

 private:
  uint64_t mask_ = 0;
};

}  // namespace hc::consensus

// The entry log's Merkle nodes in the log_nodes column family (DESIGN.md §2, §4).
//
// Layout. Leaf hashes are stored in chunks of kLeafChunkLeaves consecutive leaves (one record of
// up to 16 x 32 bytes, rewritten while its chunk fills up); perfect nodes at levels >=
// kLeafChunkLevel are stored one record each. A node below that level is folded from its leaves in
// one chunk. So an append costs about 1/8 of a record per leaf instead of two, and any perfect
// node still costs at most one read: proofs read O(log n) records (crypto/merkle.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/merkle.h"
#include "ledger/kv.h"

namespace hc::ledger {

inline constexpr uint32_t kLeafChunkLevel = 4;
inline constexpr uint64_t kLeafChunkLeaves = uint64_t{1} << kLeafChunkLevel;

// The perfect nodes of a log of `size` leaves, read from `kv` (crypto::MerkleNodeSource).
class StoredLogNodes final : public crypto::MerkleNodeSource {
 public:
  StoredLogNodes(const KvReader& kv, uint64_t size) : kv_(kv), size_(size) {}
  uint64_t size() const override { return size_; }
  // Corruption (naming the key) when a record that must exist is missing or malformed.
  Result<Hash32> PerfectNode(uint32_t level, uint64_t index) const override;

 private:
  const KvReader& kv_;
  uint64_t size_;
};

// Appends `leaves` (leaf hashes) to `range` and adds to `batch` the writes that persist them: the
// touched leaf chunks (reading the current partial chunk from `kv`) and every perfect node at level
// >= kLeafChunkLevel the appends complete. `range` must be the log `kv` holds.
Status AppendLeaves(const KvReader& kv, std::span<const Hash32> leaves, crypto::CompactRange* range,
                    KvBatch* batch);

}  // namespace hc::ledger

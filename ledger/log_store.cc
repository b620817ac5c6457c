#include "ledger/log_store.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ledger/codec.h"

namespace hc::ledger {
namespace {

Status Missing(const std::string& key, const std::string& what) {
  return Corruption("ledger store: " + DescribeKey(Cf::kLogNodes, key) + ": " + what);
}

}  // namespace

Result<Hash32> StoredLogNodes::PerfectNode(uint32_t level, uint64_t index) const {
  std::string v;
  if (level >= kLeafChunkLevel) {
    const std::string key = keys::LogNode(level, index);
    Status s = kv_.Get(Cf::kLogNodes, key, &v);
    if (s.code() == StatusCode::kNotFound) {
      return Missing(key, "Merkle node (level " + std::to_string(level) + ", index " +
                              std::to_string(index) + ") of a log of size " +
                              std::to_string(size_) + " is missing");
    }
    HC_RETURN_IF_ERROR(s);
    if (v.size() != 32)
      return Missing(key, "Merkle node is " + std::to_string(v.size()) + " bytes");
    return ToHash32(AsBytes(v));
  }
  // Below the chunk level: fold the node's leaves, all in one chunk.
  const uint64_t width = uint64_t{1} << level;
  const uint64_t first_leaf = index << level;
  const uint64_t chunk = first_leaf / kLeafChunkLeaves;
  const std::string key = keys::LogLeafChunk(chunk);
  Status s = kv_.Get(Cf::kLogNodes, key, &v);
  if (s.code() == StatusCode::kNotFound) {
    return Missing(key, "leaf chunk " + std::to_string(chunk) + " of a log of size " +
                            std::to_string(size_) + " is missing");
  }
  HC_RETURN_IF_ERROR(s);
  const uint64_t offset = first_leaf - chunk * kLeafChunkLeaves;
  if (v.size() % 32 != 0 || v.size() < (offset + width) * 32) {
    return Missing(key, "leaf chunk holds " + std::to_string(v.size()) +
                            " bytes, too few for (level " + std::to_string(level) + ", index " +
                            std::to_string(index) + ")");
  }
  std::vector<Hash32> nodes(width);
  for (uint64_t i = 0; i < width; ++i) {
    std::memcpy(nodes[i].data(), v.data() + (offset + i) * 32, 32);
  }
  for (uint64_t n = width; n > 1; n /= 2) {
    for (uint64_t i = 0; i < n / 2; ++i)
      nodes[i] = crypto::NodeHash(nodes[2 * i], nodes[2 * i + 1]);
  }
  return nodes[0];
}

Status AppendLeaves(const KvReader& kv, std::span<const Hash32> leaves, crypto::CompactRange* range,
                    KvBatch* batch) {
  if (leaves.empty()) return Status::Ok();
  const uint64_t first = range->size();
  std::vector<crypto::MerkleNode> completed;
  completed.reserve(leaves.size() / 4 + 64);
  for (const Hash32& leaf : leaves) {
    const size_t before = completed.size();
    range->Append(leaf, &completed);
    // Keep only what is stored; the lower levels live in the chunks.
    completed.erase(
        std::remove_if(completed.begin() + static_cast<std::ptrdiff_t>(before), completed.end(),
                       [](const crypto::MerkleNode& n) { return n.level < kLeafChunkLevel; }),
        completed.end());
  }
  for (const crypto::MerkleNode& n : completed) {
    batch->Put(Cf::kLogNodes, keys::LogNode(n.level, n.index), std::string(AsStr(n.hash)));
  }
  // The chunks the new leaves fall in; the first may already hold earlier leaves.
  uint64_t chunk = first / kLeafChunkLeaves;
  std::string value;
  if (first % kLeafChunkLeaves != 0) {
    const std::string key = keys::LogLeafChunk(chunk);
    Status s = kv.Get(Cf::kLogNodes, key, &value);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    if (!s.ok() || value.size() != (first % kLeafChunkLeaves) * 32) {
      return Missing(key, "the partial leaf chunk does not hold the log's last " +
                              std::to_string(first % kLeafChunkLeaves) + " leaves");
    }
  }
  uint64_t next = first;
  for (const Hash32& leaf : leaves) {
    value.append(AsStr(leaf));
    ++next;
    if (next % kLeafChunkLeaves == 0) {
      batch->Put(Cf::kLogNodes, keys::LogLeafChunk(chunk), std::move(value));
      value.clear();
      ++chunk;
    }
  }
  if (!value.empty()) batch->Put(Cf::kLogNodes, keys::LogLeafChunk(chunk), std::move(value));
  return Status::Ok();
}

}  // namespace hc::ledger

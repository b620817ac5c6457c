// The stored Merkle log (ledger/log_store.h) against crypto's in-memory tree.
#include "ledger/log_store.h"

#include <gtest/gtest.h>

#include <random>

#include "ledger/codec.h"
#include "ledger/mem_store.h"

namespace hc::ledger {
namespace {

Hash32 Leaf(uint64_t i) { return crypto::LeafHash(AsBytes("leaf-" + std::to_string(i))); }

TEST(LogStoreTest, EveryPerfectNodeAndProofMatchesTheMemoryTree) {
  std::mt19937_64 rng(std::random_device{}());
  MemKvStore kv;
  crypto::CompactRange range;
  crypto::MemoryMerkleTree tree;
  uint64_t n = 0;
  while (n < 300) {
    // Appends in batches of random size, as blocks of random tx counts do.
    const uint64_t batch_size = rng() % 40;
    std::vector<Hash32> leaves;
    for (uint64_t i = 0; i < batch_size; ++i) leaves.push_back(Leaf(n + i));
    KvBatch batch;
    ASSERT_TRUE(AppendLeaves(kv, leaves, &range, &batch).ok());
    ASSERT_TRUE(kv.Write(batch, true).ok());
    for (const Hash32& l : leaves) tree.Append(l);
    n += batch_size;
    ASSERT_EQ(range.Root(), tree.Root());
    StoredLogNodes stored(kv, n);
    for (uint32_t level = 0; (uint64_t{1} << level) <= n; ++level) {
      for (uint64_t index = 0; ((index + 1) << level) <= n; ++index) {
        Result<Hash32> a = stored.PerfectNode(level, index);
        ASSERT_TRUE(a.ok()) << a.status().ToString();
        EXPECT_EQ(*a, *tree.PerfectNode(level, index)) << level << "/" << index;
      }
    }
    if (n > 0) {
      const uint64_t leaf = rng() % n;
      EXPECT_EQ(*crypto::InclusionProof(stored, leaf, n), *crypto::InclusionProof(tree, leaf, n));
      const uint64_t old = rng() % (n + 1);
      EXPECT_EQ(*crypto::ConsistencyProof(stored, old, n), *crypto::ConsistencyProof(tree, old, n));
    }
  }
}

TEST(LogStoreTest, WritesAboutAnEighthOfARecordPerLeaf) {
  MemKvStore kv;
  crypto::CompactRange range;
  std::vector<Hash32> leaves;
  for (uint64_t i = 0; i < 1024; ++i) leaves.push_back(Leaf(i));
  KvBatch batch;
  ASSERT_TRUE(AppendLeaves(kv, leaves, &range, &batch).ok());
  // 64 chunks + 64 + 32 + ... + 1 nodes at levels 4..10.
  EXPECT_EQ(batch.writes.size(), 64u + 127u);
}

TEST(LogStoreTest, AMissingPartialChunkIsCorruption) {
  MemKvStore kv;
  crypto::CompactRange range;
  std::vector<Hash32> leaves = {Leaf(0), Leaf(1), Leaf(2)};
  KvBatch batch;
  ASSERT_TRUE(AppendLeaves(kv, leaves, &range, &batch).ok());
  // Not written: the next append cannot extend the partial chunk.
  KvBatch next;
  Status s = AppendLeaves(kv, leaves, &range, &next);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("log_nodes/"), std::string::npos) << s.message();
  EXPECT_EQ(StoredLogNodes(kv, 3).PerfectNode(0, 1).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace hc::ledger

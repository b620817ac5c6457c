// Merkle log benchmarks (DESIGN.md §8: an inclusion proof for any entry of a 10 M-entry log builds
// in < 1 ms and verifies in < 100 µs).
//
// The 1 M-leaf MemoryMerkleTree is built once per process, outside every timed loop (about 2 M
// SHA-256 calls), and shared by the proof benchmarks. Indices and sizes come from a seeded
// generator drawn outside the timed region.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/assert.h"
#include "crypto/merkle.h"

namespace hc::crypto {
namespace {

constexpr uint64_t kTreeLeaves = uint64_t{1} << 20;  // 1,048,576
constexpr size_t kSamples = 4096;                    // random queries cycled through

Hash32 TestLeaf(uint64_t i) {
  Hash32 h{};
  for (int b = 0; b < 8; ++b) h[b] = static_cast<uint8_t>(i >> (8 * b));
  h[31] = 0x5a;
  return h;
}

const MemoryMerkleTree& BigTree() {
  static const MemoryMerkleTree* tree = [] {
    auto* t = new MemoryMerkleTree();
    for (uint64_t i = 0; i < kTreeLeaves; ++i) t->Append(TestLeaf(i));
    return t;
  }();
  return *tree;
}

std::vector<uint64_t> RandomBelow(uint64_t bound, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out(kSamples);
  for (uint64_t& v : out) v = rng() % bound;
  return out;
}

// Appending to the frontier: one leaf, its parents (amortised ~1 NodeHash per leaf), reporting the
// completed nodes as the ledger does.
void BM_CompactRangeAppend(benchmark::State& state) {
  CompactRange range;
  std::vector<MerkleNode> completed;
  completed.reserve(128);
  uint64_t i = 0;
  for (auto _ : state) {
    completed.clear();
    range.Append(TestLeaf(i++), &completed);
    benchmark::DoNotOptimize(completed.data());
  }
  benchmark::DoNotOptimize(range.Root());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompactRangeAppend);

void BM_CompactRangeAppendNoReport(benchmark::State& state) {
  CompactRange range;
  uint64_t i = 0;
  for (auto _ : state) range.Append(TestLeaf(i++));
  benchmark::DoNotOptimize(range.Root());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompactRangeAppendNoReport);

void BM_InclusionProofBuild(benchmark::State& state) {
  const MemoryMerkleTree& tree = BigTree();
  const std::vector<uint64_t> indices = RandomBelow(kTreeLeaves, 1);
  size_t k = 0;
  for (auto _ : state) {
    Result<std::vector<Hash32>> proof = InclusionProof(tree, indices[k++ % kSamples], kTreeLeaves);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InclusionProofBuild)->Unit(benchmark::kMicrosecond);

// A tree size that is not a power of two: the proof includes a folded (ragged) right subtree.
void BM_InclusionProofBuildRagged(benchmark::State& state) {
  const MemoryMerkleTree& tree = BigTree();
  const uint64_t size = kTreeLeaves - 12345;
  const std::vector<uint64_t> indices = RandomBelow(size, 2);
  size_t k = 0;
  for (auto _ : state) {
    Result<std::vector<Hash32>> proof = InclusionProof(tree, indices[k++ % kSamples], size);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InclusionProofBuildRagged)->Unit(benchmark::kMicrosecond);

void BM_InclusionProofVerify(benchmark::State& state) {
  const MemoryMerkleTree& tree = BigTree();
  const Hash32 root = tree.Root();
  const std::vector<uint64_t> indices = RandomBelow(kTreeLeaves, 3);
  std::vector<std::vector<Hash32>> proofs;
  proofs.reserve(kSamples);
  for (uint64_t index : indices) proofs.push_back(*InclusionProof(tree, index, kTreeLeaves));
  size_t k = 0;
  for (auto _ : state) {
    const size_t s = k++ % kSamples;
    const Status status =
        VerifyInclusion(indices[s], kTreeLeaves, *tree.PerfectNode(0, indices[s]), proofs[s], root);
    HC_ASSERT(status.ok());
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InclusionProofVerify)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProofBuild(benchmark::State& state) {
  const MemoryMerkleTree& tree = BigTree();
  const std::vector<uint64_t> sizes1 = RandomBelow(kTreeLeaves - 1, 4);
  size_t k = 0;
  for (auto _ : state) {
    Result<std::vector<Hash32>> proof =
        ConsistencyProof(tree, 1 + sizes1[k++ % kSamples], kTreeLeaves);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConsistencyProofBuild)->Unit(benchmark::kMicrosecond);

void BM_ConsistencyProofVerify(benchmark::State& state) {
  const MemoryMerkleTree& tree = BigTree();
  const uint64_t size2 = kTreeLeaves - 777;  // ragged new tree
  const Hash32 root2 = *tree.RootAt(size2);
  const std::vector<uint64_t> sizes1 = RandomBelow(size2 - 1, 5);
  std::vector<std::vector<Hash32>> proofs;
  std::vector<Hash32> roots1;
  proofs.reserve(kSamples);
  roots1.reserve(kSamples);
  for (uint64_t s1 : sizes1) {
    proofs.push_back(*ConsistencyProof(tree, s1 + 1, size2));
    roots1.push_back(*tree.RootAt(s1 + 1));
  }
  size_t k = 0;
  for (auto _ : state) {
    const size_t s = k++ % kSamples;
    const Status status = VerifyConsistency(sizes1[s] + 1, size2, roots1[s], root2, proofs[s]);
    HC_ASSERT(status.ok());
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConsistencyProofVerify)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hc::crypto

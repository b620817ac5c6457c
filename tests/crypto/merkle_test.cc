// Tests for the RFC 9162 Merkle tree (crypto/merkle.h) and its JSON proof documents
// (crypto/merkle_json.h).
//
// The main oracle is a literal transcription of RFC 9162 §2.1 written here (MTH, PATH, PROOF over a
// list of leaf hashes, with SHA-256 computed through the one-shot Sha256 rather than the code
// under test). Known answers from the RFC 6962 test tree pin both to the published values.
#include "crypto/merkle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/merkle_json.h"

namespace hc::crypto {
namespace {

using Hashes = std::vector<Hash32>;
using Leaves = std::span<const Hash32>;

// ---- The reference: RFC 9162 §2.1, transcribed ----

Hash32 RefHash(std::initializer_list<ByteView> parts) {
  Bytes data;
  for (ByteView p : parts) data.insert(data.end(), p.begin(), p.end());
  return Sha256(data);
}

const uint8_t kLeafPrefix[] = {0x00};
const uint8_t kNodePrefix[] = {0x01};

Hash32 RefLeafHash(ByteView entry) { return RefHash({kLeafPrefix, entry}); }
Hash32 RefNodeHash(const Hash32& l, const Hash32& r) { return RefHash({kNodePrefix, l, r}); }

// The largest power of two smaller than n (n > 1).
uint64_t RefSplit(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[n]).
Hash32 RefMth(Leaves d) {
  if (d.empty()) return RefHash({});
  if (d.size() == 1) return d[0];
  const size_t k = RefSplit(d.size());
  return RefNodeHash(RefMth(d.subspan(0, k)), RefMth(d.subspan(k)));
}

// PATH(m, D[n]).
Hashes RefPath(uint64_t m, Leaves d) {
  if (d.size() <= 1) return {};
  const size_t k = RefSplit(d.size());
  Hashes path;
  if (m < k) {
    path = RefPath(m, d.subspan(0, k));
    path.push_back(RefMth(d.subspan(k)));
  } else {
    path = RefPath(m - k, d.subspan(k));
    path.push_back(RefMth(d.subspan(0, k)));
  }
  return path;
}

// SUBPROOF(m, D[n], b).
Hashes RefSubproof(uint64_t m, Leaves d, bool b) {
  if (m == d.size()) return b ? Hashes{} : Hashes{RefMth(d)};
  const size_t k = RefSplit(d.size());
  Hashes proof;
  if (m <= k) {
    proof = RefSubproof(m, d.subspan(0, k), b);
    proof.push_back(RefMth(d.subspan(k)));
  } else {
    proof = RefSubproof(m - k, d.subspan(k), false);
    proof.push_back(RefMth(d.subspan(0, k)));
  }
  return proof;
}

// PROOF(m, D[n]); empty for m == 0 (RFC 9162 gives the empty tree an empty proof).
Hashes RefProof(uint64_t m, Leaves d) {
  if (m == 0) return {};
  return RefSubproof(m, d, true);
}

// The "shape" of a proof: what a verifier does with each element, derived from the RFC recursion
// (not from the verifier). Two statements with the same shape are indistinguishable to any
// verifier of the same hashes, so a changed size can only be caught when the shape changes.
// Inclusion: 'L' the element is a left sibling, 'R' a right sibling.
std::string RefPathShape(uint64_t m, uint64_t n) {
  if (n <= 1) return "";
  const uint64_t k = RefSplit(n);
  return m < k ? RefPathShape(m, k) + "R" : RefPathShape(m - k, n - k) + "L";
}
// Consistency: 'S' the seed (the old subtree's root), 'L' a left sibling in both trees, 'R' a right
// sibling only the new tree has; a leading '*' means the seed is root1 itself and is not sent.
std::string RefSubproofShape(uint64_t m, uint64_t n, bool b) {
  if (m == n) return b ? "*" : "S";
  const uint64_t k = RefSplit(n);
  return m <= k ? RefSubproofShape(m, k, b) + "R" : RefSubproofShape(m - k, n - k, false) + "L";
}

// ---- Helpers ----

Hash32 HashFromHex(std::string_view hex) {
  Result<Bytes> bytes = HexDecode(hex);
  HC_ASSERT(bytes.ok() && bytes->size() == 32);
  return ToHash32(*bytes);
}

Hashes HashesFromHex(std::initializer_list<std::string_view> hexes) {
  Hashes out;
  for (std::string_view h : hexes) out.push_back(HashFromHex(h));
  return out;
}

std::string Hex(const Hash32& h) { return HexEncode(h); }

Hash32 FlipBit(Hash32 h, size_t bit) {
  h[(bit / 8) % 32] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

Hashes RandomLeaves(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Hashes leaves(n);
  for (size_t i = 0; i < n; ++i) {
    uint8_t entry[16];
    for (uint8_t& b : entry) b = static_cast<uint8_t>(rng());
    leaves[i] = RefLeafHash(entry);
  }
  return leaves;
}

MemoryMerkleTree TreeOf(Leaves leaves) {
  MemoryMerkleTree tree;
  for (const Hash32& leaf : leaves) tree.Append(leaf);
  return tree;
}

// A node source backed by exactly the nodes CompactRange::Append reported, as a store would hold
// them; counts reads so the O(log n) bound can be checked.
class RecordedNodeSource final : public MerkleNodeSource {
 public:
  void Add(const MerkleNode& node) {
    const bool inserted = nodes_.emplace(std::make_pair(node.level, node.index), node.hash).second;
    EXPECT_TRUE(inserted) << "node (" << node.level << ", " << node.index << ") reported twice";
    if (node.level == 0) size_ = std::max(size_, node.index + 1);
  }
  uint64_t size() const override { return size_; }
  Result<Hash32> PerfectNode(uint32_t level, uint64_t index) const override {
    ++reads_;
    EXPECT_LE((index + 1) << level, size_) << "asked for an incomplete node";
    auto it = nodes_.find({level, index});
    if (it == nodes_.end()) return Corruption("missing node");
    return it->second;
  }
  size_t node_count() const { return nodes_.size(); }
  size_t TakeReads() { return std::exchange(reads_, 0); }

 private:
  std::map<std::pair<uint32_t, uint64_t>, Hash32> nodes_;
  uint64_t size_ = 0;
  mutable size_t reads_ = 0;
};

// A source whose every read fails, as a broken disk would.
class FailingNodeSource final : public MerkleNodeSource {
 public:
  uint64_t size() const override { return 100; }
  Result<Hash32> PerfectNode(uint32_t, uint64_t) const override { return IoError("disk on fire"); }
};

// ---- Known answers: the RFC 6962 test tree (certificate-transparency, transparency-dev) ----

const char* const kCtEntriesHex[] = {"",
                                     "00",
                                     "10",
                                     "2021",
                                     "3031",
                                     "40414243",
                                     "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f"};

const char* const kCtRootsHex[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

Hashes CtLeaves() {
  Hashes leaves;
  for (const char* hex : kCtEntriesHex) leaves.push_back(LeafHash(*HexDecode(hex)));
  return leaves;
}

TEST(MerkleKnownAnswer, EmptyRootAndLeafHash) {
  EXPECT_EQ(Hex(EmptyRoot()), kCtRootsHex[0]);
  EXPECT_EQ(Hex(LeafHash(ByteView())), kCtRootsHex[1]);
  EXPECT_EQ(LeafHash(AsBytes("abc")), RefLeafHash(AsBytes("abc")));
  const Hash32 a = LeafHash(AsBytes("a"));
  const Hash32 b = LeafHash(AsBytes("b"));
  EXPECT_EQ(NodeHash(a, b), RefNodeHash(a, b));
  EXPECT_NE(NodeHash(a, b), NodeHash(b, a));
  // Domain separation: a leaf whose entry is 0x01 || a || b is not the node over (a, b).
  Bytes fake = {0x01};
  fake.insert(fake.end(), a.begin(), a.end());
  fake.insert(fake.end(), b.begin(), b.end());
  EXPECT_NE(LeafHash(fake), NodeHash(a, b));
}

TEST(MerkleKnownAnswer, Rfc6962TestTreeRoots) {
  const Hashes leaves = CtLeaves();
  MemoryMerkleTree tree;
  CompactRange range;
  EXPECT_EQ(Hex(tree.Root()), kCtRootsHex[0]);
  EXPECT_EQ(Hex(range.Root()), kCtRootsHex[0]);
  for (size_t n = 1; n <= leaves.size(); ++n) {
    tree.Append(leaves[n - 1]);
    range.Append(leaves[n - 1]);
    EXPECT_EQ(Hex(tree.Root()), kCtRootsHex[n]) << "size " << n;
    EXPECT_EQ(Hex(range.Root()), kCtRootsHex[n]) << "size " << n;
  }
  for (size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(Hex(*tree.RootAt(n)), kCtRootsHex[n]) << "size " << n;
  }
}

TEST(MerkleKnownAnswer, Rfc6962TestTreeProofs) {
  const MemoryMerkleTree tree = TreeOf(CtLeaves());
  struct InclusionCase {
    uint64_t index, size;
    Hashes proof;
  };
  const std::vector<InclusionCase> inclusion = {
      {0, 8,
       HashesFromHex({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {5, 8,
       HashesFromHex({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 3, HashesFromHex({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
      {1, 5,
       HashesFromHex({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
      {0, 1, {}},
  };
  for (const InclusionCase& c : inclusion) {
    Result<Hashes> proof = InclusionProof(tree, c.index, c.size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, c.proof) << c.index << " in " << c.size;
    EXPECT_TRUE(VerifyInclusion(c.index, c.size, *tree.PerfectNode(0, c.index), c.proof,
                                HashFromHex(kCtRootsHex[c.size]))
                    .ok());
  }
  struct ConsistencyCase {
    uint64_t size1, size2;
    Hashes proof;
  };
  const std::vector<ConsistencyCase> consistency = {
      {1, 1, {}},
      {1, 8,
       HashesFromHex({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {6, 8,
       HashesFromHex({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 5,
       HashesFromHex({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
  for (const ConsistencyCase& c : consistency) {
    Result<Hashes> proof = ConsistencyProof(tree, c.size1, c.size2);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, c.proof) << c.size1 << " -> " << c.size2;
    EXPECT_TRUE(VerifyConsistency(c.size1, c.size2, HashFromHex(kCtRootsHex[c.size1]),
                                  HashFromHex(kCtRootsHex[c.size2]), c.proof)
                    .ok());
  }
}

// ---- Roots and compact ranges against the reference, every size 0..300 ----

TEST(MerkleRoot, MatchesReferenceForEverySizeTo300) {
  const Hashes leaves = RandomLeaves(300, 1);
  MemoryMerkleTree tree;
  CompactRange range;
  EXPECT_EQ(tree.Root(), RefMth({}));
  EXPECT_EQ(range.Root(), RefMth({}));
  for (size_t n = 1; n <= leaves.size(); ++n) {
    tree.Append(leaves[n - 1]);
    range.Append(leaves[n - 1]);
    const Hash32 want = RefMth(Leaves(leaves).first(n));
    ASSERT_EQ(tree.Root(), want) << "size " << n;
    ASSERT_EQ(range.Root(), want) << "size " << n;
    ASSERT_EQ(range.size(), n);
    ASSERT_EQ(range.frontier().size(), static_cast<size_t>(std::popcount(n)));
  }
  // Roots of older sizes from the full tree, as the ledger serves them for old headers.
  for (size_t n = 0; n <= leaves.size(); ++n) {
    ASSERT_EQ(*tree.RootAt(n), RefMth(Leaves(leaves).first(n))) << "size " << n;
  }
  EXPECT_EQ(RootAt(tree, 301).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(tree.RootAt(301).status().code(), StatusCode::kNotFound);
}

TEST(MerkleCompactRange, RestoreFromFrontierAtEverySize) {
  const Hashes leaves = RandomLeaves(300, 2);
  const MemoryMerkleTree full = TreeOf(leaves);
  const Hash32 final_root = full.Root();
  CompactRange range;
  for (size_t n = 0; n <= leaves.size(); ++n) {
    // The frontier is exactly the perfect nodes FrontierIds names, so a store can load them.
    const std::vector<MerkleNodeId> ids = CompactRange::FrontierIds(n);
    ASSERT_EQ(ids.size(), range.frontier().size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(*full.PerfectNode(ids[i].level, ids[i].index), range.frontier()[i]) << n;
    }
    Result<CompactRange> restored = CompactRange::Restore(n, range.frontier());
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    Result<CompactRange> loaded = CompactRange::Load(full, n);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->frontier(), range.frontier());
    EXPECT_EQ(restored->size(), n);
    EXPECT_EQ(restored->Root(), range.Root());
    // A restored range carries on exactly as the original would have (checked for a sample of
    // sizes to keep the test quick: finishing costs O(300) hashes per size).
    if (n % 7 == 0 || std::has_single_bit(n) || std::has_single_bit(n + 1)) {
      for (size_t i = n; i < leaves.size(); ++i) restored->Append(leaves[i]);
      EXPECT_EQ(restored->Root(), final_root) << "restored at " << n;
    }
    if (n < leaves.size()) range.Append(leaves[n]);
  }
  EXPECT_EQ(CompactRange::Restore(5, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactRange::Restore(5, Hashes(3)).status().message(),
            "frontier has 3 hashes; a tree of 5 leaves needs 2");
  EXPECT_TRUE(CompactRange::Restore(0, {}).ok());
  EXPECT_EQ(CompactRange::Load(full, 301).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(CompactRange::FrontierIds(0), std::vector<MerkleNodeId>{});
  EXPECT_EQ(CompactRange::FrontierIds(6), (std::vector<MerkleNodeId>{{2, 0}, {1, 2}}));
  EXPECT_EQ(CompactRange::FrontierIds(UINT64_MAX).size(), 64u);
}

TEST(MerkleCompactRange, AppendReportsEveryPerfectNodeOnce) {
  const Hashes leaves = RandomLeaves(1000, 3);
  const MemoryMerkleTree tree = TreeOf(leaves);
  CompactRange range;
  RecordedNodeSource store;
  std::vector<MerkleNode> completed;
  for (size_t i = 0; i < leaves.size(); ++i) {
    completed.clear();
    range.Append(leaves[i], &completed);
    // The leaf, then one parent per trailing one bit of its index, lowest level first.
    ASSERT_EQ(completed.size(), 1u + std::countr_one(i));
    ASSERT_EQ(completed[0], (MerkleNode{0, i, leaves[i]}));
    for (size_t j = 0; j < completed.size(); ++j) {
      const MerkleNode& node = completed[j];
      ASSERT_EQ(node.level, j);
      ASSERT_EQ(node.hash, *tree.PerfectNode(node.level, node.index));
      store.Add(node);
    }
  }
  // n leaves have 2n - popcount(n) perfect nodes.
  EXPECT_EQ(store.node_count(), 2 * leaves.size() - std::popcount(leaves.size()));
  // The reported nodes serve every proof, reading O(log n) of them.
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t size = 1 + rng() % leaves.size();
    const uint64_t index = rng() % size;
    const uint64_t size1 = rng() % (size + 1);
    store.TakeReads();
    Result<Hashes> proof = InclusionProof(store, index, size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_LE(store.TakeReads(), 2u * std::bit_width(size));
    EXPECT_EQ(*proof, *InclusionProof(tree, index, size));
    Result<Hashes> consistency = ConsistencyProof(store, size1, size);
    ASSERT_TRUE(consistency.ok()) << consistency.status().ToString();
    EXPECT_LE(store.TakeReads(), 3u * std::bit_width(size));
    EXPECT_EQ(*consistency, *ConsistencyProof(tree, size1, size));
    EXPECT_EQ(*RootAt(store, size), *tree.RootAt(size));
    EXPECT_LE(store.TakeReads(), static_cast<size_t>(std::popcount(size)));
  }
}

// ---- Proof generation against the reference, exhaustively for small trees ----

TEST(MerkleInclusion, MatchesReferenceForAllIndicesUpTo64) {
  const Hashes leaves = RandomLeaves(64, 5);
  const MemoryMerkleTree tree = TreeOf(leaves);
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const Leaves d = Leaves(leaves).first(n);
    const Hash32 root = RefMth(d);
    for (uint64_t m = 0; m < n; ++m) {
      Result<Hashes> proof = InclusionProof(tree, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      ASSERT_EQ(*proof, RefPath(m, d)) << m << " in " << n;
      ASSERT_EQ(proof->size(), InclusionProofSize(m, n));
      ASSERT_EQ(proof->size(), RefPathShape(m, n).size());
      const Status s = VerifyInclusion(m, n, leaves[m], *proof, root);
      ASSERT_TRUE(s.ok()) << m << " in " << n << ": " << s.ToString();
    }
  }
}

TEST(MerkleConsistency, MatchesReferenceForAllSizePairsUpTo64) {
  const Hashes leaves = RandomLeaves(64, 6);
  const MemoryMerkleTree tree = TreeOf(leaves);
  for (uint64_t n = 0; n <= leaves.size(); ++n) {
    const Leaves d = Leaves(leaves).first(n);
    for (uint64_t m = 0; m <= n; ++m) {
      Result<Hashes> proof = ConsistencyProof(tree, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      const Hashes want = m == n ? Hashes{} : RefProof(m, d);
      ASSERT_EQ(*proof, want) << m << " -> " << n;
      if (0 < m && m < n) {
        ASSERT_EQ(proof->size(), ConsistencyProofSize(m, n));
      }
      const Status s = VerifyConsistency(m, n, RefMth(d.first(m)), RefMth(d), *proof);
      ASSERT_TRUE(s.ok()) << m << " -> " << n << ": " << s.ToString();
    }
  }
}

// ---- Random trees up to 5,000 leaves: proofs verify, every mutation fails ----

// Tree sizes: every power of two and its neighbours up to 4096, plus random sizes up to 5000.
std::vector<uint64_t> SampleSizes(std::mt19937_64& rng, uint64_t max) {
  std::set<uint64_t> sizes = {1, 2, 3, max};
  for (uint64_t p = 4; p <= max; p *= 2) sizes.insert({p - 1, p, p + 1});
  for (int i = 0; i < 30; ++i) sizes.insert(1 + rng() % max);
  sizes.erase(0);
  std::erase_if(sizes, [&](uint64_t s) { return s > max; });
  return {sizes.begin(), sizes.end()};
}

// Indices below n: all of them for small n, otherwise the ends, both sides of every power of two,
// the middle and random ones.
std::vector<uint64_t> SampleIndices(std::mt19937_64& rng, uint64_t n) {
  std::set<uint64_t> indices;
  if (n <= 64) {
    for (uint64_t i = 0; i < n; ++i) indices.insert(i);
  } else {
    indices = {0, 1, n / 2, n - 2, n - 1};
    for (uint64_t p = 2; p < n; p *= 2) indices.insert({p - 1, p});
    for (int i = 0; i < 16; ++i) indices.insert(rng() % n);
  }
  return {indices.begin(), indices.end()};
}

class MerkleRandomTree : public ::testing::Test {
 protected:
  static constexpr uint64_t kLeaves = 5000;
  static void SetUpTestSuite() {
    leaves_ = new Hashes(RandomLeaves(kLeaves, 7));
    tree_ = new MemoryMerkleTree(TreeOf(*leaves_));
    roots_ = new Hashes(kLeaves + 1);
    CompactRange range;
    for (uint64_t n = 0; n <= kLeaves; ++n) {
      (*roots_)[n] = range.Root();
      if (n < kLeaves) range.Append((*leaves_)[n]);
    }
  }
  static void TearDownTestSuite() {
    delete leaves_;
    delete tree_;
    delete roots_;
  }
  static Hashes* leaves_;
  static MemoryMerkleTree* tree_;
  static Hashes* roots_;  // roots_[n] is the root at size n
};
Hashes* MerkleRandomTree::leaves_ = nullptr;
MemoryMerkleTree* MerkleRandomTree::tree_ = nullptr;
Hashes* MerkleRandomTree::roots_ = nullptr;

TEST_F(MerkleRandomTree, RootsMatchReferenceAtSampledSizes) {
  std::mt19937_64 rng(8);
  for (uint64_t n : SampleSizes(rng, kLeaves)) {
    EXPECT_EQ((*roots_)[n], RefMth(Leaves(*leaves_).first(n))) << n;
    EXPECT_EQ(*tree_->RootAt(n), (*roots_)[n]) << n;
  }
}

TEST_F(MerkleRandomTree, InclusionProofsVerifyAndEveryMutationFails) {
  std::mt19937_64 rng(9);
  const Hashes& leaves = *leaves_;
  const Hashes& roots = *roots_;
  size_t checked = 0;
  size_t indistinguishable_sizes = 0;
  for (uint64_t n : SampleSizes(rng, kLeaves)) {
    const Hash32& root = roots[n];
    for (uint64_t m : SampleIndices(rng, n)) {
      SCOPED_TRACE("leaf " + std::to_string(m) + " of " + std::to_string(n));
      Result<Hashes> generated = InclusionProof(*tree_, m, n);
      ASSERT_TRUE(generated.ok()) << generated.status().ToString();
      const Hashes& proof = *generated;
      if (n <= 600 || checked % 16 == 0) {
        ASSERT_EQ(proof, RefPath(m, Leaves(leaves).first(n)));
      }
      ASSERT_TRUE(VerifyInclusion(m, n, leaves[m], proof, root).ok());
      ++checked;

      // A flipped bit anywhere: each proof hash, the leaf hash, the root.
      for (size_t i = 0; i < proof.size(); ++i) {
        Hashes bad = proof;
        bad[i] = FlipBit(bad[i], rng() % 256);
        EXPECT_EQ(VerifyInclusion(m, n, leaves[m], bad, root).message(), "root mismatch") << i;
      }
      EXPECT_FALSE(VerifyInclusion(m, n, FlipBit(leaves[m], rng() % 256), proof, root).ok());
      EXPECT_FALSE(VerifyInclusion(m, n, leaves[m], proof, FlipBit(root, rng() % 256)).ok());
      // Another leaf's hash, or another size's root.
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion(m, n, leaves[(m + 1) % n], proof, root).ok());
        EXPECT_FALSE(VerifyInclusion(m, n, leaves[m], proof, roots[n - 1]).ok());
      }
      // Wrong index: every other leaf's position for small trees, neighbours otherwise.
      for (uint64_t other : {m - 1, m + 1, m ^ 1, m + n, uint64_t{UINT64_MAX}}) {
        if (other == m) continue;
        EXPECT_FALSE(VerifyInclusion(other, n, leaves[m], proof, root).ok()) << other;
      }
      // Wrong size: rejected unless the RFC path has the same shape at both sizes, in which
      // case no verifier can tell them apart (the hashes are genuine; only the claimed size
      // differs). The shape comes from the reference recursion, not from the verifier.
      for (uint64_t other : {n - 1, n + 1, 2 * n, n / 2}) {
        if (other == n) continue;
        const bool same_shape = m < other && RefPathShape(m, other) == RefPathShape(m, n);
        EXPECT_EQ(VerifyInclusion(m, other, leaves[m], proof, root).ok(), same_shape) << other;
        indistinguishable_sizes += same_shape;
      }
      // Dropped and extra elements.
      if (!proof.empty()) {
        for (size_t i : {size_t{0}, proof.size() - 1}) {
          Hashes bad = proof;
          bad.erase(bad.begin() + static_cast<ptrdiff_t>(i));
          EXPECT_TRUE(
              VerifyInclusion(m, n, leaves[m], bad, root).message().starts_with("proof too short"));
        }
      }
      for (const Hash32& extra : {root, proof.empty() ? root : proof.back(), leaves[m]}) {
        Hashes appended = proof;
        appended.push_back(extra);
        EXPECT_EQ(VerifyInclusion(m, n, leaves[m], appended, root).message(),
                  "proof has 1 extra hash");
        Hashes prepended = proof;
        prepended.insert(prepended.begin(), extra);
        EXPECT_FALSE(VerifyInclusion(m, n, leaves[m], prepended, root).ok());
      }
    }
  }
  EXPECT_GT(checked, 500u);
  // The shape argument above is not vacuous: some ±1 sizes do share shapes (e.g. leaf 0 of 6
  // and of 7), and the test accepts exactly those.
  EXPECT_GT(indistinguishable_sizes, 0u);
}

TEST_F(MerkleRandomTree, ConsistencyProofsVerifyAndEveryMutationFails) {
  std::mt19937_64 rng(10);
  const Hashes& roots = *roots_;
  size_t checked = 0;
  for (uint64_t n : SampleSizes(rng, kLeaves)) {
    std::vector<uint64_t> olds = SampleIndices(rng, n);  // sizes below n...
    olds.push_back(n);                                   // ...and n itself
    for (uint64_t m : olds) {
      SCOPED_TRACE(std::to_string(m) + " -> " + std::to_string(n));
      Result<Hashes> generated = ConsistencyProof(*tree_, m, n);
      ASSERT_TRUE(generated.ok()) << generated.status().ToString();
      const Hashes& proof = *generated;
      if (m < n && (n <= 600 || checked % 16 == 0)) {
        ASSERT_EQ(proof, RefProof(m, Leaves(*leaves_).first(n)));
      }
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], proof).ok());
      ++checked;

      if (m == 0) {
        // The empty tree: anything but an empty proof and the empty root fails.
        EXPECT_FALSE(VerifyConsistency(0, n, roots[0], roots[n], Hashes{roots[n]}).ok());
        EXPECT_FALSE(VerifyConsistency(0, n, FlipBit(roots[0], 3), roots[n], proof).ok());
        continue;
      }
      for (size_t i = 0; i < proof.size(); ++i) {
        Hashes bad = proof;
        bad[i] = FlipBit(bad[i], rng() % 256);
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad).ok()) << i;
      }
      EXPECT_FALSE(VerifyConsistency(m, n, FlipBit(roots[m], rng() % 256), roots[n], proof).ok());
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], FlipBit(roots[n], rng() % 256), proof).ok());
      if (m != n) {
        EXPECT_FALSE(VerifyConsistency(m, n, roots[n], roots[m], proof).ok()) << "swapped roots";
        EXPECT_EQ(VerifyConsistency(n, m, roots[n], roots[m], proof).message(),
                  "size1 " + std::to_string(n) + " > size2 " + std::to_string(m));
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[m], proof).ok());
      }
      // Wrong sizes, with the same shape caveat as for inclusion.
      auto shape = [](uint64_t a, uint64_t b) {
        return a == b ? std::string("=") : RefSubproofShape(a, b, true);
      };
      for (auto [m2, n2] : {std::pair{m - 1, n}, {m + 1, n}, {m, n - 1}, {m, n + 1}}) {
        if (m2 == 0 || m2 > n2) {
          EXPECT_FALSE(VerifyConsistency(m2, n2, roots[m], roots[n], proof).ok());
          continue;
        }
        const bool same_shape = shape(m2, n2) == shape(m, n);
        EXPECT_EQ(VerifyConsistency(m2, n2, roots[m], roots[n], proof).ok(), same_shape)
            << m2 << " -> " << n2;
      }
      // Dropped and extra elements.
      if (!proof.empty()) {
        Hashes dropped_last(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], dropped_last).ok());
        Hashes dropped_first(proof.begin() + 1, proof.end());
        EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], dropped_first).ok());
      }
      Hashes appended = proof;
      appended.push_back(roots[n]);
      EXPECT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], appended)
                      .message()
                      .starts_with("proof has 1 extra hash"));
      Hashes prepended = proof;
      prepended.insert(prepended.begin(), roots[m]);
      EXPECT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], prepended).ok());
    }
  }
  EXPECT_GT(checked, 500u);
}

// ---- Edge cases (RFC 9162; transparency-dev's verifier tests) ----

TEST(MerkleEdgeCases, InclusionMessages) {
  const Hash32 leaf = LeafHash(AsBytes("x"));
  const Hash32 other = LeafHash(AsBytes("y"));
  EXPECT_EQ(VerifyInclusion(5, 5, leaf, {}, leaf).message(), "leaf index 5 >= tree size 5");
  EXPECT_EQ(VerifyInclusion(0, 0, leaf, {}, EmptyRoot()).message(), "leaf index 0 >= tree size 0");
  EXPECT_EQ(VerifyInclusion(UINT64_MAX, 1, leaf, {}, leaf).message(),
            "leaf index 18446744073709551615 >= tree size 1");
  // A one-leaf tree: the root is the leaf hash and the path is empty.
  EXPECT_TRUE(VerifyInclusion(0, 1, leaf, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(0, 1, leaf, {}, other).message(), "root mismatch");
  EXPECT_EQ(VerifyInclusion(0, 1, leaf, Hashes{other, other}, leaf).message(),
            "proof has 2 extra hashes");
  EXPECT_EQ(VerifyInclusion(0, 2, leaf, {}, NodeHash(leaf, other)).message(),
            "proof too short: 0 hashes, expected 1");
  EXPECT_EQ(VerifyInclusion(3, 8, leaf, Hashes{other}, leaf).message(),
            "proof too short: 1 hash, expected 3");
  EXPECT_TRUE(VerifyInclusion(1, 2, other, Hashes{leaf}, NodeHash(leaf, other)).ok());
  // The empty root is never an inclusion root.
  EXPECT_FALSE(VerifyInclusion(0, 1, leaf, {}, EmptyRoot()).ok());
}

TEST(MerkleEdgeCases, ConsistencyMessages) {
  const Hash32 a = LeafHash(AsBytes("a"));
  const Hash32 b = LeafHash(AsBytes("b"));
  const Hash32 ab = NodeHash(a, b);
  EXPECT_EQ(VerifyConsistency(3, 2, a, b, {}).message(), "size1 3 > size2 2");
  // size1 == size2: empty proof and equal roots.
  EXPECT_TRUE(VerifyConsistency(2, 2, ab, ab, {}).ok());
  EXPECT_EQ(VerifyConsistency(2, 2, ab, a, {}).message(),
            "root mismatch: size1 == size2 but root1 != root2");
  EXPECT_EQ(VerifyConsistency(2, 2, ab, ab, Hashes{a}).message(),
            "proof has 1 extra hash (size1 == size2 needs an empty proof)");
  // size1 == 0: the empty tree is a prefix of every tree.
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_TRUE(VerifyConsistency(0, 2, EmptyRoot(), ab, {}).ok());
  EXPECT_FALSE(VerifyConsistency(0, 0, a, a, {}).ok());
  EXPECT_EQ(VerifyConsistency(0, 2, EmptyRoot(), ab, Hashes{ab}).message(),
            "proof has 1 extra hash (size1 == 0 needs an empty proof)");
  EXPECT_EQ(VerifyConsistency(0, 2, a, ab, {}).message(),
            "root1 mismatch: a tree of size 0 has the empty-tree root");
  // 0 < size1 < size2.
  EXPECT_TRUE(VerifyConsistency(1, 2, a, ab, Hashes{b}).ok());
  EXPECT_EQ(VerifyConsistency(1, 2, a, ab, {}).message(), "proof too short: 0 hashes, expected 1");
  // A power-of-two size1 is its own seed (step 2), so a wrong root1 shows up in root2.
  EXPECT_EQ(VerifyConsistency(1, 2, b, ab, Hashes{b}).message(), "root2 mismatch");
  EXPECT_EQ(VerifyConsistency(1, 2, a, a, Hashes{b}).message(), "root2 mismatch");
  const MemoryMerkleTree tree = TreeOf(Hashes{a, b, a, b});
  const Hashes proof = *ConsistencyProof(tree, 3, 4);
  EXPECT_TRUE(VerifyConsistency(3, 4, *tree.RootAt(3), tree.Root(), proof).ok());
  EXPECT_EQ(VerifyConsistency(3, 4, ab, tree.Root(), proof).message(), "root1 mismatch");
  EXPECT_EQ(VerifyConsistency(3, 4, *tree.RootAt(3), ab, proof).message(), "root2 mismatch");
  EXPECT_EQ(VerifyConsistency(1, 2, a, ab, Hashes{b, b}).message(), "proof has 1 extra hash");
}

TEST(MerkleEdgeCases, HugeSizesNeitherCrashNorAccept) {
  // 64-bit extremes: the walks must stay in range and simply fail on made-up hashes.
  const Hash32 h = LeafHash(AsBytes("h"));
  EXPECT_EQ(InclusionProofSize(0, UINT64_MAX), 64u);
  EXPECT_EQ(InclusionProofSize(UINT64_MAX - 1, UINT64_MAX), 63u);
  EXPECT_LE(ConsistencyProofSize(UINT64_MAX - 1, UINT64_MAX), kConsistencyProofHashesMax);
  EXPECT_LE(ConsistencyProofSize(3, UINT64_MAX), kConsistencyProofHashesMax);
  EXPECT_LE(ConsistencyProofSize(uint64_t{1} << 63, UINT64_MAX), kConsistencyProofHashesMax);
  const Hashes path64(64, h);
  for (uint64_t index : {uint64_t{0}, uint64_t{1} << 63, UINT64_MAX - 1}) {
    EXPECT_EQ(VerifyInclusion(index, UINT64_MAX, h, path64, h).message().substr(0, 5),
              index == UINT64_MAX - 1 ? "proof" : "root ");
  }
  EXPECT_FALSE(VerifyConsistency(UINT64_MAX - 1, UINT64_MAX, h, h, Hashes(65, h)).ok());
  EXPECT_FALSE(VerifyConsistency(1, UINT64_MAX, h, h, Hashes(64, h)).ok());
  EXPECT_FALSE(VerifyConsistency(3, UINT64_MAX, h, h, Hashes(200, h)).ok());
  // The bounds hold for every size pair in a sweep of shapes.
  for (int hi = 1; hi < 64; ++hi) {
    const uint64_t n = (uint64_t{1} << hi) + 1;
    EXPECT_LE(InclusionProofSize(n - 1, n), kInclusionProofHashesMax);
    EXPECT_LE(ConsistencyProofSize(n - 2, n), kConsistencyProofHashesMax);
  }
}

TEST(MerkleEdgeCases, GenerationErrorsAreStatuses) {
  const MemoryMerkleTree tree = TreeOf(RandomLeaves(10, 11));
  EXPECT_EQ(InclusionProof(tree, 5, 5).status().message(), "leaf index 5 >= tree size 5");
  EXPECT_EQ(InclusionProof(tree, 0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(tree, 0, 11).status().message(), "tree size 11 > log size 10");
  EXPECT_EQ(InclusionProof(tree, 0, 11).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ConsistencyProof(tree, 4, 3).status().message(), "size1 4 > size2 3");
  EXPECT_EQ(ConsistencyProof(tree, 4, 11).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(ConsistencyProof(tree, 0, 10)->empty());
  EXPECT_TRUE(ConsistencyProof(tree, 10, 10)->empty());
  EXPECT_TRUE(ConsistencyProof(tree, 0, 0)->empty());
  EXPECT_EQ(tree.PerfectNode(2, 2).status().code(), StatusCode::kNotFound);  // leaves 8..11
  EXPECT_EQ(tree.PerfectNode(9, 0).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(tree.PerfectNode(1, 4).ok());  // leaves 8, 9

  // A store's read error reaches the caller unchanged.
  const FailingNodeSource broken;
  EXPECT_EQ(InclusionProof(broken, 3, 100).status().message(), "disk on fire");
  EXPECT_EQ(ConsistencyProof(broken, 3, 100).status().code(), StatusCode::kIoError);
  EXPECT_EQ(RootAt(broken, 100).status().code(), StatusCode::kIoError);
  EXPECT_EQ(CompactRange::Load(broken, 100).status().code(), StatusCode::kIoError);
  EXPECT_TRUE(RootAt(broken, 0).ok());  // the empty tree needs no reads
}

TEST(MerkleEdgeCases, ByteFormsRejectWrongSizedHashes) {
  const Hash32 a = LeafHash(AsBytes("a"));
  const Hash32 b = LeafHash(AsBytes("b"));
  const Bytes ab = [&] {
    Hash32 h = NodeHash(a, b);
    return Bytes(h.begin(), h.end());
  }();
  const Bytes a_bytes(a.begin(), a.end());
  const Bytes b_bytes(b.begin(), b.end());
  const Bytes short_hash(31, 0);
  EXPECT_TRUE(VerifyInclusion(0, 2, a_bytes, std::vector<Bytes>{b_bytes}, ab).ok());
  EXPECT_EQ(VerifyInclusion(0, 2, short_hash, std::vector<Bytes>{b_bytes}, ab).message(),
            "leafHash is 31 bytes, not 32");
  EXPECT_EQ(VerifyInclusion(0, 2, a_bytes, std::vector<Bytes>{b_bytes}, Bytes{}).message(),
            "root is 0 bytes, not 32");
  EXPECT_EQ(VerifyInclusion(0, 2, a_bytes, std::vector<Bytes>{b_bytes, Bytes{}}, ab).message(),
            "proof[1] is 0 bytes, not 32");
  Bytes long_hash = b_bytes;
  long_hash.push_back(0);
  EXPECT_EQ(VerifyInclusion(0, 2, a_bytes, std::vector<Bytes>{long_hash}, ab).message(),
            "proof[0] is 33 bytes, not 32");
  EXPECT_TRUE(VerifyConsistency(1, 2, a_bytes, ab, std::vector<Bytes>{b_bytes}).ok());
  EXPECT_EQ(VerifyConsistency(1, 2, short_hash, ab, std::vector<Bytes>{b_bytes}).message(),
            "root1 is 31 bytes, not 32");
  EXPECT_EQ(VerifyConsistency(1, 2, a_bytes, long_hash, std::vector<Bytes>{b_bytes}).message(),
            "root2 is 33 bytes, not 32");
  EXPECT_EQ(VerifyConsistency(1, 2, a_bytes, ab, std::vector<Bytes>{short_hash}).message(),
            "proof[0] is 31 bytes, not 32");
}

// ---- JSON documents ----

// transparency-dev/merkle testdata/inclusion/1/happy-path.json (the RFC 6962 tree, leaf 0 of 8).
constexpr std::string_view kVectorInclusion =
    R"({"leafIdx":0,"treeSize":8,"root":"XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",)"
    R"("leafHash":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=","proof":[)"
    R"("lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=","Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",)"
    R"("a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="],"desc":"happy path","wantErr":false})";

TEST(MerkleJson, PublicVectorFormatDecodesAndVerifies) {
  Result<InclusionProofDoc> doc = DecodeInclusionProofJson(kVectorInclusion);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->leaf_index, 0u);
  EXPECT_EQ(doc->tree_size, 8u);
  EXPECT_EQ(HexEncode(doc->root), kCtRootsHex[8]);
  EXPECT_EQ(HexEncode(doc->leaf_hash), kCtRootsHex[1]);
  EXPECT_EQ(doc->proof.size(), 3u);
  EXPECT_TRUE(VerifyInclusionProofDoc(*doc).ok());
  // Encoding gives back the same fields, minus the vector's own "desc" and "wantErr".
  EXPECT_EQ(EncodeInclusionProofJson(*doc),
            std::string(kVectorInclusion.substr(0, kVectorInclusion.find(",\"desc\""))) + "}");

  // "proof": null is the vectors' empty proof.
  Result<ConsistencyProofDoc> same = DecodeConsistencyProofJson(
      R"({"size1":1,"size2":1,"root1":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",)"
      R"("root2":"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=","proof":null})");
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->proof.empty());
  EXPECT_TRUE(VerifyConsistencyProofDoc(*same).ok());

  // "trailing garbage": an empty string in the proof is a proof that fails, not a bad document.
  std::string garbage(kVectorInclusion);
  garbage.replace(garbage.find("\"],"), 3, "\",\"\"],");
  Result<InclusionProofDoc> trailing = DecodeInclusionProofJson(garbage);
  ASSERT_TRUE(trailing.ok()) << trailing.status().ToString();
  EXPECT_EQ(VerifyInclusionProofDoc(*trailing).message(), "proof[3] is 0 bytes, not 32");

  // leafIdx - 1 wraps to 2^64 - 1 in the vectors: it parses and fails verification.
  std::string wrapped(kVectorInclusion);
  wrapped.replace(wrapped.find("\"leafIdx\":0"), 11, "\"leafIdx\":18446744073709551615");
  Result<InclusionProofDoc> big = DecodeInclusionProofJson(wrapped);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->leaf_index, UINT64_MAX);
  EXPECT_EQ(VerifyInclusionProofDoc(*big).message(),
            "leaf index 18446744073709551615 >= tree size 8");
}

TEST(MerkleJson, RoundTripsGeneratedProofs) {
  const Hashes leaves = RandomLeaves(37, 12);
  const MemoryMerkleTree tree = TreeOf(leaves);
  for (uint64_t m = 0; m < 37; ++m) {
    const InclusionProofDoc doc =
        MakeInclusionProofDoc(m, 37, leaves[m], *InclusionProof(tree, m, 37), tree.Root());
    Result<InclusionProofDoc> back = DecodeInclusionProofJson(EncodeInclusionProofJson(doc));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->leaf_index, doc.leaf_index);
    EXPECT_EQ(back->tree_size, doc.tree_size);
    EXPECT_EQ(back->root, doc.root);
    EXPECT_EQ(back->leaf_hash, doc.leaf_hash);
    EXPECT_EQ(back->proof, doc.proof);
    EXPECT_TRUE(VerifyInclusionProofDoc(*back).ok());

    const ConsistencyProofDoc cdoc = MakeConsistencyProofDoc(m, 37, *tree.RootAt(m), tree.Root(),
                                                             *ConsistencyProof(tree, m, 37));
    Result<ConsistencyProofDoc> cback =
        DecodeConsistencyProofJson(EncodeConsistencyProofJson(cdoc));
    ASSERT_TRUE(cback.ok()) << cback.status().ToString();
    EXPECT_EQ(cback->size1, cdoc.size1);
    EXPECT_EQ(cback->size2, cdoc.size2);
    EXPECT_EQ(cback->root1, cdoc.root1);
    EXPECT_EQ(cback->root2, cdoc.root2);
    EXPECT_EQ(cback->proof, cdoc.proof);
    EXPECT_TRUE(VerifyConsistencyProofDoc(*cback).ok());
  }
}

TEST(MerkleJson, MalformedDocumentsNameTheProblem) {
  const std::string h = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=";
  auto inclusion = [&](const std::string& fields) {
    return DecodeInclusionProofJson("{" + fields + "}").status().message();
  };
  const std::string ok_rest = R"("root":")" + h + R"(","leafHash":")" + h + R"(","proof":[])";
  EXPECT_TRUE(DecodeInclusionProofJson(R"({"leafIdx":0,"treeSize":1,)" + ok_rest + "}").ok());
  EXPECT_EQ(inclusion(R"("treeSize":1,)" + ok_rest), "missing field \"leafIdx\"");
  EXPECT_EQ(inclusion(R"("leafIdx":0,)" + ok_rest), "missing field \"treeSize\"");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"leafHash":")" + h + R"(","proof":[])"),
            "missing field \"root\"");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","proof":[])"),
            "missing field \"leafHash\"");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","leafHash":")" + h + "\""),
            "missing field \"proof\"");
  for (const char* bad :
       {"-1", "1.5", "1e3", "\"1\"", "null", "true", "[]", "18446744073709551616"}) {
    EXPECT_EQ(inclusion(std::string(R"("leafIdx":)") + bad + R"(,"treeSize":1,)" + ok_rest),
              "field \"leafIdx\": expected a non-negative integer")
        << bad;
  }
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":-5,)" + ok_rest),
            "field \"treeSize\": expected a non-negative integer");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"root":7,"leafHash":")" + h + R"(","proof":[])"),
            "field \"root\": expected a base64 string");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","leafHash":")" + h +
                      R"(","proof":"x")"),
            "field \"proof\": expected an array of base64 strings or null");
  EXPECT_EQ(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","leafHash":")" + h +
                      R"(","proof":[")" + h + R"(",5])"),
            "field \"proof[1]\": expected a base64 string");
  EXPECT_TRUE(
      inclusion(R"("leafIdx":0,"treeSize":1,"root":"!!!!","leafHash":")" + h + R"(","proof":[])")
          .starts_with("field \"root\": base64: "));
  // Unpadded and URL-safe base64 are not the standard encoding.
  EXPECT_TRUE(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h.substr(0, 43) +
                        R"(","leafHash":")" + h + R"(","proof":[])")
                  .starts_with("field \"root\": base64: "));
  EXPECT_TRUE(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","leafHash":")" + h +
                        R"(","proof":["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh-QQt4YwoJz8c="]])")
                  .starts_with("not JSON"));
  EXPECT_TRUE(inclusion(R"("leafIdx":0,"treeSize":1,"root":")" + h + R"(","leafHash":")" + h +
                        R"(","proof":["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh-QQt4YwoJz8c="])")
                  .starts_with("field \"proof[0]\": base64: "));

  EXPECT_TRUE(DecodeInclusionProofJson("").status().message().starts_with("not JSON"));
  EXPECT_TRUE(DecodeInclusionProofJson("{").status().message().starts_with("not JSON"));
  EXPECT_TRUE(DecodeInclusionProofJson("{} {}").status().message().starts_with("not JSON"));
  EXPECT_EQ(DecodeInclusionProofJson("[1,2]").status().message(), "not a JSON object");
  EXPECT_EQ(DecodeConsistencyProofJson("42").status().message(), "not a JSON object");
  EXPECT_EQ(DecodeInclusionProofJson(std::string(kProofJsonBytesMax + 1, ' ')).status().message(),
            "document is 65537 bytes, larger than 65536");
  EXPECT_EQ(DecodeConsistencyProofJson(R"({"size1":1,"size2":2,"root1":")" + h + R"(","proof":[]})")
                .status()
                .message(),
            "missing field \"root2\"");
  EXPECT_EQ(DecodeConsistencyProofJson(R"({"size1":-1})").status().message(),
            "field \"size1\": expected a non-negative integer");
  EXPECT_EQ(DecodeConsistencyProofJson(R"({"size1":1})").status().message(),
            "missing field \"size2\"");
  EXPECT_EQ(DecodeInclusionProofJson(R"({"leafIdx":0})").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hc::crypto

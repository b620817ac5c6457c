#include "crypto/merkle.h"

#include <bit>
#include <string>
#include <utility>

#include "common/assert.h"
#include "crypto/hash.h"

namespace hc::crypto {
namespace {

// A tree of 2^64 - 1 leaves has 64 levels above the leaves.
constexpr uint32_t kLevelsMax = 64;

Sha256Hasher& Hasher() {
  thread_local Sha256Hasher hasher;
  return hasher;
}

std::string Plural(size_t n, const char* noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "es");
}

Status CheckTreeSize(const MerkleNodeSource& source, uint64_t tree_size) {
  if (tree_size > source.size()) {
    return NotFound("tree size " + std::to_string(tree_size) + " > log size " +
                    std::to_string(source.size()));
  }
  return Status::Ok();
}

// MTH(D[begin:end]) for a range the RFC's recursion produces: non-empty and starting at a multiple
// of bit_floor(end - begin), within the source. RFC 9162 §2.1.1 splits D[n] at the largest power
// of two k < n into a perfect left subtree and the rest, so the range is a run of perfect nodes,
// one per set bit of its length, highest first, folded right to left.
Result<Hash32> RangeHash(const MerkleNodeSource& source, uint64_t begin, uint64_t end) {
  HC_ASSERT_LT(begin, end);
  const uint64_t n = end - begin;
  HC_ASSERT_EQ(begin & (std::bit_floor(n) - 1), uint64_t{0});
  Hash32 nodes[kLevelsMax];
  int count = 0;
  uint64_t offset = begin;
  for (int level = kLevelsMax - 1; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((n & width) == 0) continue;
    HC_ASSIGN_OR_RETURN(nodes[count],
                        source.PerfectNode(static_cast<uint32_t>(level), offset >> level));
    ++count;
    offset += width;
  }
  Hash32 hash = nodes[count - 1];
  for (int i = count - 2; i >= 0; --i) hash = NodeHash(nodes[i], hash);
  return hash;
}

// SUBPROOF(m, D[begin:begin+n], b) of RFC 9162 §2.1.4.1, appended to *proof. 0 < m <= n.
// Recursion depth is at most 64: n at least halves every second call.
Status SubProof(const MerkleNodeSource& source, uint64_t begin, uint64_t m, uint64_t n,
                bool complete, std::vector<Hash32>* proof) {
  if (m == n) {
    // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    if (!complete) {
      HC_ASSIGN_OR_RETURN(Hash32 hash, RangeHash(source, begin, begin + n));
      proof->push_back(hash);
    }
    return Status::Ok();
  }
  const uint64_t k = std::bit_floor(n - 1);  // the largest power of two smaller than n
  if (m <= k) {
    // The old tree lies in the left subtree; the right one is new.
    HC_RETURN_IF_ERROR(SubProof(source, begin, m, k, complete, proof));
    HC_ASSIGN_OR_RETURN(Hash32 right, RangeHash(source, begin + k, begin + n));
    proof->push_back(right);
  } else {
    // The left subtree is complete in both trees; the old tree continues into the right one.
    HC_RETURN_IF_ERROR(SubProof(source, begin + k, m - k, n - k, false, proof));
    HC_ASSIGN_OR_RETURN(Hash32 left, RangeHash(source, begin, begin + k));
    proof->push_back(left);
  }
  return Status::Ok();
}

// The RFC 9162 verifiers walk (fn, sn) up the tree; these replay the walk without hashing to count
// the hashes a proof must hold. Each step shifts sn right at least once, so it ends within 64.
void SkipRightmostLevels(uint64_t& fn, uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

size_t CountPathSteps(uint64_t fn, uint64_t sn) {
  size_t steps = 0;
  while (sn != 0) {
    if ((fn & 1) == 0 && fn == sn) SkipRightmostLevels(fn, sn);
    fn >>= 1;
    sn >>= 1;
    ++steps;
  }
  return steps;
}

Status CheckHashSize(ByteView hash, const std::string& what) {
  if (hash.size() != 32) {
    return InvalidArgument(what + " is " + std::to_string(hash.size()) + " bytes, not 32");
  }
  return Status::Ok();
}

Result<std::vector<Hash32>> ToHashes(std::span<const Bytes> proof) {
  std::vector<Hash32> hashes;
  hashes.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    HC_RETURN_IF_ERROR(CheckHashSize(proof[i], "proof[" + std::to_string(i) + "]"));
    hashes.push_back(ToHash32(proof[i]));
  }
  return hashes;
}

}  // namespace

Hash32 LeafHash(ByteView entry) {
  return Hasher().UpdateByte(kLeafHashPrefix).Update(entry).Final();
}

Hash32 NodeHash(const Hash32& left, const Hash32& right) {
  return Hasher().UpdateByte(kNodeHashPrefix).Update(left).Update(right).Final();
}

Hash32 EmptyRoot() {
  // Computed once: e3b0c442...b855.
  static const Hash32 kEmptyRoot = Sha256(ByteView());
  return kEmptyRoot;
}

// ---- MemoryMerkleTree ----

MemoryMerkleTree::MemoryMerkleTree() {
  // Never reallocated, so references into a level stay valid while a higher level grows.
  levels_.reserve(kLevelsMax + 1);
  levels_.emplace_back();
}

void MemoryMerkleTree::Append(const Hash32& leaf_hash) {
  HC_ASSERT_LT(size(), UINT64_MAX);
  uint64_t index = levels_[0].size();
  levels_[0].push_back(leaf_hash);
  // The new leaf completes one parent per trailing one bit of its index.
  for (uint32_t level = 0; (index & 1) != 0; ++level) {
    const std::vector<Hash32>& nodes = levels_[level];
    const Hash32 parent = NodeHash(nodes[index - 1], nodes[index]);
    index >>= 1;
    if (levels_.size() == level + 1) levels_.emplace_back();
    levels_[level + 1].push_back(parent);
  }
}

uint64_t MemoryMerkleTree::size() const { return levels_[0].size(); }

Result<Hash32> MemoryMerkleTree::PerfectNode(uint32_t level, uint64_t index) const {
  if (level >= levels_.size() || index >= levels_[level].size()) {
    return NotFound("no perfect node (" + std::to_string(level) + ", " + std::to_string(index) +
                    ") in a tree of " + std::to_string(size()) + " leaves");
  }
  return levels_[level][index];
}

Hash32 MemoryMerkleTree::Root() const {
  Result<Hash32> root = crypto::RootAt(*this, size());
  HC_ASSERT(root.ok());
  return *root;
}

Result<Hash32> MemoryMerkleTree::RootAt(uint64_t tree_size) const {
  return crypto::RootAt(*this, tree_size);
}

// ---- CompactRange ----

CompactRange::CompactRange() { frontier_.reserve(kLevelsMax); }

CompactRange::CompactRange(uint64_t size, std::vector<Hash32> frontier)
    : size_(size), frontier_(std::move(frontier)) {
  frontier_.reserve(kLevelsMax);
}

std::vector<MerkleNodeId> CompactRange::FrontierIds(uint64_t size) {
  std::vector<MerkleNodeId> ids;
  ids.reserve(std::popcount(size));
  for (int level = kLevelsMax - 1; level >= 0; --level) {
    // The set bit `level` of size is a perfect node ending where the higher bits' nodes end.
    if ((size >> level) & 1) ids.push_back({static_cast<uint32_t>(level), (size >> level) - 1});
  }
  return ids;
}

Result<CompactRange> CompactRange::Restore(uint64_t size, std::vector<Hash32> frontier) {
  const size_t want = std::popcount(size);
  if (frontier.size() != want) {
    return InvalidArgument("frontier has " + Plural(frontier.size(), "hash") + "; a tree of " +
                           std::to_string(size) + " leaves needs " + std::to_string(want));
  }
  return CompactRange(size, std::move(frontier));
}

Result<CompactRange> CompactRange::Load(const MerkleNodeSource& source, uint64_t size) {
  HC_RETURN_IF_ERROR(CheckTreeSize(source, size));
  std::vector<Hash32> frontier;
  frontier.reserve(kLevelsMax);
  for (const MerkleNodeId& id : FrontierIds(size)) {
    HC_ASSIGN_OR_RETURN(Hash32 hash, source.PerfectNode(id.level, id.index));
    frontier.push_back(hash);
  }
  return CompactRange(size, std::move(frontier));
}

void CompactRange::Append(const Hash32& leaf_hash, std::vector<MerkleNode>* completed) {
  HC_ASSERT_LT(size_, UINT64_MAX);
  const uint64_t index = size_;
  Hash32 hash = leaf_hash;
  if (completed != nullptr) completed->push_back({0, index, hash});
  // Each trailing one bit of the index is a frontier node of the same level, left of the new one:
  // merge them. index < 2^64 - 1 has a zero bit, so this ends below level 64.
  uint32_t level = 0;
  while ((index >> level) & 1) {
    HC_ASSERT(!frontier_.empty());
    hash = NodeHash(frontier_.back(), hash);
    frontier_.pop_back();
    ++level;
    if (completed != nullptr) completed->push_back({level, index >> level, hash});
  }
  frontier_.push_back(hash);
  ++size_;
}

Hash32 CompactRange::Root() const {
  if (frontier_.empty()) return EmptyRoot();
  // RFC 9162 §2.1.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of
  // two below n; the frontier's first node is D[0:k], the rest fold into D[k:n].
  Hash32 hash = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) hash = NodeHash(frontier_[i], hash);
  return hash;
}

// ---- Proof generation ----

Result<Hash32> RootAt(const MerkleNodeSource& source, uint64_t tree_size) {
  HC_RETURN_IF_ERROR(CheckTreeSize(source, tree_size));
  if (tree_size == 0) return EmptyRoot();
  return RangeHash(source, 0, tree_size);
}

Result<std::vector<Hash32>> InclusionProof(const MerkleNodeSource& source, uint64_t leaf_index,
                                           uint64_t tree_size) {
  HC_RETURN_IF_ERROR(CheckTreeSize(source, tree_size));
  if (leaf_index >= tree_size) {
    return InvalidArgument("leaf index " + std::to_string(leaf_index) + " >= tree size " +
                           std::to_string(tree_size));
  }
  // Walk from the leaf to the root level by level. At each level the path node is
  // leaf_index >> level; its sibling goes into the proof. A left sibling is always a perfect node.
  // A right sibling may run past the tree's end (only at the one level where the path leaves the
  // subtree holding the last leaf): its hash is then folded from perfect nodes. The rightmost node
  // of a level with no sibling is carried up unchanged, which is RFC 9162's PATH recursion.
  std::vector<Hash32> proof;
  proof.reserve(InclusionProofSize(leaf_index, tree_size));
  const uint64_t last = tree_size - 1;
  for (uint32_t level = 0; level < kLevelsMax && (last >> level) != 0; ++level) {
    const uint64_t node = leaf_index >> level;
    if ((node & 1) != 0) {
      HC_ASSIGN_OR_RETURN(Hash32 left, source.PerfectNode(level, node - 1));
      proof.push_back(left);
    } else if (node < (last >> level)) {
      const uint64_t begin = (node + 1) << level;
      const uint64_t width = uint64_t{1} << level;
      const uint64_t end = tree_size - begin > width ? begin + width : tree_size;
      HC_ASSIGN_OR_RETURN(Hash32 right, RangeHash(source, begin, end));
      proof.push_back(right);
    }
  }
  return proof;
}

Result<std::vector<Hash32>> ConsistencyProof(const MerkleNodeSource& source, uint64_t size1,
                                             uint64_t size2) {
  if (size1 > size2) {
    return InvalidArgument("size1 " + std::to_string(size1) + " > size2 " + std::to_string(size2));
  }
  HC_RETURN_IF_ERROR(CheckTreeSize(source, size2));
  std::vector<Hash32> proof;
  if (size1 == 0 || size1 == size2) return proof;
  proof.reserve(ConsistencyProofSize(size1, size2));
  HC_RETURN_IF_ERROR(SubProof(source, 0, size1, size2, true, &proof));
  return proof;
}

size_t InclusionProofSize(uint64_t leaf_index, uint64_t tree_size) {
  HC_ASSERT_LT(leaf_index, tree_size);
  return CountPathSteps(leaf_index, tree_size - 1);
}

size_t ConsistencyProofSize(uint64_t size1, uint64_t size2) {
  HC_ASSERT_LT(uint64_t{0}, size1);
  HC_ASSERT_LT(size1, size2);
  // Steps 2-5 of RFC 9162 §2.1.4.2: the first hash (root1 itself when size1 is a power of two, so
  // not sent), then one per step of the walk.
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  return (std::has_single_bit(size1) ? 0 : 1) + CountPathSteps(fn, sn);
}

// ---- Verification ----

Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash32& leaf_hash,
                       std::span<const Hash32> proof, const Hash32& root) {
  // RFC 9162 §2.1.3.2, step by step.
  // 1. leaf_index must be inside the tree.
  if (leaf_index >= tree_size) {
    return InvalidArgument("leaf index " + std::to_string(leaf_index) + " >= tree size " +
                           std::to_string(tree_size));
  }
  // 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash32 r = leaf_hash;
  // 4. For each p in the path:
  for (size_t i = 0; i < proof.size(); ++i) {
    // a. sn == 0 means the walk reached the root with hashes left over.
    if (sn == 0) return InvalidArgument("proof has " + Plural(proof.size() - i, "extra hash"));
    const Hash32& p = proof[i];
    if ((fn & 1) != 0 || fn == sn) {
      // b. p is a left sibling; a rightmost node without a sibling is carried up first.
      r = NodeHash(p, r);
      if ((fn & 1) == 0) SkipRightmostLevels(fn, sn);
    } else {
      // Otherwise p is a right sibling.
      r = NodeHash(r, p);
    }
    // c. Up one level.
    fn >>= 1;
    sn >>= 1;
  }
  // 5. The walk must have reached the root, and the root must match.
  if (sn != 0) {
    return InvalidArgument("proof too short: " + Plural(proof.size(), "hash") + ", expected " +
                           std::to_string(InclusionProofSize(leaf_index, tree_size)));
  }
  if (r != root) return InvalidArgument("root mismatch");
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash32& root1, const Hash32& root2,
                         std::span<const Hash32> proof) {
  if (size1 > size2) {
    return InvalidArgument("size1 " + std::to_string(size1) + " > size2 " + std::to_string(size2));
  }
  if (size1 == size2) {
    // A tree is consistent with itself: nothing to prove, and the roots must agree.
    if (!proof.empty()) {
      return InvalidArgument("proof has " + Plural(proof.size(), "extra hash") +
                             " (size1 == size2 needs an empty proof)");
    }
    if (root1 != root2) return InvalidArgument("root mismatch: size1 == size2 but root1 != root2");
  }
  if (size1 == 0) {
    // The empty tree is a prefix of every tree; RFC 9162 gives it an empty proof.
    if (!proof.empty()) {
      return InvalidArgument("proof has " + Plural(proof.size(), "extra hash") +
                             " (size1 == 0 needs an empty proof)");
    }
    if (root1 != EmptyRoot()) {
      return InvalidArgument("root1 mismatch: a tree of size 0 has the empty-tree root");
    }
    return Status::Ok();
  }
  if (size1 == size2) return Status::Ok();

  // RFC 9162 §2.1.4.2 for 0 < size1 < size2, step by step.
  // 1. An empty path fails.
  if (proof.empty()) {
    return InvalidArgument("proof too short: 0 hashes, expected " +
                           std::to_string(ConsistencyProofSize(size1, size2)));
  }
  // 2. If size1 is a power of two, root1 is the path's first element (the old tree is a perfect
  //    subtree of the new one, so its root is a node on the path).
  const bool root1_first = std::has_single_bit(size1);
  // 3. fn = size1 - 1, sn = size2 - 1.
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  // 4. Climb while fn is a right child: those levels lie inside the old tree's last perfect node.
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  // 5. fr = sr = the first element.
  size_t next = 0;
  Hash32 fr = root1_first ? root1 : proof[next++];
  Hash32 sr = fr;
  // 6. For each subsequent element c:
  for (; next < proof.size(); ++next) {
    // a. sn == 0 means the walk reached the root with hashes left over.
    if (sn == 0) return InvalidArgument("proof has " + Plural(proof.size() - next, "extra hash"));
    const Hash32& c = proof[next];
    if ((fn & 1) != 0 || fn == sn) {
      // b. c is a left sibling in both trees.
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) SkipRightmostLevels(fn, sn);
    } else {
      // Otherwise c is a right sibling that only the new tree has.
      sr = NodeHash(sr, c);
    }
    // c. Up one level.
    fn >>= 1;
    sn >>= 1;
  }
  // 7. Both walks must have reached their roots, and both roots must match.
  if (sn != 0) {
    return InvalidArgument("proof too short: " + Plural(proof.size(), "hash") + ", expected " +
                           std::to_string(ConsistencyProofSize(size1, size2)));
  }
  if (fr != root1) return InvalidArgument("root1 mismatch");
  if (sr != root2) return InvalidArgument("root2 mismatch");
  return Status::Ok();
}

Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, ByteView leaf_hash,
                       std::span<const Bytes> proof, ByteView root) {
  HC_RETURN_IF_ERROR(CheckHashSize(leaf_hash, "leafHash"));
  HC_RETURN_IF_ERROR(CheckHashSize(root, "root"));
  HC_ASSIGN_OR_RETURN(std::vector<Hash32> hashes, ToHashes(proof));
  return VerifyInclusion(leaf_index, tree_size, ToHash32(leaf_hash), hashes, ToHash32(root));
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, ByteView root1, ByteView root2,
                         std::span<const Bytes> proof) {
  HC_RETURN_IF_ERROR(CheckHashSize(root1, "root1"));
  HC_RETURN_IF_ERROR(CheckHashSize(root2, "root2"));
  HC_ASSIGN_OR_RETURN(std::vector<Hash32> hashes, ToHashes(proof));
  return VerifyConsistency(size1, size2, ToHash32(root1), ToHash32(root2), hashes);
}

}  // namespace hc::crypto

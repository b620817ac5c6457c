// The RFC 9162 (Certificate Transparency v2) Merkle tree behind the ledger's entry log
// (DESIGN.md §2): hashing, roots, inclusion and consistency proofs, and their verification.
//
//   leaf hash   LeafHash(entry)  = SHA-256(0x00 || entry)
//   node hash   NodeHash(l, r)   = SHA-256(0x01 || l || r)
//   empty tree  EmptyRoot()      = SHA-256("")
//
// Storage model. A tree of n leaves is stored as its *perfect nodes*: node (level, index) is the
// root of the complete subtree over leaves [index * 2^level, (index + 1) * 2^level); level 0 holds
// the leaf hashes. Every such node that is complete within n is immutable once the log reaches it,
// so a store can persist it the moment it is completed (CompactRange::Append reports them). The
// hash of any other range the RFC's recursion needs is folded from at most 64 perfect nodes, so
// RootAt, InclusionProof and ConsistencyProof read O(log n) nodes from a MerkleNodeSource, for the
// current size or any earlier one.
//
// Thread safety: the free functions are safe from any thread (hashing uses a thread_local EVP
// context). MemoryMerkleTree and CompactRange are not synchronised: concurrent const calls are
// safe, anything concurrent with Append is not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace hc::crypto {

// Tree sizes are 64-bit, so a tree has at most 64 levels above its leaves: an audit path holds at
// most one hash per level, and a consistency proof at most one more (RFC 9162 §2.1.4.2 consumes a
// first hash and then one per level).
inline constexpr size_t kInclusionProofHashesMax = 64;
inline constexpr size_t kConsistencyProofHashesMax = 65;

// The domain bytes of RFC 9162 §2.1.1.
inline constexpr uint8_t kLeafHashPrefix = 0x00;
inline constexpr uint8_t kNodeHashPrefix = 0x01;

// SHA-256(0x00 || entry).
Hash32 LeafHash(ByteView entry);
// SHA-256(0x01 || left || right).
Hash32 NodeHash(const Hash32& left, const Hash32& right);
// SHA-256 of the empty string: the root of the tree with no leaves.
Hash32 EmptyRoot();

// A perfect node: the root of the complete subtree over leaves
// [index * 2^level, (index + 1) * 2^level). Level 0 nodes are leaf hashes.
struct MerkleNodeId {
  uint32_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const MerkleNodeId&, const MerkleNodeId&) = default;
};
struct MerkleNode {
  uint32_t level = 0;
  uint64_t index = 0;
  Hash32 hash{};
  friend bool operator==(const MerkleNode&, const MerkleNode&) = default;
};

// Where the proof builders read perfect nodes from: memory (MemoryMerkleTree) or the ledger's
// store. Implementations must be consistent: PerfectNode(l + 1, i) ==
// NodeHash(PerfectNode(l, 2i), PerfectNode(l, 2i + 1)).
class MerkleNodeSource {
 public:
  virtual ~MerkleNodeSource() = default;

  // The number of leaves the source holds.
  virtual uint64_t size() const = 0;

  // The hash of perfect node (level, index). Callers in this file ask only for nodes complete
  // within size(), i.e. (index + 1) * 2^level <= size(). A store returns its read error (or
  // Corruption for a missing node); the error is passed up unchanged to the caller of the proof
  // function.
  virtual Result<Hash32> PerfectNode(uint32_t level, uint64_t index) const = 0;
};

// A tree held in memory: every perfect node of every level (about 2n hashes, 64 bytes per leaf).
// For tests, tools (hcctl proof make-*) and benchmarks; the ledger keeps its nodes in RocksDB.
class MemoryMerkleTree final : public MerkleNodeSource {
 public:
  MemoryMerkleTree();

  // Appends one leaf (its LeafHash) and stores the perfect nodes it completes.
  void Append(const Hash32& leaf_hash);

  uint64_t size() const override;
  // NotFound for a node that is not complete within size().
  Result<Hash32> PerfectNode(uint32_t level, uint64_t index) const override;

  // The root of the whole tree (EmptyRoot() when empty).
  Hash32 Root() const;
  // The root of the tree of the first `tree_size` leaves; NotFound if tree_size > size().
  Result<Hash32> RootAt(uint64_t tree_size) const;

 private:
  // levels_[l][i] is perfect node (l, i).
  std::vector<std::vector<Hash32>> levels_;
};

// The compact range [0, size) of a tree, a.k.a. its Merkle frontier: the perfect nodes for the set
// bits of size, highest level first. It is O(log n) state from which the root follows and onto
// which leaves append, so the ledger keeps one in memory and restores it from the store on start.
// Not thread-safe.
class CompactRange {
 public:
  // The empty tree.
  CompactRange();

  // The node ids of the frontier of a tree of `size` leaves, left to right (highest level first):
  // the nodes a store loads to Restore a range.
  static std::vector<MerkleNodeId> FrontierIds(uint64_t size);

  // Restores the range of a tree of `size` leaves from the hashes of FrontierIds(size), in that
  // order. InvalidArgument if there are not exactly popcount(size) of them.
  static Result<CompactRange> Restore(uint64_t size, std::vector<Hash32> frontier);

  // Restores the range of the first `size` leaves of `source` (reads popcount(size) nodes).
  // NotFound if size > source.size(); a read error from the source is returned unchanged.
  static Result<CompactRange> Load(const MerkleNodeSource& source, uint64_t size);

  // Appends one leaf. If `completed` is not null, appends to it (without clearing it) every perfect
  // node this append completes, lowest level first: the leaf itself (level 0, index size()) and
  // each parent it finishes. Persisting every reported node keeps a store a complete
  // MerkleNodeSource. The tree must hold fewer than 2^64 - 1 leaves (asserted).
  void Append(const Hash32& leaf_hash, std::vector<MerkleNode>* completed = nullptr);

  uint64_t size() const { return size_; }
  // The root of the tree (EmptyRoot() when empty).
  Hash32 Root() const;
  // The frontier hashes, in FrontierIds(size()) order.
  const std::vector<Hash32>& frontier() const { return frontier_; }

 private:
  CompactRange(uint64_t size, std::vector<Hash32> frontier);

  uint64_t size_ = 0;
  std::vector<Hash32> frontier_;
};

// ---- Proof generation (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ----
//
// Each works for any tree size up to source.size(), so a proof can target an older certified root.
// Errors: NotFound when a requested size exceeds source.size(); InvalidArgument for a leaf index
// >= tree size or size1 > size2; a source read error unchanged.

// MTH(D[0:tree_size]): the root of the tree of the first tree_size leaves.
Result<Hash32> RootAt(const MerkleNodeSource& source, uint64_t tree_size);

// PATH(leaf_index, D[0:tree_size]): the audit path, lowest level first.
Result<std::vector<Hash32>> InclusionProof(const MerkleNodeSource& source, uint64_t leaf_index,
                                           uint64_t tree_size);

// PROOF(size1, D[0:size2]). Empty when size1 == 0 or size1 == size2.
Result<std::vector<Hash32>> ConsistencyProof(const MerkleNodeSource& source, uint64_t size1,
                                             uint64_t size2);

// The number of hashes in a valid proof; leaf_index < tree_size and 0 < size1 < size2 respectively
// (asserted).
size_t InclusionProofSize(uint64_t leaf_index, uint64_t tree_size);
size_t ConsistencyProofSize(uint64_t size1, uint64_t size2);

// ---- Verification ----
//
// OK when the proof holds; otherwise InvalidArgument with the first reason found, e.g.
// "leaf index 5 >= tree size 5", "proof has 2 extra hashes", "proof too short: 2 hashes, expected
// 3", "root mismatch". Proofs come from untrusted parties: no input makes these assert.

// RFC 9162 §2.1.3.2: leaf_hash is at leaf_index in the tree of tree_size leaves whose root is
// `root`.
Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, const Hash32& leaf_hash,
                       std::span<const Hash32> proof, const Hash32& root);

// RFC 9162 §2.1.4.2: the tree of size1 leaves with root1 is a prefix of the tree of size2 leaves
// with root2. The RFC algorithm covers 0 < size1 < size2; around it:
//   size1 > size2    rejected;
//   size1 == size2   the proof must be empty and root1 == root2;
//   size1 == 0       the proof must be empty (the empty tree is a prefix of every tree) and root1
//                    must be EmptyRoot() (a size-0 tree has no other root).
Status VerifyConsistency(uint64_t size1, uint64_t size2, const Hash32& root1, const Hash32& root2,
                         std::span<const Hash32> proof);

// The same checks on raw byte strings, as decoded from an untrusted document: any hash that is not
// 32 bytes makes the proof invalid (InvalidArgument naming it, e.g. "proof[3] is 0 bytes, not
// 32"), then the Hash32 form runs.
Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, ByteView leaf_hash,
                       std::span<const Bytes> proof, ByteView root);
Status VerifyConsistency(uint64_t size1, uint64_t size2, ByteView root1, ByteView root2,
                         std::span<const Bytes> proof);

}  // namespace hc::crypto

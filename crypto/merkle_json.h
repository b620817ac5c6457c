// JSON documents for Merkle proofs, in the field names of the public transparency-log test vectors
// (transparency-dev/merkle testdata; DESIGN.md §2):
//
//   inclusion    {"leafIdx": 5, "treeSize": 8, "root": B64, "leafHash": B64, "proof": [B64, ...]}
//   consistency  {"size1": 3, "size2": 8, "root1": B64, "root2": B64, "proof": [B64, ...]}
//
// B64 is standard base64 with padding (RFC 4648 §4), decoded strictly. Decoding checks that every
// field is present and of the right type, that integers are non-negative and fit 64 bits, and
// ignores other fields (the vectors carry "desc" and "wantErr"). "proof": null reads as an empty
// proof, as the vectors write it.
//
// Hashes are kept as raw bytes, not Hash32: a hash of the wrong length is well-formed JSON for a
// proof that does not hold, so it reaches Verify*ProofDoc and fails there (InvalidArgument naming
// the field), rather than being an unreadable document. The vectors' "trailing garbage" cases
// are exactly this.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/merkle.h"

namespace hc::crypto {

// Larger documents are refused before parsing. A maximal consistency proof is about 3.2 KiB.
inline constexpr size_t kProofJsonBytesMax = 64 * 1024;
static_assert(kConsistencyProofHashesMax * 48 + 512 < kProofJsonBytesMax,
              "the largest valid proof document must fit the JSON size limit");

struct InclusionProofDoc {
  uint64_t leaf_index = 0;   // "leafIdx"
  uint64_t tree_size = 0;    // "treeSize"
  Bytes root;                // "root"
  Bytes leaf_hash;           // "leafHash"
  std::vector<Bytes> proof;  // "proof"
};

struct ConsistencyProofDoc {
  uint64_t size1 = 0;        // "size1"
  uint64_t size2 = 0;        // "size2"
  Bytes root1;               // "root1"
  Bytes root2;               // "root2"
  std::vector<Bytes> proof;  // "proof"
};

// Builds documents from typed values (what the proof builders return).
InclusionProofDoc MakeInclusionProofDoc(uint64_t leaf_index, uint64_t tree_size,
                                        const Hash32& leaf_hash, std::span<const Hash32> proof,
                                        const Hash32& root);
ConsistencyProofDoc MakeConsistencyProofDoc(uint64_t size1, uint64_t size2, const Hash32& root1,
                                            const Hash32& root2, std::span<const Hash32> proof);

// Parses a document. InvalidArgument naming the problem: "not JSON: ...", "document is 70000
// bytes, larger than 65536", "missing field \"root\"", "field \"treeSize\": expected a
// non-negative integer", "field \"proof[2]\": base64: ...".
Result<InclusionProofDoc> DecodeInclusionProofJson(std::string_view json);
Result<ConsistencyProofDoc> DecodeConsistencyProofJson(std::string_view json);

// Compact JSON, fields in the order shown above, no trailing newline.
std::string EncodeInclusionProofJson(const InclusionProofDoc& doc);
std::string EncodeConsistencyProofJson(const ConsistencyProofDoc& doc);

// VerifyInclusion / VerifyConsistency (crypto/merkle.h) on a decoded document.
Status VerifyInclusionProofDoc(const InclusionProofDoc& doc);
Status VerifyConsistencyProofDoc(const ConsistencyProofDoc& doc);

}  // namespace hc::crypto

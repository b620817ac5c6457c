// Canonical signing bytes of the PBFT votes (docs/spec/wire.md W5) and commit-certificate
// verification, shared by the replica, the ledger (which verifies stored certificates) and
// observers (which verify state-transfer blocks).
//
// Every signature is crypto::Signer::Sign(domain, message) with `domain` one of the tags below and
// `message` the fixed-layout bytes built here (big-endian integers, no optional parts), so the full
// signed string is exactly W5's "tag ‖ len8(chain_id) ‖ chain_id ‖ ...". These functions never
// serialise a protobuf (W1): the layout has exactly one encoding by construction.
//
// Thread-safety: all functions are pure (hashing uses a thread_local context); safe from any
// thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/bytes.h"
#include "common/ids.h"
#include "common/status.h"
#include "consensus/messages.h"
#include "crypto/signer.h"

namespace hc::consensus {

// Domain tags (wire.md W2). None is a prefix of another.
inline constexpr std::string_view kPrePrepareDomain = "hc/pbft/v1/pre-prepare";
inline constexpr std::string_view kPrepareDomain = "hc/pbft/v1/prepare";
inline constexpr std::string_view kCommitDomain = "hc/pbft/v1/commit";
inline constexpr std::string_view kCheckpointDomain = "hc/pbft/v1/checkpoint";
inline constexpr std::string_view kViewChangeDomain = "hc/pbft/v1/view-change";
inline constexpr std::string_view kNewViewDomain = "hc/pbft/v1/new-view";
inline constexpr std::string_view kBlockDomain = "hc/block/v1";

// wire.md W5: len8(chain_id) is one byte, so a chain id is 1..64 bytes.
inline constexpr size_t kMaxChainIdBytes = 64;
bool IsValidChainId(std::string_view chain_id);

// block_hash = SHA-256("hc/block/v1" || header bytes) (wire.md W4).
Hash32 BlockHash(ByteView header);

// The bytes after the domain tag (the `message` argument of Signer::Sign). Each aborts (HC_ASSERT)
// on an invalid chain id: chain ids come from validated configuration, never from a peer.
//
//   pre-prepare / prepare / commit: len8(chain_id) ‖ chain_id ‖ u64(view) ‖ u64(seq) ‖ hash[32]
Bytes VoteSignedBytes(std::string_view chain_id, ViewNumber view, SeqNumber seq,
                      const Hash32& block_hash);
//   checkpoint: len8 ‖ chain_id ‖ u64(seq) ‖ block_hash ‖ log_root ‖ state_digest
Bytes CheckpointSignedBytes(std::string_view chain_id, SeqNumber seq, const Hash32& block_hash,
                            const Hash32& log_root, const Hash32& state_digest);
//   view-change: len8 ‖ chain_id ‖ u64(new_view) ‖ u64(stable_seq) ‖ PreparedSetDigest
Bytes ViewChangeSignedBytes(std::string_view chain_id, ViewNumber new_view, SeqNumber stable_seq,
                            const Hash32& prepared_set_digest);
//   new-view: len8 ‖ chain_id ‖ u64(view) ‖ NewViewContentDigest
Bytes NewViewSignedBytes(std::string_view chain_id, ViewNumber view, const Hash32& content_digest);

// SHA-256(u32(count) ‖ for each certificate in the given order: u64(seq) ‖ u64(view) ‖ hash[32]),
// where (view, seq, hash) are the certificate's PRE-PREPARE's. The certificates themselves are
// self-certifying; signing their digest stops a relayer from dropping or swapping one in a
// VIEW-CHANGE it forwards (docs/spec/pbft.md R12).
Hash32 PreparedSetDigest(std::span<const PreparedCertificate> prepared);

// SHA-256(u32(#vc) ‖ for each VIEW-CHANGE: u32(replica) ‖ u64(new_view) ‖ u64(stable_seq) ‖
// PreparedSetDigest ‖ u32(#pp) ‖ for each PRE-PREPARE: u64(view) ‖ u64(seq) ‖ hash[32]).
Hash32 NewViewContentDigest(std::span<const ViewChange> view_changes,
                            std::span<const PrePrepare> pre_prepares);

// Fill in `signature` of a message whose other fields are set.
void SignPrePrepare(const crypto::Signer& signer, std::string_view chain_id, PrePrepare& msg);
void SignPrepare(const crypto::Signer& signer, std::string_view chain_id, Prepare& msg);
void SignCommit(const crypto::Signer& signer, std::string_view chain_id, Commit& msg);
void SignCheckpoint(const crypto::Signer& signer, std::string_view chain_id, Checkpoint& msg);
void SignViewChange(const crypto::Signer& signer, std::string_view chain_id, ViewChange& msg);
void SignNewView(const crypto::Signer& signer, std::string_view chain_id, NewView& msg);

// True iff `key` signed the message's canonical bytes. Invalid chain ids verify nothing.
bool VerifyPrePrepare(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const PrePrepare& msg);
bool VerifyPrepare(const crypto::Verifier& verifier, std::string_view chain_id,
                   const PublicKey& key, const Prepare& msg);
bool VerifyCommit(const crypto::Verifier& verifier, std::string_view chain_id, const PublicKey& key,
                  const Commit& msg);
bool VerifyCheckpoint(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const Checkpoint& msg);
bool VerifyViewChange(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const ViewChange& msg);
bool VerifyNewView(const crypto::Verifier& verifier, std::string_view chain_id,
                   const PublicKey& key, const NewView& msg);

// The quorum of a validator set of size n: n = 3f+1 tolerates f faults; 2f+1 matching votes.
constexpr uint32_t MaxFaulty(uint32_t n) { return n == 0 ? 0 : (n - 1) / 3; }
constexpr uint32_t Quorum(uint32_t f) { return 2 * f + 1; }

// Checks a commit certificate: `certificate.signatures` are at least 2f+1 and at most
// validators.size() COMMIT signatures, each by a distinct validator index < validators.size(),
// each a valid "hc/pbft/v1/commit" signature over (chain_id, certificate.view,
// certificate.height, certificate.block_hash). One view and one digest hold by construction: all
// signatures are checked against the certificate's single (view, block_hash). A certificate with
// a duplicate or unknown signer, or any invalid signature, is rejected as a whole (stored
// certificates are exactly what a quorum produced; junk in one is a sign of tampering).
// Requires 3f+1 <= validators.size(). Returns OK, or InvalidArgument / Unauthenticated naming the
// first problem.
Status CheckCommitCertificate(const CommitCertificate& certificate, std::string_view chain_id,
                              std::span<const PublicKey> validators, uint32_t f,
                              const crypto::Verifier& verifier);
// CheckCommitCertificate(...).ok().
bool VerifyCommitCertificate(const CommitCertificate& certificate, std::string_view chain_id,
                             std::span<const PublicKey> validators, uint32_t f,
                             const crypto::Verifier& verifier);

// Checks that `certificate` certifies `block` at `height`: BlockHash(block.header) equals
// certificate.block_hash, certificate.height equals `height`, and CheckCommitCertificate passes.
// (The block's txs are the ledger's business: the header's txs_root commits to them.)
Status CheckCertifiedBlock(const CertifiedBlock& block, Height height, std::string_view chain_id,
                           std::span<const PublicKey> validators, uint32_t f,
                           const crypto::Verifier& verifier);

}  // namespace hc::consensus

#include "consensus/signing.h"

#include <string>

#include "common/assert.h"
#include "consensus/byte_writer.h"
#include "crypto/hash.h"

namespace hc::consensus {
namespace {

// Starts W5's common prefix: len8(chain_id) ‖ chain_id.
ByteWriter StartSignedBytes(std::string_view chain_id, size_t rest) {
  HC_ASSERT_MSG(IsValidChainId(chain_id), "chain id must be 1..64 bytes (validated config)");
  ByteWriter w(1 + chain_id.size() + rest);
  w.U8(static_cast<uint8_t>(chain_id.size()));
  w.Raw(AsBytes(chain_id));
  return w;
}

}  // namespace

bool IsValidChainId(std::string_view chain_id) {
  return !chain_id.empty() && chain_id.size() <= kMaxChainIdBytes;
}

Hash32 BlockHash(ByteView header) { return crypto::DomainHash(kBlockDomain, header); }

Bytes VoteSignedBytes(std::string_view chain_id, ViewNumber view, SeqNumber seq,
                      const Hash32& block_hash) {
  ByteWriter w = StartSignedBytes(chain_id, 8 + 8 + 32);
  w.U64(view.value());
  w.U64(seq.value());
  w.Raw(block_hash);
  return w.Take();
}

Bytes CheckpointSignedBytes(std::string_view chain_id, SeqNumber seq, const Hash32& block_hash,
                            const Hash32& log_root, const Hash32& state_digest) {
  ByteWriter w = StartSignedBytes(chain_id, 8 + 3 * 32);
  w.U64(seq.value());
  w.Raw(block_hash);
  w.Raw(log_root);
  w.Raw(state_digest);
  return w.Take();
}

Bytes ViewChangeSignedBytes(std::string_view chain_id, ViewNumber new_view, SeqNumber stable_seq,
                            const Hash32& prepared_set_digest) {
  ByteWriter w = StartSignedBytes(chain_id, 8 + 8 + 32);
  w.U64(new_view.value());
  w.U64(stable_seq.value());
  w.Raw(prepared_set_digest);
  return w.Take();
}

Bytes NewViewSignedBytes(std::string_view chain_id, ViewNumber view, const Hash32& content_digest) {
  ByteWriter w = StartSignedBytes(chain_id, 8 + 32);
  w.U64(view.value());
  w.Raw(content_digest);
  return w.Take();
}

Hash32 PreparedSetDigest(std::span<const PreparedCertificate> prepared) {
  ByteWriter w(4 + prepared.size() * 48);
  w.U32(static_cast<uint32_t>(prepared.size()));
  for (const PreparedCertificate& cert : prepared) {
    w.U64(cert.pre_prepare.seq.value());
    w.U64(cert.pre_prepare.view.value());
    w.Raw(cert.pre_prepare.block_hash);
  }
  return crypto::Sha256(w.bytes());
}

Hash32 NewViewContentDigest(std::span<const ViewChange> view_changes,
                            std::span<const PrePrepare> pre_prepares) {
  ByteWriter w(8 + view_changes.size() * 52 + pre_prepares.size() * 48);
  w.U32(static_cast<uint32_t>(view_changes.size()));
  for (const ViewChange& vc : view_changes) {
    w.U32(vc.replica.value());
    w.U64(vc.new_view.value());
    w.U64(vc.stable_seq.value());
    w.Raw(PreparedSetDigest(vc.prepared));
  }
  w.U32(static_cast<uint32_t>(pre_prepares.size()));
  for (const PrePrepare& pp : pre_prepares) {
    w.U64(pp.view.value());
    w.U64(pp.seq.value());
    w.Raw(pp.block_hash);
  }
  return crypto::Sha256(w.bytes());
}

void SignPrePrepare(const crypto::Signer& signer, std::string_view chain_id, PrePrepare& msg) {
  msg.signature =
      signer.Sign(kPrePrepareDomain, VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash));
}

void SignPrepare(const crypto::Signer& signer, std::string_view chain_id, Prepare& msg) {
  msg.signature =
      signer.Sign(kPrepareDomain, VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash));
}

void SignCommit(const crypto::Signer& signer, std::string_view chain_id, Commit& msg) {
  msg.signature =
      signer.Sign(kCommitDomain, VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash));
}

void SignCheckpoint(const crypto::Signer& signer, std::string_view chain_id, Checkpoint& msg) {
  msg.signature = signer.Sign(
      kCheckpointDomain,
      CheckpointSignedBytes(chain_id, msg.seq, msg.block_hash, msg.log_root, msg.state_digest));
}

void SignViewChange(const crypto::Signer& signer, std::string_view chain_id, ViewChange& msg) {
  msg.signature =
      signer.Sign(kViewChangeDomain, ViewChangeSignedBytes(chain_id, msg.new_view, msg.stable_seq,
                                                           PreparedSetDigest(msg.prepared)));
}

void SignNewView(const crypto::Signer& signer, std::string_view chain_id, NewView& msg) {
  msg.signature = signer.Sign(
      kNewViewDomain, NewViewSignedBytes(chain_id, msg.view,
                                         NewViewContentDigest(msg.view_changes, msg.pre_prepares)));
}

bool VerifyPrePrepare(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const PrePrepare& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(key, kPrePrepareDomain,
                         VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash),
                         msg.signature);
}

bool VerifyPrepare(const crypto::Verifier& verifier, std::string_view chain_id,
                   const PublicKey& key, const Prepare& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(key, kPrepareDomain,
                         VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash),
                         msg.signature);
}

bool VerifyCommit(const crypto::Verifier& verifier, std::string_view chain_id, const PublicKey& key,
                  const Commit& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(key, kCommitDomain,
                         VoteSignedBytes(chain_id, msg.view, msg.seq, msg.block_hash),
                         msg.signature);
}

bool VerifyCheckpoint(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const Checkpoint& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(
      key, kCheckpointDomain,
      CheckpointSignedBytes(chain_id, msg.seq, msg.block_hash, msg.log_root, msg.state_digest),
      msg.signature);
}

bool VerifyViewChange(const crypto::Verifier& verifier, std::string_view chain_id,
                      const PublicKey& key, const ViewChange& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(key, kViewChangeDomain,
                         ViewChangeSignedBytes(chain_id, msg.new_view, msg.stable_seq,
                                               PreparedSetDigest(msg.prepared)),
                         msg.signature);
}

bool VerifyNewView(const crypto::Verifier& verifier, std::string_view chain_id,
                   const PublicKey& key, const NewView& msg) {
  if (!IsValidChainId(chain_id)) return false;
  return verifier.Verify(
      key, kNewViewDomain,
      NewViewSignedBytes(chain_id, msg.view,
                         NewViewContentDigest(msg.view_changes, msg.pre_prepares)),
      msg.signature);
}

Status CheckCommitCertificate(const CommitCertificate& certificate, std::string_view chain_id,
                              std::span<const PublicKey> validators, uint32_t f,
                              const crypto::Verifier& verifier) {
  if (!IsValidChainId(chain_id)) return InvalidArgument("commit certificate: bad chain id");
  if (validators.size() < 3 * static_cast<size_t>(f) + 1) {
    return InvalidArgument("commit certificate: f too large for the validator set");
  }
  const size_t n = validators.size();
  const size_t quorum = Quorum(f);
  if (certificate.signatures.size() < quorum) {
    return InvalidArgument("commit certificate: " + std::to_string(certificate.signatures.size()) +
                           " signatures, need " + std::to_string(quorum));
  }
  if (certificate.signatures.size() > n) {
    return InvalidArgument("commit certificate: more signatures than validators");
  }
  // Distinct signers, never messages (PBFT-PITFALLS.md): a bitmap over validator indexes.
  std::vector<bool> seen(n, false);
  for (const CommitSignature& s : certificate.signatures) {
    const uint32_t id = s.replica.value();
    if (id >= n) {
      return InvalidArgument("commit certificate: unknown signer " + std::to_string(id));
    }
    if (seen[id]) {
      return InvalidArgument("commit certificate: duplicate signer " + std::to_string(id));
    }
    seen[id] = true;
  }
  // One signed message for the whole certificate: one view, one height, one digest.
  const Bytes signed_bytes = VoteSignedBytes(
      chain_id, certificate.view, SeqNumber(certificate.height.value()), certificate.block_hash);
  for (const CommitSignature& s : certificate.signatures) {
    if (!verifier.Verify(validators[s.replica.value()], kCommitDomain, signed_bytes, s.signature)) {
      return Unauthenticated("commit certificate: bad signature of validator " +
                             std::to_string(s.replica.value()));
    }
  }
  return Status::Ok();
}

bool VerifyCommitCertificate(const CommitCertificate& certificate, std::string_view chain_id,
                             std::span<const PublicKey> validators, uint32_t f,
                             const crypto::Verifier& verifier) {
  return CheckCommitCertificate(certificate, chain_id, validators, f, verifier).ok();
}

Status CheckCertifiedBlock(const CertifiedBlock& block, Height height, std::string_view chain_id,
                           std::span<const PublicKey> validators, uint32_t f,
                           const crypto::Verifier& verifier) {
  if (block.certificate.height != height) {
    return InvalidArgument("certified block: certificate is for height " +
                           std::to_string(block.certificate.height.value()) + ", expected " +
                           std::to_string(height.value()));
  }
  if (BlockHash(block.block.header) != block.certificate.block_hash) {
    return InvalidArgument("certified block: header does not hash to the certified block hash");
  }
  return CheckCommitCertificate(block.certificate, chain_id, validators, f, verifier);
}

}  // namespace hc::consensus

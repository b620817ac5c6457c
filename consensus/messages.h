// The replica's own message structs: plain C++ mirrors of proto/healthchain/v1/consensus.proto and
// block.proto (field for field, same names), so the node can translate 1:1 while consensus/ stays
// free of protobuf (scripts/check-layering.sh).
//
// Fixed-size fields (hashes, signatures) are std::arrays: the node's decoder rejects a `bytes`
// field of the wrong length before a struct is ever built (docs/spec/wire.md W6), so everything the
// replica sees is already typed. Everything else (membership, signatures, sizes, watermarks) is
// checked by the replica at its boundary (docs/spec/pbft.md R1).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/ids.h"
#include "crypto/ed25519.h"

namespace hc::consensus {

using Signature = crypto::Ed25519Signature;
using PublicKey = crypto::Ed25519PublicKey;
// SHA-256("hc/txid/v1" || body) of a SignedTx (docs/spec/wire.md W3).
using TxId = Hash32;

// A block's SignedTx bytes. Immutable once built and shared by every copy of the block (the
// replica's slot, its prepared certificate, the durable record, the block handed to the executor),
// so copying a block copies no tx bytes. Mutable() gives a private copy to change.
class BlockTxs {
 public:
  using const_iterator = std::vector<Bytes>::const_iterator;

  BlockTxs() = default;
  // Implicit, so that a block's txs can be given as a list.
  BlockTxs(std::vector<Bytes> txs)
      : txs_(txs.empty() ? nullptr : std::make_shared<std::vector<Bytes>>(std::move(txs))) {}
  BlockTxs(std::initializer_list<Bytes> txs) : BlockTxs(std::vector<Bytes>(txs)) {}

  size_t size() const { return txs_ ? txs_->size() : 0; }
  bool empty() const { return size() == 0; }
  const Bytes& operator[](size_t i) const { return (*txs_)[i]; }
  const Bytes& back() const { return txs_->back(); }
  const_iterator begin() const { return txs_ ? txs_->cbegin() : const_iterator(); }
  const_iterator end() const { return txs_ ? txs_->cend() : const_iterator(); }
  // The shared list itself (null when empty), for readers that outlive the block.
  std::shared_ptr<const std::vector<Bytes>> shared() const { return txs_; }

  // The txs to change in place: copied first if another block shares them.
  std::vector<Bytes>& Mutable() {
    if (!txs_) {
      txs_ = std::make_shared<std::vector<Bytes>>();
    } else if (txs_.use_count() > 1) {
      txs_ = std::make_shared<std::vector<Bytes>>(*txs_);
    }
    return *txs_;
  }

  friend bool operator==(const BlockTxs& a, const BlockTxs& b) {
    return a.txs_ == b.txs_ || std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::shared_ptr<std::vector<Bytes>> txs_;
};

// proto Block: the header bytes exactly as the proposer produced them, and the SignedTx bytes.
// block_hash = SHA-256("hc/block/v1" || header) (wire.md W4); see BlockHash() in signing.h.
struct Block {
  Bytes header;
  BlockTxs txs;

  friend bool operator==(const Block&, const Block&) = default;
};

// proto CommitSignature.
struct CommitSignature {
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const CommitSignature&, const CommitSignature&) = default;
};

// proto CommitCertificate: 2f+1 COMMIT signatures of distinct validators, one view, one block
// hash (VerifyCommitCertificate in signing.h).
struct CommitCertificate {
  Height height;
  ViewNumber view;
  Hash32 block_hash{};
  std::vector<CommitSignature> signatures;

  friend bool operator==(const CommitCertificate&, const CommitCertificate&) = default;
};

// proto CertifiedBlock.
struct CertifiedBlock {
  Block block;
  CommitCertificate certificate;

  friend bool operator==(const CertifiedBlock&, const CertifiedBlock&) = default;
};

// proto PrePrepare. Primary -> all; signed with "hc/pbft/v1/pre-prepare". The signer is the
// primary of `view` (there is no replica field). Inside a PreparedCertificate that travels in a
// NEW-VIEW the block's txs are stripped (the header stays so the block hash can be checked).
struct PrePrepare {
  ViewNumber view;
  SeqNumber seq;
  Hash32 block_hash{};
  Block block;
  Signature signature{};

  friend bool operator==(const PrePrepare&, const PrePrepare&) = default;
};

// proto Prepare. Backup -> all; signed with "hc/pbft/v1/prepare".
struct Prepare {
  ViewNumber view;
  SeqNumber seq;
  Hash32 block_hash{};
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const Prepare&, const Prepare&) = default;
};

// proto Commit. Any -> all; signed with "hc/pbft/v1/commit"; 2f+1 form a CommitCertificate.
struct Commit {
  ViewNumber view;
  SeqNumber seq;
  Hash32 block_hash{};
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const Commit&, const Commit&) = default;
};

// proto Checkpoint. Signed with "hc/pbft/v1/checkpoint" over (seq, block_hash, log_root,
// state_digest) of the state after executing block `seq`.
struct Checkpoint {
  SeqNumber seq;
  Hash32 block_hash{};
  Hash32 log_root{};
  Hash32 state_digest{};
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// proto PreparedCertificate: a PRE-PREPARE plus 2f matching PREPAREs from distinct replicas other
// than the primary, all of one view (docs/spec/pbft.md R6).
struct PreparedCertificate {
  PrePrepare pre_prepare;
  std::vector<Prepare> prepares;

  friend bool operator==(const PreparedCertificate&, const PreparedCertificate&) = default;
};

// proto ViewChange. Signed with "hc/pbft/v1/view-change" over (new_view, stable_seq,
// PreparedSetDigest(prepared)) (wire.md W5, pbft.md R12).
struct ViewChange {
  ViewNumber new_view;
  SeqNumber stable_seq;
  std::vector<Checkpoint> checkpoint_proof;   // 2f+1 for stable_seq; empty at seq 0
  std::vector<PreparedCertificate> prepared;  // ascending seq, one per seq above stable_seq
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const ViewChange&, const ViewChange&) = default;
};

// proto NewView. New primary -> all; signed with "hc/pbft/v1/new-view" over (view,
// NewViewContentDigest(view_changes, pre_prepares)) (pbft.md R14).
struct NewView {
  ViewNumber view;
  std::vector<ViewChange> view_changes;  // 2f+1 from distinct replicas, txs stripped
  std::vector<PrePrepare> pre_prepares;  // the O set, ascending seq, with full blocks
  ReplicaId replica;
  Signature signature{};

  friend bool operator==(const NewView&, const NewView&) = default;
};

// proto StateRequest: certified blocks [from_height, to_height]. Served by the node's ledger, not
// by the replica (the replica holds no blocks below its window); the replica only emits them
// through FetchBlocksAction.
struct StateRequest {
  Height from_height;
  Height to_height;
  ReplicaId replica;

  friend bool operator==(const StateRequest&, const StateRequest&) = default;
};

// proto StateResponse: certified blocks in height order and the serving peer's committed height.
struct StateResponse {
  std::vector<CertifiedBlock> blocks;
  Height peer_height;

  friend bool operator==(const StateResponse&, const StateResponse&) = default;
};

// Everything a replica exchanges with its peers. (TxRelay is the node's mempool business; the
// replica hears about relayed txs through Replica::OnTx.)
using Message = std::variant<PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView,
                             StateRequest, StateResponse>;

// A short name for logs and metrics ("PrePrepare", "Commit", ...).
std::string_view MessageTypeName(const Message& msg);

// An upper bound on the protobuf encoding of `msg` in bytes (field tags and length prefixes
// counted generously). The replica bounds messages it builds with it; benchmarks report it.
size_t ApproxWireSize(const Message& msg);
size_t ApproxWireSize(const Block& block);

}  // namespace hc::consensus

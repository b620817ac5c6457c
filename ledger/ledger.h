// Ledger: the block store, the verifiable entry log and the state, on one KvStore.
//
// Commit() takes a certified block, checks it (docs/spec/ledger-rules.md R23), executes it (the
// state machine, ledger/state_machine.h), appends its entries to the RFC 9162 log and writes the
// block, its certificate, its receipts, the new Merkle nodes and the state changes in ONE batch
// with a synced WAL: after a crash the store holds a prefix of the committed blocks, never part of
// one. Open() refuses a store whose tip does not check out (R25), naming the key and the fault.
//
// Thread-safety: not thread-safe. One thread (the node's executor) commits; reads through the
// const accessors must not run concurrently with Commit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/merkle.h"
#include "crypto/signer.h"
#include "healthchain/v1/block.pb.h"
#include "ledger/codec.h"
#include "ledger/genesis.h"
#include "ledger/kv.h"
#include "ledger/log_store.h"
#include "ledger/org_directory.h"
#include "ledger/state_machine.h"

namespace hc::ledger {

// The log a header certifies: the entry log after executing blocks 1..exec_height (DESIGN.md §2).
struct LogClaim {
  uint64_t exec_height = 0;
  uint64_t log_size = 0;
  Hash32 log_root{};
};

struct CommittedBlock {
  uint64_t height = 0;
  Hash32 block_hash{};
  uint64_t log_size = 0;  // after this block
  Hash32 log_root{};
  ExecutionResult execution;
  // R26: the txs' signatures were not checked; a later certified header attested the log this
  // block yields (CommitAttested).
  bool signatures_attested = false;
};

// A later block's header and commit certificate, which state transfer fetched together with the
// block whose log the header claims (docs/spec/ledger-rules.md R26).
struct Attestation {
  std::string_view header;  // the later block's BlockHeader bytes
  const ::healthchain::v1::CommitCertificate* certificate = nullptr;
};

class Ledger {
 public:
  // Opens the ledger on `store`. An empty store is initialised from `genesis` (the genesis record
  // and the founding commissions, R24) in one synced batch. A non-empty store must come from the
  // same genesis and its tip must verify (R25): the hash chain into the tip, the tip's stored
  // certificate (checked against the genesis validators with `verifier`), and the log root over
  // the stored Merkle nodes. Otherwise returns Corruption (or FailedPrecondition for another
  // genesis) naming the key and what is wrong. `verifier` must outlive the Ledger.
  //
  // With a tx lifetime in the genesis, Open also reads back the tx ids of the stored blocks since
  // the tip's replay horizon (R5) into recent_tx_ids(), at most `recent_ids_max` of them, newest
  // blocks first: a restarted node then answers the replay check of a fresh tx from memory at
  // once instead of reading the tx index until a horizon has passed. Blocks older than the
  // loaded ones stay uncovered (their ids are read from the tx index) until the horizon passes
  // them.
  struct OpenOptions {
    size_t recent_ids_max = 4'000'000;  // ≈ 13 minutes at 5,000 tx/s; ≈ 100 MB held
  };
  static Result<std::unique_ptr<Ledger>> Open(std::unique_ptr<KvStore> store,
                                              const Genesis& genesis,
                                              const crypto::Verifier& verifier,
                                              const OpenOptions& options);
  static Result<std::unique_ptr<Ledger>> Open(std::unique_ptr<KvStore> store,
                                              const Genesis& genesis,
                                              const crypto::Verifier& verifier) {
    return Open(std::move(store), genesis, verifier, OpenOptions{});
  }

  // Checks `block` against the tip and `certificate` against the validators (R23), executes it and
  // commits everything in one synced batch. InvalidArgument for a block or certificate that does
  // not check out (nothing is written); IoError/Corruption when the store fails, after which the
  // ledger refuses further commits (the node must restart and re-open).
  // Tx signatures are checked with `tx_verifier` when given (the node's verified cache, which
  // state transfer fills ahead of execution), else with the Ledger's verifier.
  Result<CommittedBlock> Commit(const ::healthchain::v1::Block& block,
                                const ::healthchain::v1::CommitCertificate& certificate,
                                const crypto::Verifier* tx_verifier = nullptr);
  // The same, with the txs already decoded (R1..R4) by the caller, e.g. through the mempool's
  // signature cache: the block is `header` (BlockHeader bytes) followed by the txs of `prepared`,
  // which must be PrepareBlock of them with the header's height and timestamp.
  Result<CommittedBlock> Commit(std::string_view header,
                                const ::healthchain::v1::CommitCertificate& certificate,
                                ExecutableBlock prepared);
  // R26, for blocks fetched by state transfer: commits `block` as Commit does, except that when
  // `attestation` checks out (AttestedLog) the txs' signatures are not checked: the block is
  // executed with every signature taken as valid and written only if that yields the attested
  // log (`signatures_attested` is then set). Otherwise — an attestation that does not check out,
  // or a log that differs — the block is executed again with every signature checked
  // (`tx_verifier`, else the Ledger's verifier), exactly as Commit does. The run of one block
  // (CommitAttestedRun).
  Result<CommittedBlock> CommitAttested(const ::healthchain::v1::Block& block,
                                        const ::healthchain::v1::CommitCertificate& certificate,
                                        const Attestation& attestation,
                                        const crypto::Verifier* tx_verifier = nullptr);
  // For a caller that prepares a block's txs itself: returns PrepareBlock of the block's txs
  // (with the header's height and timestamp) checking signatures with the verifier it is given;
  // called once, or twice when the attested log is not reached.
  using PrepareFn = std::function<ExecutableBlock(const crypto::Verifier& tx_verifier)>;
  // R26 for a run of fetched blocks: `run` extends the tip in height order and `attestation`
  // claims the log after its last block. That log commits to every entry of the run, so when the
  // attestation checks out the run is executed with every signature taken as valid, each block
  // over the writes of those before it, and written in ONE synced batch only if the last block
  // yields the attested log (every block is then `signatures_attested`). Otherwise — the
  // attestation does not check out, a header inside the run claims a log the run does not hold,
  // or the last log differs — the blocks are committed one by one with every signature checked,
  // as Commit does, each block's certificate checked before its txs' signatures; a block the
  // first pass found faulty for a reason no signature changes (R23: header, txs, certificate) is
  // refused without checking its signatures. `prepare` may be called twice per block.
  struct RunBlock {
    std::string_view header;  // BlockHeader bytes
    const ::healthchain::v1::CommitCertificate* certificate = nullptr;
    PrepareFn prepare;
  };
  // `blocks` were committed, in height order; `status` is why the block after them was not (OK
  // when the whole run committed).
  struct CommittedRun {
    std::vector<CommittedBlock> blocks;
    Status status;
  };
  CommittedRun CommitAttestedRun(std::span<const RunBlock> run, const Attestation& attestation,
                                 const crypto::Verifier& tx_verifier);
  // `block` as a member of a run (it must outlive the RunBlock); InvalidArgument when its header
  // does not parse or it holds too many txs (R23).
  Result<RunBlock> RunBlockOf(const ::healthchain::v1::Block& block,
                              const ::healthchain::v1::CommitCertificate& certificate) const;
  // R26: the log after block `height` that `attestation` certifies: its header parses, names this
  // chain, a later height and `height` as its exec_height, and its certificate holds 2f+1 valid
  // COMMIT signatures for it. InvalidArgument naming what does not check out.
  Result<LogClaim> AttestedLog(uint64_t height, const Attestation& attestation) const;

  // R23: does (exec_height, log_size, log_root) match this ledger's log after exec_height? A
  // backup calls this before preparing; FailedPrecondition if exec_height is beyond the tip.
  Status CheckLogClaim(uint64_t exec_height, uint64_t log_size, ByteView log_root) const;
  // The log after executing blocks 1..height (height <= tip).
  Result<LogClaim> LogClaimAt(uint64_t height) const;
  // The claim the next block's proposer puts in its header when it has executed the tip.
  LogClaim CurrentLogClaim() const;

  // ---- The tip ----
  uint64_t height() const { return tip_.height(); }
  Hash32 tip_hash() const;  // the genesis hash at height 0
  int64_t tip_timestamp_ms() const { return tip_.timestamp_ms(); }
  uint64_t log_size() const { return range_.size(); }
  Hash32 log_root() const { return range_.Root(); }
  const Genesis& genesis() const { return genesis_; }
  // The ids recent blocks indexed, when the genesis sets a tx lifetime (else null); thread-safe,
  // for admission's replay check (R5) while this ledger commits.
  const RecentTxIds* recent_tx_ids() const { return recent_.get(); }
  const Hash32& genesis_hash() const { return genesis_hash_; }
  // What this open did to bring a store of an earlier state format to the current one
  // (UpgradeStateFormat); unset when the store was already current.
  struct StateUpgrade {
    int from_format = 0;
    uint64_t consent_pairs_built = 0;  // from format 1, which had no pair records
    uint64_t index_keys_removed = 0;   // the consent index keys of formats 1 and 2
  };
  const std::optional<StateUpgrade>& state_upgrade() const { return state_upgrade_; }

  // ---- Reads ----
  const KvReader& reader() const { return *store_; }
  KvStore& store() { return *store_; }
  StoredLogNodes log_nodes() const { return StoredLogNodes(*store_, range_.size()); }
  // NotFound past the tip; Corruption when a stored value does not parse.
  Result<::healthchain::v1::Block> BlockAt(uint64_t height) const;
  Result<::healthchain::v1::CommitCertificate> CertificateAt(uint64_t height) const;
  Result<::healthchain::ledger::v1::BlockInfo> InfoAt(uint64_t height) const;
  // The exact bytes of log entry `index` (the Merkle leaf input).
  Result<std::string> EntryAt(uint64_t index) const;
  // The (height, index in block) of log entry `index`.
  Result<std::pair<uint64_t, uint32_t>> EntryPosition(uint64_t index) const;

 private:
  Ledger(std::unique_ptr<KvStore> store, const Genesis& genesis, const crypto::Verifier& verifier);
  Status Initialise();
  Status VerifyTip();
  // Commit's checks, execution and write. With `expected`, the write happens only if the block
  // yields that log; otherwise *mismatch is set and nothing is written.
  Result<CommittedBlock> CommitPrepared(std::string_view header,
                                        const ::healthchain::v1::CommitCertificate& certificate,
                                        ExecutableBlock prepared, const LogClaim* expected,
                                        bool* mismatch);
  // A block checked (R23) and executed over `kv` after the chain's end `end` (the tip, or the
  // last block staged before it in a run): the batch that commits it and the end after it.
  // Nothing is written. *mismatch (when given) is set for a block that does not yield `expected`
  // or whose header's claim on the log after a block staged before it does not match.
  struct Staged {
    KvBatch batch;
    ::healthchain::ledger::v1::ChainTip tip;
    crypto::CompactRange range;
    CommittedBlock out;
    std::vector<uint64_t> indexed_keys;  // RecentTxIds keys of the ids it enters in the tx index
  };
  Result<Staged> Stage(const KvReader& kv, const ::healthchain::ledger::v1::ChainTip& end,
                       const crypto::CompactRange& end_range, std::string_view header,
                       const ::healthchain::v1::CommitCertificate& certificate,
                       ExecutableBlock prepared, const LogClaim* expected, bool* mismatch) const;
  // Writes a staged batch (synced) and moves the tip; a failed write breaks the ledger.
  Status WriteStaged(const KvBatch& batch, ::healthchain::ledger::v1::ChainTip tip,
                     crypto::CompactRange range);
  Status Broken() const;
  // Brings a store written by an earlier version to the current state format (keys::kStateFormat):
  // format 1 had no consent pairs ("g"), which are built from the index family's consent keys
  // ("c" patient grantee id); formats 1 and 2 kept those keys, which format 3 does not.
  // FailedPrecondition for a format newer than this version's.
  Status UpgradeStateFormat();
  // Creates recent_ from the stored blocks since the tip's horizon (Open's comment).
  Status LoadRecentTxIds(size_t ids_max);
  // Block h's stored receipt group (at info's first entry), one receipt per tx of `info`;
  // Corruption naming the key otherwise.
  Status ReadReceipts(uint64_t h, const ::healthchain::ledger::v1::BlockInfo& info,
                      ::healthchain::ledger::v1::BlockReceipts* group) const;
  // Hands a written (or, in a run, staged) block's indexed ids to recent_.
  void NoteIndexed(uint64_t height, int64_t timestamp_ms, std::vector<uint64_t> keys);
  // R23's certificate check alone, before any tx signature of the block is checked.
  Status CheckCertified(std::string_view header,
                        const ::healthchain::v1::CommitCertificate& certificate) const;
  // R23: `certificate` holds 2f+1 valid COMMITs for (height, hash); Reject naming what does not.
  Status CheckBlockCertificate(const ::healthchain::v1::CommitCertificate& certificate,
                               uint64_t height, const Hash32& hash) const;
  Hash32 HashOf(const ::healthchain::ledger::v1::ChainTip& tip) const;
  Result<LogClaim> LogClaimIn(const KvReader& kv, const ::healthchain::ledger::v1::ChainTip& end,
                              uint64_t height) const;
  Status CheckLogClaimIn(const KvReader& kv, const ::healthchain::ledger::v1::ChainTip& end,
                         uint64_t exec_height, uint64_t log_size, ByteView log_root) const;
  static Result<::healthchain::ledger::v1::BlockInfo> InfoIn(const KvReader& kv, uint64_t height);

  std::unique_ptr<KvStore> store_;
  // The org records, in memory in front of store_ (loaded at the open, given every written
  // batch): blocks execute over it, so a signer's org lookup reads no SST file.
  OrgDirectory orgs_;
  Genesis genesis_;
  Hash32 genesis_hash_{};
  const crypto::Verifier& verifier_;
  ::healthchain::ledger::v1::ChainTip tip_;
  crypto::CompactRange range_;
  Status broken_;  // set when a commit failed half-way through the store; refuses more commits
  // With a tx lifetime in the genesis: the ids of the blocks since the replay horizon (R5), loaded
  // at the open and added as blocks commit. Shared with admission (recent_tx_ids()).
  std::unique_ptr<RecentTxIds> recent_;
  std::optional<StateUpgrade> state_upgrade_;
};

// ---- Older state formats ----

// The state format a store holds (keys::kStateFormat): 1 when it has no marker (the format before
// markers), the marker's number otherwise; FailedPrecondition for a marker that is not a number.
Result<int> StoredStateFormat(const KvReader& store);

// The writes that turn `state`, a store in the current state format, into what a node of the older
// `format` (1 or 2) would have written for the same blocks: the consent index keys of formats 1
// and 2 ("c" patient grantee id, from the pair records), then for format 1 no pair records and no
// marker, for format 2 the marker "2". Ledger::Open's upgrade is its inverse; hcctl verify-chain
// compares a store that no current node has opened with the replay written back this way.
Result<KvBatch> OlderStateFormatWrites(const KvReader& state, int format);

// ---- Building blocks (proposers, tests, benchmarks) ----

// RFC 9162 root over the txs' ids (BlockHeader.txs_root, docs/spec/wire.md W4).
Hash32 TxsRoot(const std::vector<std::string>& txs);
// The same from the ids themselves.
Hash32 TxsRootOfIds(const std::vector<Hash32>& ids);

struct BlockParams {
  std::string chain_id;
  uint64_t height = 0;
  Hash32 prev_block_hash{};
  int64_t timestamp_ms = 0;
  uint64_t view = 0;
  uint32_t proposer = 0;
  LogClaim log;
};
// A block with its header filled in from `params` and the txs.
::healthchain::v1::Block BuildBlock(const BlockParams& params, std::vector<std::string> txs);

// The certificate of `block` signed by `signers` (validator index, signer) in `view`: what 2f+1
// COMMITs make. For tests, benchmarks and tools; the replica assembles certificates from votes.
::healthchain::v1::CommitCertificate MakeCertificate(
    std::string_view chain_id, const ::healthchain::v1::Block& block, uint64_t view,
    const std::vector<std::pair<uint32_t, const crypto::Signer*>>& signers);

// Checks a stored or received certificate against the genesis validators and the block hash.
Status CheckCertificate(const ::healthchain::v1::CommitCertificate& certificate, uint64_t height,
                        const Hash32& block_hash, const Genesis& genesis,
                        const crypto::Verifier& verifier);

}  // namespace hc::ledger

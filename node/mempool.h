// The mempool: signed txs admitted by this node and not yet executed (DESIGN.md §3, §8).
//
// Admission (Mempool::Admit) checks, cheapest first: the size cap (docs/spec/wire.md W6), a
// duplicate of a pending tx, a duplicate of a committed tx (the ledger's tx index, through
// `committed`), room (count and bytes), and then ledger::DecodeTx: parse, chain id, field bounds
// and the Ed25519 signature over the exact body bytes (R1..R4); then the chain's tx lifetime (R5).
// The signature is checked once per node: a successful check is remembered in a VerifiedTxCache,
// and the executor's PrepareBlock verifies through that cache (block_verifier()), so a block's txs
// that passed admission here are not verified again.
//
// AdmissionPool runs admissions on `verify_threads` workers fed by a bounded queue; API
// submissions and txs relayed by peers go through the same path.
//
// Thread-safety: every method of Mempool, VerifiedTxCache and AdmissionPool is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "consensus/app.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "node/worker_pool.h"

namespace hc::node {

using consensus::TxId;

// Remembers signatures that verified, so that each tx signature is checked with Ed25519 once per
// node: at admission, or at execution for a tx whose block arrived before this node admitted it.
// A signature being checked by one thread is claimed: another thread asking for it (the executor
// racing the admission of the same relayed txs) waits for that result instead of checking again.
class VerifiedTxCache final : public crypto::Verifier {
 public:
  // `real` must outlive the cache. At most `capacity` signatures are remembered (oldest first
  // out).
  VerifiedTxCache(const crypto::Verifier& real, size_t capacity);

  // Block execution: a remembered signature verifies without Ed25519 (and is forgotten);
  // anything else is checked by the real verifier, and remembered if valid (so that a relay of
  // the same tx admitted meanwhile is not checked again).
  bool Verify(const crypto::Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override;

  // Mempool admission: a remembered signature verifies; anything else is checked by the real
  // verifier and remembered if valid.
  bool VerifyAndRemember(const crypto::Ed25519PublicKey& key, std::string_view domain,
                         ByteView message, ByteView signature) const;

  size_t size() const;
  // Block lookups answered from the cache / checked with Ed25519 (not admitted here first).
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  // Ed25519 checks made at admission.
  uint64_t admission_checks() const { return admission_checks_.load(std::memory_order_relaxed); }

 private:
  enum class State : uint8_t { kChecking, kValid };
  static Hash32 KeyOf(const crypto::Ed25519PublicKey& key, std::string_view domain,
                      ByteView message, ByteView signature);
  // True when `k` is remembered valid (forgotten if `consume`). Otherwise claims `k` for the
  // caller, who must check it and call Finish. Waits while another thread holds the claim.
  bool RememberedOrClaim(const Hash32& k, bool consume) const;
  void Finish(const Hash32& k, bool valid) const;

  const crypto::Verifier& real_;
  const size_t capacity_;
  mutable std::mutex mu_;
  mutable std::condition_variable checked_;  // a claim was finished
  mutable std::unordered_map<Hash32, State, consensus::Hash32Hasher> entries_;
  mutable std::deque<Hash32> fifo_;  // valid entries, oldest first (may name forgotten ones)
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
  mutable std::atomic<uint64_t> admission_checks_{0};
};

enum class AdmitCode {
  kAdmitted,
  kInvalid,             // R1..R4 failed, or above the size cap
  kDuplicatePending,    // already in the mempool
  kDuplicateCommitted,  // already in the ledger
  kFull,                // the mempool is at its count or byte bound
};
std::string_view AdmitCodeName(AdmitCode code);

struct AdmitResult {
  AdmitCode code = AdmitCode::kInvalid;
  TxId tx_id{};
  uint32_t size_bytes = 0;
  std::string detail;  // why, for kInvalid (cites the rule: "R2: chain id ...")
  // kAdmitted, or kDuplicatePending from a relayer not seen before for this tx: the replica must
  // hear of (tx_id, relayer) (Replica::OnTx).
  bool report_to_replica = false;
};

struct MempoolOptions {
  std::string chain_id;
  uint64_t txs_max = 200'000;
  uint64_t bytes_max = 256ull << 20;
  uint64_t tx_bytes_max = 0;  // 0: consensus::kMaxTxBytes
  uint32_t self = 0;          // this node's replica id (its own submissions)
  // R5: a tx whose created_ms is outside the lifetime at admission time (the node's clock stands
  // for its block's time) is refused as kInvalid.
  ledger::TxLifetime lifetime;
};

class Mempool {
 public:
  // True when the ledger already holds `tx_id` (its tx index); `now_ms` is the admission's time,
  // the same the lifetime check (R5) uses. Thread-safe.
  using CommittedFn = std::function<bool(const TxId& tx_id, int64_t now_ms)>;

  // `real` must outlive the mempool.
  Mempool(MempoolOptions options, const crypto::Verifier& real, CommittedFn committed);
  ~Mempool();

  // Admits SignedTx bytes first heard from `relayer` (a validator index; options.self for a client
  // submission). Runs the signature check on the calling thread.
  AdmitResult Admit(ByteView tx, uint32_t relayer, int64_t now_ms);

  // Checks a block tx's signature ahead of its execution, remembering it in the verified cache
  // (catch-up: workers check a fetched block's txs while the executing thread applies earlier
  // blocks). Admits nothing; a tx that does not decode or verify is left to execution to reject.
  void PreVerify(ByteView tx) const;

  // Up to `max_txs` txs totalling at most `max_bytes`, oldest first, none in `exclude`.
  std::vector<Bytes> Select(size_t max_txs, uint64_t max_bytes,
                            const consensus::TxIdSet& exclude) const;

  // Marks txs of a block the replica committed (driver thread, at its CommitAction): they are
  // no longer selected for proposals nor reported to the replica again, but stay (as pending)
  // until their block executes. The replica forgets committed txs at once (it would track a late
  // relay as new work and time out on it), so the node must not tell it of them again.
  void MarkCommitted(const std::vector<TxId>& ids);
  // In the mempool and not yet committed: the replica may hear of it.
  bool Proposable(const TxId& id) const;

  // Removes executed txs. For each removed tx this node admitted from a client, appends the time
  // it was admitted to *own_admitted_ms (commit latency); may be null.
  void RemoveCommitted(const std::vector<TxId>& ids, std::vector<int64_t>* own_admitted_ms);
  // Tells the mempool that the ledger holds blocks it was not told of by RemoveCommitted (blocks
  // applied by state transfer). Called after the ledger write, as RemoveCommitted is: admission
  // reads the tx index a second time only when one of the two was called while it checked a
  // signature.
  void LedgerAdvanced();

  bool Contains(const TxId& id) const;
  size_t size() const;
  uint64_t bytes() const;
  const MempoolOptions& options() const { return options_; }

  // Verifies a block's txs through the admission cache (ledger::PrepareBlock).
  const crypto::Verifier& block_verifier() const { return cache_; }
  const VerifiedTxCache& verified_cache() const { return cache_; }
  const VerifiedTxCache& cache() const { return cache_; }

 private:
  struct Entry {
    Bytes tx;
    uint64_t order = 0;
    uint64_t relayers = 0;  // bit per validator index
    int64_t admitted_ms = 0;
    bool own = false;
    bool committed = false;  // in a committed block that has not executed yet
  };
  class RememberingVerifier;

  // Records `relayer` for a pending tx; true if it is new. Requires mu_.
  static bool NoteRelayer(Entry& e, uint32_t relayer);

  const MempoolOptions options_;
  VerifiedTxCache cache_;
  std::unique_ptr<RememberingVerifier> remembering_;
  CommittedFn committed_;

  mutable std::mutex mu_;
  uint64_t ledger_advances_ = 0;  // calls of RemoveCommitted and LedgerAdvanced (under mu_)
  std::unordered_map<TxId, Entry, consensus::Hash32Hasher> txs_;
  std::map<uint64_t, TxId> order_;
  uint64_t next_order_ = 0;
  uint64_t bytes_ = 0;
};

// One admitted (or newly relayed) tx, reported to the node after its worker's batch.
struct AdmittedTx {
  TxId tx_id{};
  uint32_t size_bytes = 0;
  uint32_t relayer = 0;
  bool newly_admitted = false;  // false: a pending tx heard from another relayer
  Bytes tx;                     // set when newly admitted
};

struct AdmissionJob {
  Bytes tx;
  uint32_t relayer = 0;
  // Called on the worker thread with the outcome (may be empty).
  std::function<void(const AdmitResult&)> done;
};

class AdmissionPool {
 public:
  // Called on a worker thread after each batch with what it admitted (never empty).
  using BatchFn = std::function<void(std::vector<AdmittedTx>&)>;

  // Starts `threads` workers `hc-verify-N` (1..kVerifyThreadsMax). `mempool` must outlive the
  // pool.
  AdmissionPool(Mempool& mempool, uint32_t threads, BatchFn on_batch);

  // Queues a job; false (and the job is dropped, `done` not called) when the queue is full or the
  // pool is stopped.
  bool Submit(AdmissionJob job) { return pool_.Submit(std::move(job)); }

  // Finishes the jobs already taken by workers, drops the queued ones, joins the workers.
  void Stop() { pool_.Stop(); }

  size_t queued() const { return pool_.queued(); }

 private:
  void AdmitBatch(std::vector<AdmissionJob>& jobs);

  Mempool& mempool_;
  BatchFn on_batch_;
  WorkerPool<AdmissionJob> pool_;  // last: its workers use the members above
};

// Checks the signatures of committed blocks' txs ahead of their execution, into the mempool's
// verified cache (Mempool::PreVerify), so that execution finds them checked. For catch-up by state
// transfer, where no tx of a fetched block was admitted here first and execution would otherwise
// check every signature on its one thread. Workers take whole blocks in submission order and walk
// each from its last tx; a tx that execution reaches first is checked by execution, and each
// signature is checked once (the cache's claims).
class PreVerifyPool {
 public:
  // Starts `threads` workers `hc-preverify-N` (1..kVerifyThreadsMax). `mempool` must outlive the
  // pool.
  PreVerifyPool(const Mempool& mempool, uint32_t threads);

  // Queues a block's txs; false (the block is left to execution) when the queue is full or the
  // pool is stopped. Never blocks.
  bool Submit(consensus::BlockTxs txs) { return pool_.Submit(std::move(txs)); }

  // Drops the queued blocks, lets the workers finish the tx in hand, joins them.
  void Stop() { pool_.Stop(); }

 private:
  void CheckBlock(const consensus::BlockTxs& txs);

  const Mempool& mempool_;
  WorkerPool<consensus::BlockTxs> pool_;  // last: its workers use the member above
};

}  // namespace hc::node

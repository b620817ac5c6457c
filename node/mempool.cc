#include "node/mempool.h"

#include <chrono>

#include "common/assert.h"
#include "common/clock.h"
#include "consensus/limits.h"
#include "crypto/hash.h"
#include "ledger/tx.h"
#include "node/limits.h"

namespace hc::node {

// ---- VerifiedTxCache ----

VerifiedTxCache::VerifiedTxCache(const crypto::Verifier& real, size_t capacity)
    : real_(real), capacity_(capacity) {
  HC_ASSERT_GT(capacity, size_t{0});
}

Hash32 VerifiedTxCache::KeyOf(const crypto::Ed25519PublicKey& key, std::string_view domain,
                              ByteView message, ByteView signature) {
  // Reused per thread: an EVP context per call would cost as much as the hashing (DESIGN.md §8).
  thread_local crypto::Sha256Hasher h;
  const uint8_t len = static_cast<uint8_t>(domain.size());
  h.Update(ByteView(&len, 1));
  h.Update(AsBytes(domain));
  h.Update(key);
  h.Update(signature);
  h.Update(message);
  return h.Final();
}

bool VerifiedTxCache::RememberedOrClaim(const Hash32& k, bool consume) const {
  std::unique_lock lock(mu_);
  while (true) {
    auto it = entries_.find(k);
    if (it == entries_.end()) {
      entries_.emplace(k, State::kChecking);
      return false;
    }
    if (it->second == State::kValid) {
      if (consume) entries_.erase(it);  // its fifo entry goes when it reaches the front
      return true;
    }
    checked_.wait(lock);
  }
}

void VerifiedTxCache::Finish(const Hash32& k, bool valid) const {
  {
    std::lock_guard lock(mu_);
    if (!valid) {
      entries_.erase(k);
    } else {
      entries_[k] = State::kValid;
      fifo_.push_back(k);
      while (fifo_.size() > capacity_) {
        auto it = entries_.find(fifo_.front());
        if (it != entries_.end() && it->second == State::kValid) entries_.erase(it);
        fifo_.pop_front();
      }
    }
  }
  checked_.notify_all();
}

bool VerifiedTxCache::Verify(const crypto::Ed25519PublicKey& key, std::string_view domain,
                             ByteView message, ByteView signature) const {
  const Hash32 k = KeyOf(key, domain, message, signature);
  if (RememberedOrClaim(k, /*consume=*/true)) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  const bool valid = real_.Verify(key, domain, message, signature);
  Finish(k, valid);
  return valid;
}

bool VerifiedTxCache::VerifyAndRemember(const crypto::Ed25519PublicKey& key,
                                        std::string_view domain, ByteView message,
                                        ByteView signature) const {
  const Hash32 k = KeyOf(key, domain, message, signature);
  if (RememberedOrClaim(k, /*consume=*/false)) return true;
  admission_checks_.fetch_add(1, std::memory_order_relaxed);
  const bool valid = real_.Verify(key, domain, message, signature);
  Finish(k, valid);
  return valid;
}

size_t VerifiedTxCache::size() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [k, state] : entries_) n += state == State::kValid ? 1 : 0;
  return n;
}

// ---- Mempool ----

std::string_view AdmitCodeName(AdmitCode code) {
  switch (code) {
    case AdmitCode::kAdmitted:
      return "admitted";
    case AdmitCode::kInvalid:
      return "invalid";
    case AdmitCode::kDuplicatePending:
      return "duplicate_pending";
    case AdmitCode::kDuplicateCommitted:
      return "duplicate_committed";
    case AdmitCode::kFull:
      return "full";
  }
  return "unknown";
}

class Mempool::RememberingVerifier final : public crypto::Verifier {
 public:
  explicit RememberingVerifier(const VerifiedTxCache& cache) : cache_(cache) {}
  bool Verify(const crypto::Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override {
    return cache_.VerifyAndRemember(key, domain, message, signature);
  }

 private:
  const VerifiedTxCache& cache_;
};

Mempool::Mempool(MempoolOptions options, const crypto::Verifier& real, CommittedFn committed)
    : options_(std::move(options)),
      cache_(real, std::max<size_t>(kVerifiedCacheMinEntries, 2 * options_.txs_max)),
      remembering_(std::make_unique<RememberingVerifier>(cache_)),
      committed_(std::move(committed)) {}

Mempool::~Mempool() = default;

bool Mempool::NoteRelayer(Entry& e, uint32_t relayer) {
  if (relayer >= 64) return false;
  const uint64_t bit = uint64_t{1} << relayer;
  if (e.relayers & bit) return false;
  e.relayers |= bit;
  return true;
}

void Mempool::PreVerify(ByteView tx) const {
  (void)ledger::DecodeTx(tx, options_.chain_id, *remembering_);
}

AdmitResult Mempool::Admit(ByteView tx, uint32_t relayer, int64_t now_ms) {
  AdmitResult r;
  r.size_bytes = static_cast<uint32_t>(std::min<size_t>(tx.size(), UINT32_MAX));
  const uint64_t cap = options_.tx_bytes_max ? options_.tx_bytes_max : consensus::kMaxTxBytes;
  if (tx.empty() || tx.size() > cap) {
    r.code = AdmitCode::kInvalid;
    r.detail = "R1: tx of " + std::to_string(tx.size()) + " bytes (1.." + std::to_string(cap) +
               " allowed)";
    return r;
  }
  r.tx_id = ledger::TxIdOf(tx);
  auto check_pending = [&]() -> bool {
    auto it = txs_.find(r.tx_id);
    if (it == txs_.end()) return false;
    r.code = AdmitCode::kDuplicatePending;
    r.report_to_replica = NoteRelayer(it->second, relayer) && !it->second.committed;
    return true;
  };
  auto full = [&] {
    return txs_.size() >= options_.txs_max || bytes_ + tx.size() > options_.bytes_max;
  };
  uint64_t advances_before = 0;
  {
    std::lock_guard lock(mu_);
    if (check_pending()) return r;
    if (full()) {
      r.code = AdmitCode::kFull;
      return r;
    }
    advances_before = ledger_advances_;
  }
  if (committed_ && committed_(r.tx_id, now_ms)) {
    r.code = AdmitCode::kDuplicateCommitted;
    return r;
  }
  auto decoded = ledger::DecodeTx(tx, options_.chain_id, *remembering_);
  if (!decoded.ok()) {
    r.code = AdmitCode::kInvalid;
    r.detail = decoded.status().message();
    return r;
  }
  if (const int64_t created = decoded->body.created_ms();
      !options_.lifetime.Allows(created, now_ms)) {
    r.code = AdmitCode::kInvalid;
    r.detail = "R5: tx created at " + std::to_string(created) +
               " ms is outside the chain's lifetime at this node's time " + std::to_string(now_ms) +
               " ms (at most " + std::to_string(options_.lifetime.max_age_ms) + " ms before it, " +
               std::to_string(options_.lifetime.max_future_ms) + " ms after); sign it again";
    return r;
  }
  std::lock_guard lock(mu_);
  if (check_pending()) return r;
  if (full()) {
    r.code = AdmitCode::kFull;
    return r;
  }
  Entry e;
  e.tx.assign(tx.begin(), tx.end());
  e.order = next_order_++;
  e.admitted_ms = now_ms;
  e.own = relayer == options_.self;
  NoteRelayer(e, relayer);
  order_.emplace(e.order, r.tx_id);
  bytes_ += e.tx.size();
  txs_.emplace(r.tx_id, std::move(e));
  r.code = AdmitCode::kAdmitted;
  r.report_to_replica = true;
  // The executor writes the ledger, then removes the block's txs from the mempool. A tx whose
  // block executed while this admission was verifying it passed the first check above and missed
  // that removal. Either the removal comes after this insertion (and takes the tx out), or it came
  // before, and then the ledger write is visible: check again, but only in that case (a read of
  // the tx index is a RocksDB miss through every level; most admissions see no block execute).
  if (committed_ && ledger_advances_ != advances_before && committed_(r.tx_id, now_ms)) {
    auto it = txs_.find(r.tx_id);
    bytes_ -= it->second.tx.size();
    order_.erase(it->second.order);
    txs_.erase(it);
    r.code = AdmitCode::kDuplicateCommitted;
    r.report_to_replica = false;
  }
  return r;
}

std::vector<Bytes> Mempool::Select(size_t max_txs, uint64_t max_bytes,
                                   const consensus::TxIdSet& exclude) const {
  std::vector<Bytes> out;
  uint64_t total = 0;
  std::lock_guard lock(mu_);
  for (const auto& [order, id] : order_) {
    if (out.size() >= max_txs) break;
    if (exclude.contains(id)) continue;
    const Entry& e = txs_.at(id);
    if (e.committed) continue;
    if (total + e.tx.size() > max_bytes) break;
    total += e.tx.size();
    out.push_back(e.tx);
  }
  return out;
}

void Mempool::RemoveCommitted(const std::vector<TxId>& ids, std::vector<int64_t>* own_admitted_ms) {
  std::lock_guard lock(mu_);
  ++ledger_advances_;
  for (const TxId& id : ids) {
    auto it = txs_.find(id);
    if (it == txs_.end()) continue;
    if (own_admitted_ms && it->second.own) own_admitted_ms->push_back(it->second.admitted_ms);
    bytes_ -= it->second.tx.size();
    order_.erase(it->second.order);
    txs_.erase(it);
  }
}

void Mempool::LedgerAdvanced() {
  std::lock_guard lock(mu_);
  ++ledger_advances_;
}

void Mempool::MarkCommitted(const std::vector<TxId>& ids) {
  std::lock_guard lock(mu_);
  for (const TxId& id : ids) {
    auto it = txs_.find(id);
    if (it != txs_.end()) it->second.committed = true;
  }
}

bool Mempool::Proposable(const TxId& id) const {
  std::lock_guard lock(mu_);
  auto it = txs_.find(id);
  return it != txs_.end() && !it->second.committed;
}

bool Mempool::Contains(const TxId& id) const {
  std::lock_guard lock(mu_);
  return txs_.contains(id);
}

size_t Mempool::size() const {
  std::lock_guard lock(mu_);
  return txs_.size();
}

uint64_t Mempool::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

// ---- AdmissionPool ----

namespace {
uint32_t PoolThreads(uint32_t threads) {
  HC_ASSERT(threads >= 1 && threads <= kVerifyThreadsMax);
  return threads;
}
}  // namespace

AdmissionPool::AdmissionPool(Mempool& mempool, uint32_t threads, BatchFn on_batch)
    : mempool_(mempool),
      on_batch_(std::move(on_batch)),
      pool_("hc-verify", PoolThreads(threads), kAdmissionQueueCapacity, kAdmissionBatchMax,
            [this](std::vector<AdmissionJob>& jobs) { AdmitBatch(jobs); }) {}

void AdmissionPool::AdmitBatch(std::vector<AdmissionJob>& jobs) {
  SystemClock clock;
  std::vector<AdmittedTx> admitted;
  for (AdmissionJob& job : jobs) {
    const AdmitResult r = mempool_.Admit(job.tx, job.relayer, clock.NowMs());
    if (r.report_to_replica) {
      AdmittedTx a;
      a.tx_id = r.tx_id;
      a.size_bytes = r.size_bytes;
      a.relayer = job.relayer;
      a.newly_admitted = r.code == AdmitCode::kAdmitted;
      if (a.newly_admitted) a.tx = std::move(job.tx);
      admitted.push_back(std::move(a));
    }
    if (job.done) job.done(r);
  }
  if (!admitted.empty() && on_batch_) on_batch_(admitted);
}

// ---- PreVerifyPool ----

PreVerifyPool::PreVerifyPool(const Mempool& mempool, uint32_t threads)
    : mempool_(mempool),
      pool_("hc-preverify", PoolThreads(threads), kPreVerifyQueueBlocks, 1,
            [this](std::vector<consensus::BlockTxs>& blocks) { CheckBlock(blocks.front()); }) {}

void PreVerifyPool::CheckBlock(const consensus::BlockTxs& txs) {
  // Last tx first: execution walks the block from its first tx, checking what no worker has
  // checked yet, so the two meet once in the middle instead of execution waiting on the worker's
  // claim at every tx.
  for (auto it = txs.end(); it != txs.begin();) {
    if (pool_.stopping()) return;
    mempool_.PreVerify(*--it);
  }
}

}  // namespace hc::node

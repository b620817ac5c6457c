// Mempool admission (size, parse, chain id, signature, duplicates), bounds, selection, removal,
// the verified-signature cache, the admission and pre-verify pools, and their WorkerPool.
#include "node/mempool.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consensus/limits.h"
#include "crypto/signer.h"
#include "ledger/tx.h"
#include "tests/ledger/tx_factory.h"

namespace hc::node {
namespace {

using ledger::testing::TxFactory;
namespace pb = ::healthchain::v1;

// Counts the real verifications; while `hold` is set, a verification waits (in_verify counts
// those waiting) so that a test can race a second thread against it.
class CountingVerifier final : public crypto::Verifier {
 public:
  bool Verify(const crypto::Ed25519PublicKey& key, std::string_view domain, ByteView message,
              ByteView signature) const override {
    ++calls;
    ++in_verify;
    while (hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    --in_verify;
    return inner_->Verify(key, domain, message, signature);
  }
  mutable std::atomic<int> calls{0};
  mutable std::atomic<int> in_verify{0};
  std::atomic<bool> hold{false};

 private:
  std::unique_ptr<crypto::Verifier> inner_ = crypto::MakeFakeVerifier();
};

class MempoolTest : public ::testing::Test {
 protected:
  Mempool Make(uint64_t txs_max = 100, uint64_t bytes_max = 1 << 20,
               Mempool::CommittedFn committed = nullptr, ledger::TxLifetime lifetime = {}) {
    MempoolOptions o;
    o.lifetime = lifetime;
    o.chain_id = std::string(ledger::testing::kChainId);
    o.txs_max = txs_max;
    o.bytes_max = bytes_max;
    o.self = 0;
    if (!committed) committed = [this](const TxId& id, int64_t) { return committed_.contains(id); };
    return Mempool(o, verifier_, std::move(committed));
  }
  std::string Tx() {
    return f_.RegisterOrg("commission", "org" + std::to_string(++n_), pb::ORG_ROLE_HOSPITAL);
  }

  CountingVerifier verifier_;
  consensus::TxIdSet committed_;
  TxFactory f_;
  int n_ = 0;
};

TEST_F(MempoolTest, AdmitsAValidTxOnce) {
  Mempool m = Make();
  const std::string tx = Tx();
  AdmitResult r = m.Admit(AsBytes(tx), 0, 1000);
  EXPECT_EQ(r.code, AdmitCode::kAdmitted) << r.detail;
  EXPECT_TRUE(r.report_to_replica);
  EXPECT_EQ(r.tx_id, ledger::TxIdOf(AsBytes(tx)));
  EXPECT_TRUE(m.Contains(r.tx_id));
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.bytes(), tx.size());
  // A duplicate from the same relayer is not reported again; from another relayer it is, once.
  AdmitResult dup = m.Admit(AsBytes(tx), 0, 1001);
  EXPECT_EQ(dup.code, AdmitCode::kDuplicatePending);
  EXPECT_FALSE(dup.report_to_replica);
  AdmitResult other = m.Admit(AsBytes(tx), 2, 1002);
  EXPECT_EQ(other.code, AdmitCode::kDuplicatePending);
  EXPECT_TRUE(other.report_to_replica);
  EXPECT_FALSE(m.Admit(AsBytes(tx), 2, 1003).report_to_replica);
  EXPECT_EQ(verifier_.calls, 1) << "duplicates are refused before the signature check";
  EXPECT_EQ(m.size(), 1u);
}

TEST_F(MempoolTest, RefusesCommittedTxs) {
  Mempool m = Make();
  const std::string tx = Tx();
  committed_.insert(ledger::TxIdOf(AsBytes(tx)));
  EXPECT_EQ(m.Admit(AsBytes(tx), 0, 0).code, AdmitCode::kDuplicateCommitted);
  EXPECT_EQ(verifier_.calls, 0);
}

// R5: with a tx lifetime, admission refuses a tx its block could not accept (the node's clock
// standing for the block's time), after the signature check and without keeping it.
TEST_F(MempoolTest, RefusesTxsOutsideTheLifetime) {
  const ledger::TxLifetime lifetime{900'000, 300'000};
  Mempool m = Make(100, 1 << 20, nullptr, lifetime);
  const std::string tx = Tx();  // created at kT0
  using ledger::testing::kT0;
  AdmitResult stale = m.Admit(AsBytes(tx), 0, kT0 + 900'001);
  EXPECT_EQ(stale.code, AdmitCode::kInvalid);
  EXPECT_EQ(stale.detail.rfind("R5: ", 0), 0u) << stale.detail;
  AdmitResult early = m.Admit(AsBytes(tx), 0, kT0 - 300'001);
  EXPECT_EQ(early.code, AdmitCode::kInvalid);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Admit(AsBytes(tx), 0, kT0 + 900'000).code, AdmitCode::kAdmitted);
  // Without a lifetime any created_ms is admitted.
  Mempool none = Make();
  EXPECT_EQ(none.Admit(AsBytes(Tx()), 0, kT0 + 86'400'000LL * 365).code, AdmitCode::kAdmitted);
}

TEST_F(MempoolTest, RefusesInvalidTxs) {
  Mempool m = Make();
  AdmitResult garbage = m.Admit(AsBytes("not a tx"), 0, 0);
  EXPECT_EQ(garbage.code, AdmitCode::kInvalid);
  EXPECT_EQ(garbage.detail.substr(0, 2), "R1") << garbage.detail;
  EXPECT_EQ(m.Admit({}, 0, 0).code, AdmitCode::kInvalid);
  const std::string huge(consensus::kMaxTxBytes + 1, 'x');
  EXPECT_EQ(m.Admit(AsBytes(huge), 0, 0).code, AdmitCode::kInvalid);
  // Another chain.
  TxFactory other("another-chain");
  const std::string foreign = other.RegisterOrg("commission", "x", pb::ORG_ROLE_HOSPITAL);
  AdmitResult r = m.Admit(AsBytes(foreign), 0, 0);
  EXPECT_EQ(r.code, AdmitCode::kInvalid);
  EXPECT_NE(r.detail.find("R2"), std::string::npos) << r.detail;
  // A bad signature: flip a byte of the signature (the last bytes of the SignedTx).
  std::string tampered = Tx();
  tampered.back() ^= 1;
  AdmitResult bad = m.Admit(AsBytes(tampered), 0, 0);
  EXPECT_EQ(bad.code, AdmitCode::kInvalid);
  EXPECT_NE(bad.detail.find("R4"), std::string::npos) << bad.detail;
  EXPECT_EQ(m.size(), 0u);
}

TEST_F(MempoolTest, BoundedByCountAndBytes) {
  Mempool by_count = Make(2);
  EXPECT_EQ(by_count.Admit(AsBytes(Tx()), 0, 0).code, AdmitCode::kAdmitted);
  EXPECT_EQ(by_count.Admit(AsBytes(Tx()), 0, 0).code, AdmitCode::kAdmitted);
  EXPECT_EQ(by_count.Admit(AsBytes(Tx()), 0, 0).code, AdmitCode::kFull);
  const std::string tx = Tx();
  Mempool by_bytes = Make(100, tx.size() + 10);
  EXPECT_EQ(by_bytes.Admit(AsBytes(tx), 0, 0).code, AdmitCode::kAdmitted);
  EXPECT_EQ(by_bytes.Admit(AsBytes(Tx()), 0, 0).code, AdmitCode::kFull);
  // Removing makes room again.
  by_bytes.RemoveCommitted({ledger::TxIdOf(AsBytes(tx))}, nullptr);
  EXPECT_EQ(by_bytes.Admit(AsBytes(Tx()), 0, 0).code, AdmitCode::kAdmitted);
}

TEST_F(MempoolTest, SelectsOldestFirstWithinLimits) {
  Mempool m = Make();
  std::vector<std::string> txs;
  for (int i = 0; i < 5; ++i) {
    txs.push_back(Tx());
    ASSERT_EQ(m.Admit(AsBytes(txs.back()), 0, i).code, AdmitCode::kAdmitted);
  }
  consensus::TxIdSet exclude = {ledger::TxIdOf(AsBytes(txs[1]))};
  std::vector<Bytes> got = m.Select(3, 1 << 20, exclude);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(ToString(got[0]), txs[0]);
  EXPECT_EQ(ToString(got[1]), txs[2]);
  EXPECT_EQ(ToString(got[2]), txs[3]);
  EXPECT_EQ(m.Select(10, txs[0].size() + txs[1].size(), {}).size(), 2u);
  EXPECT_TRUE(m.Select(10, 1, {}).empty());
}

TEST_F(MempoolTest, RemovesCommittedAndReportsOwnLatencies) {
  Mempool m = Make();
  const std::string own = Tx(), relayed = Tx();
  ASSERT_EQ(m.Admit(AsBytes(own), 0, 100).code, AdmitCode::kAdmitted);
  ASSERT_EQ(m.Admit(AsBytes(relayed), 1, 200).code, AdmitCode::kAdmitted);
  std::vector<int64_t> admitted;
  m.RemoveCommitted({ledger::TxIdOf(AsBytes(own)), ledger::TxIdOf(AsBytes(relayed))}, &admitted);
  EXPECT_EQ(admitted, std::vector<int64_t>{100});
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.bytes(), 0u);
}

// A tx of a committed block is neither proposed again nor reported to the replica again (it
// forgot the tx when it committed), but stays pending until its block executes.
TEST_F(MempoolTest, CommittedTxsAreHiddenUntilExecuted) {
  Mempool m = Make();
  const std::string a = Tx(), b = Tx();
  ASSERT_EQ(m.Admit(AsBytes(a), 0, 0).code, AdmitCode::kAdmitted);
  ASSERT_EQ(m.Admit(AsBytes(b), 0, 0).code, AdmitCode::kAdmitted);
  const TxId id_a = ledger::TxIdOf(AsBytes(a));
  m.MarkCommitted({id_a});
  EXPECT_FALSE(m.Proposable(id_a));
  EXPECT_TRUE(m.Contains(id_a));
  std::vector<Bytes> sel = m.Select(10, 1 << 20, {});
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(ToString(sel[0]), b);
  AdmitResult late = m.Admit(AsBytes(a), 3, 0);  // a relay arriving after the commit
  EXPECT_EQ(late.code, AdmitCode::kDuplicatePending);
  EXPECT_FALSE(late.report_to_replica);
}

// DESIGN.md §8: each signature is checked once per node; the block's execution hits the cache.
TEST_F(MempoolTest, BlockVerificationHitsTheAdmissionCache) {
  Mempool m = Make();
  const std::string tx = Tx();
  ASSERT_EQ(m.Admit(AsBytes(tx), 0, 0).code, AdmitCode::kAdmitted);
  ASSERT_EQ(verifier_.calls, 1);
  auto decoded = ledger::DecodeTx(AsBytes(tx), ledger::testing::kChainId, m.block_verifier());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(verifier_.calls, 1);
  EXPECT_EQ(m.cache().hits(), 1u);
  EXPECT_EQ(m.cache().size(), 0u);  // looked up once, then forgotten
  // A tx never admitted is verified for real at execution, and remembered, so that its relay
  // admitted afterwards (before the block's commit is visible to admission) is not checked again.
  const std::string fresh = Tx();
  ASSERT_TRUE(ledger::DecodeTx(AsBytes(fresh), ledger::testing::kChainId, m.block_verifier()).ok());
  EXPECT_EQ(verifier_.calls, 2);
  EXPECT_EQ(m.cache().misses(), 1u);
  ASSERT_EQ(m.Admit(AsBytes(fresh), 1, 0).code, AdmitCode::kAdmitted);
  EXPECT_EQ(verifier_.calls, 2);
  EXPECT_EQ(m.cache().admission_checks(), 1u);
}

// The executor and the admission worker racing over the same relayed txs (a block arriving while
// its txs are still being admitted) check each signature once: the second asker waits for the
// first one's answer.
TEST_F(MempoolTest, ConcurrentChecksOfOneSignatureVerifyOnce) {
  Mempool m = Make();
  const std::string tx = Tx();
  verifier_.hold = true;
  std::thread admission([&] { EXPECT_EQ(m.Admit(AsBytes(tx), 1, 0).code, AdmitCode::kAdmitted); });
  while (verifier_.in_verify.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<bool> executed{false};
  std::thread executor([&] {
    EXPECT_TRUE(ledger::DecodeTx(AsBytes(tx), ledger::testing::kChainId, m.block_verifier()).ok());
    executed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(executed.load());  // waiting for the admission's check, not checking again
  verifier_.hold = false;
  admission.join();
  executor.join();
  EXPECT_EQ(verifier_.calls, 1);
  EXPECT_EQ(m.cache().hits(), 1u);
  EXPECT_EQ(m.cache().misses(), 0u);
}

// A tx whose block executes while its admission checks the signature: admission reads the tx
// index again after inserting it when the ledger advanced meanwhile (RemoveCommitted for this
// node's blocks, LedgerAdvanced for blocks applied by state transfer), and only then; when the
// executor's removal comes after the insertion instead, the removal takes the tx out.
TEST_F(MempoolTest, ATxCommittedDuringItsSignatureCheckDoesNotStay) {
  for (int how = 0; how < 3; ++how) {
    SCOPED_TRACE(how == 0 ? "ledger advanced by state transfer"
                          : (how == 1 ? "another block removed" : "removed after insertion"));
    std::atomic<bool> in_ledger{false};
    std::atomic<int> reads{0};
    Mempool m = Make(100, 1 << 20, [&](const TxId&, int64_t) {
      ++reads;
      return in_ledger.load();
    });
    const std::string tx = Tx();
    const TxId id = ledger::TxIdOf(AsBytes(tx));
    verifier_.hold = true;
    AdmitResult r;
    std::thread admission([&] { r = m.Admit(AsBytes(tx), 1, 0); });
    while (verifier_.in_verify.load() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    in_ledger = true;  // the block's ledger write, then the executor tells the mempool:
    if (how == 0) m.LedgerAdvanced();
    if (how == 1) m.RemoveCommitted({TxId{}}, nullptr);
    verifier_.hold = false;
    admission.join();
    if (how < 2) {
      EXPECT_EQ(r.code, AdmitCode::kDuplicateCommitted);
      EXPECT_FALSE(r.report_to_replica);
      EXPECT_EQ(reads.load(), 2);
    } else {
      EXPECT_EQ(r.code, AdmitCode::kAdmitted);
      EXPECT_EQ(reads.load(), 1) << "no block was executed during the check: one read";
      m.RemoveCommitted({id}, nullptr);
    }
    EXPECT_FALSE(m.Contains(id));
    EXPECT_EQ(m.size(), 0u);
  }
}

// An invalid signature is not remembered: whoever asks next checks it again (and fails).
TEST_F(MempoolTest, AnInvalidSignatureIsNeverRemembered) {
  Mempool m = Make();
  std::string tx = Tx();
  pb::SignedTx signed_tx;
  ASSERT_TRUE(signed_tx.ParseFromString(tx));
  std::string sig = signed_tx.signature();
  sig[0] = static_cast<char>(sig[0] ^ 1);
  signed_tx.set_signature(sig);
  tx = signed_tx.SerializeAsString();
  EXPECT_EQ(m.Admit(AsBytes(tx), 1, 0).code, AdmitCode::kInvalid);
  EXPECT_FALSE(ledger::DecodeTx(AsBytes(tx), ledger::testing::kChainId, m.block_verifier()).ok());
  EXPECT_EQ(verifier_.calls, 2);
  EXPECT_EQ(m.cache().size(), 0u);
}

TEST_F(MempoolTest, AdmissionPoolReportsBatches) {
  Mempool m = Make();
  std::atomic<int> done{0}, admitted{0};
  AdmissionPool pool(m, 2, [&](std::vector<AdmittedTx>& batch) {
    for (const AdmittedTx& a : batch) {
      EXPECT_TRUE(a.newly_admitted);
      EXPECT_FALSE(a.tx.empty());
      ++admitted;
    }
  });
  constexpr int kTxs = 50;
  for (int i = 0; i < kTxs; ++i) {
    ASSERT_TRUE(pool.Submit(AdmissionJob{ToBytes(Tx()), 0, [&](const AdmitResult& r) {
                                           EXPECT_EQ(r.code, AdmitCode::kAdmitted);
                                           ++done;
                                         }}));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((done < kTxs || admitted < kTxs) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done, kTxs);
  EXPECT_EQ(admitted, kTxs);
  pool.Stop();
  EXPECT_FALSE(pool.Submit(AdmissionJob{ToBytes(Tx()), 0, nullptr}));
}

// Catch-up: the pre-verify workers check a fetched block's signatures into the cache, so that
// execution (DecodeTx through the block verifier) checks none of them again.
TEST_F(MempoolTest, PreVerifyPoolFillsTheCacheForExecution) {
  Mempool m = Make();
  PreVerifyPool pool(m, 2);
  constexpr int kTxs = 40;
  std::vector<Bytes> txs;
  for (int i = 0; i < kTxs; ++i) txs.push_back(ToBytes(Tx()));
  const consensus::BlockTxs block(std::move(txs));
  ASSERT_TRUE(pool.Submit(block));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (verifier_.calls < kTxs && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(verifier_.calls, kTxs);
  for (const Bytes& tx : block) {
    ASSERT_TRUE(ledger::DecodeTx(tx, ledger::testing::kChainId, m.block_verifier()).ok());
  }
  EXPECT_EQ(verifier_.calls, kTxs);  // none checked twice
  EXPECT_EQ(m.cache().hits(), static_cast<uint64_t>(kTxs));
  pool.Stop();
  EXPECT_FALSE(pool.Submit(consensus::BlockTxs{}));
}

TEST(WorkerPoolTest, EveryJobOnceInBatchesAndNothingAfterStop) {
  std::mutex mu;
  std::vector<int> seen;
  size_t largest_batch = 0;
  std::set<std::string> names;
  WorkerPool<int> pool("hc-test", 3, 1000, 8, [&](std::vector<int>& jobs) {
    char name[32] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    std::lock_guard lock(mu);
    names.insert(name);
    largest_batch = std::max(largest_batch, jobs.size());
    seen.insert(seen.end(), jobs.begin(), jobs.end());
  });
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.Submit(i));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (seen.size() >= 500) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pool.Stop();
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  EXPECT_LE(largest_batch, 8u);
  for (const std::string& n : names) EXPECT_TRUE(n.starts_with("hc-test-")) << n;
  EXPECT_FALSE(pool.Submit(7));
  pool.Stop();  // idempotent
}

TEST(WorkerPoolTest, AFullQueueRefusesAndStopDropsWhatIsQueued) {
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  WorkerPool<int> pool("hc-test", 1, 4, 1, [&](std::vector<int>&) {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++ran;
  });
  ASSERT_TRUE(pool.Submit(0));  // taken by the worker, which then blocks
  while (pool.queued() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(pool.Submit(i));
  EXPECT_FALSE(pool.Submit(5));  // capacity 4
  std::thread stopper([&] { pool.Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  stopper.join();
  EXPECT_EQ(ran.load(), 1);  // the job in hand finished; the four queued ones were dropped
}

}  // namespace
}  // namespace hc::node

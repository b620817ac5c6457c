// R5 with a tx lifetime: txs outside it are refused before the tx index, and the replay check of a
// fresh tx is answered from the ids of recent blocks held in memory (RecentTxIds) with the same
// receipts as reading the whole tx index.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "ledger/recent_tx_ids.h"
#include "ledger_test_util.h"
#include "workload.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

constexpr TxLifetime kLifetime{15 * 60'000, 5 * 60'000};

// ---- RecentTxIds ----

TEST(RecentTxIdsTest, HoldsTheBlocksSinceTheOpenAndRulesOutTheRest) {
  RecentTxIds r(/*open_height=*/0, kT0);
  EXPECT_TRUE(r.Covers(INT64_MIN + 1));  // a chain opened at genesis misses no block
  r.AddBlock(1, kT0 + 10, {11, 12}, /*horizon_ms=*/kT0 - 1000);
  r.AddBlock(2, kT0 + 20, {13}, kT0 - 1000);
  EXPECT_TRUE(r.MayContain(11));
  EXPECT_TRUE(r.MayContain(13));
  EXPECT_FALSE(r.MayContain(14));
  EXPECT_TRUE(r.RulesOut(14, kT0));
  EXPECT_FALSE(r.RulesOut(12, kT0));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(r.blocks(), 2u);
}

TEST(RecentTxIdsTest, BlocksCommittedBeforeTheOpenAreNotCovered) {
  RecentTxIds r(/*open_height=*/7, /*open_time_ms=*/kT0);
  EXPECT_FALSE(r.Covers(kT0));  // block 7 (at kT0) may hold it: read the tx index
  EXPECT_FALSE(r.RulesOut(99, kT0 - 5));
  EXPECT_TRUE(r.Covers(kT0 + 1));
  EXPECT_TRUE(r.RulesOut(99, kT0 + 1));
}

TEST(RecentTxIdsTest, BlocksPastTheHorizonAreDroppedAndNoLongerCovered) {
  RecentTxIds r(0, kT0);
  r.AddBlock(1, 1000, {1}, 0);
  r.AddBlock(2, 2000, {2}, 0);
  r.AddBlock(3, 5000, {3}, /*horizon_ms=*/2001);  // blocks 1 and 2 can hold no fresh tx
  EXPECT_EQ(r.blocks(), 1u);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_FALSE(r.MayContain(1));
  EXPECT_FALSE(r.MayContain(2));
  EXPECT_FALSE(r.Covers(2000));  // so a question reaching back to them is not answered here
  EXPECT_TRUE(r.Covers(2001));
  EXPECT_TRUE(r.MayContain(3));
}

TEST(RecentTxIdsTest, DropAboveTakesBackStagedBlocks) {
  RecentTxIds r(0, kT0);
  r.AddBlock(1, kT0, {1}, 0);
  r.AddBlock(2, kT0, {2}, 0);
  r.AddBlock(3, kT0, {3, 2}, 0);  // a key shared by two ids
  r.DropAbove(1);
  EXPECT_TRUE(r.MayContain(1));
  EXPECT_FALSE(r.MayContain(2));
  EXPECT_FALSE(r.MayContain(3));
  EXPECT_EQ(r.size(), 1u);
  r.AddBlock(2, kT0, {5}, 0);  // the height may be staged again
  EXPECT_TRUE(r.MayContain(5));
}

TEST(RecentTxIdsTest, KeyIsTheIdsFirstEightBytesAndNeverZero) {
  Hash32 id{};
  EXPECT_EQ(RecentTxIds::KeyOf(id), 1u);
  id[0] = 0x01;
  id[7] = 0x02;
  id[8] = 0xff;  // beyond the key
  EXPECT_EQ(RecentTxIds::KeyOf(id), 0x0100000000000002ULL);
}

// The open-addressing table against a model, through growth, shared keys, horizons and drops:
// keys crowded into few distinct values make long probe runs, where deletion is delicate.
TEST(RecentTxIdsTest, AgreesWithAModelUnderRandomBlocks) {
  std::mt19937_64 rng(42);
  RecentTxIds r(0, 0);
  std::map<uint64_t, int> model;
  std::deque<std::pair<int64_t, std::vector<uint64_t>>> blocks;
  uint64_t height = 0;
  int64_t t = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<uint64_t> keys(rng() % 300);
    for (uint64_t& k : keys) k = 1 + rng() % (round % 2 == 0 ? 5'000 : 1'000'000'000ULL);
    t += static_cast<int64_t>(rng() % 50);
    const int64_t horizon = t - 400;
    if (round % 37 == 36 && !blocks.empty()) {  // a run whose write failed: drop staged blocks
      const uint64_t keep = height - std::min<uint64_t>(blocks.size(), 1 + rng() % 3);
      r.DropAbove(keep);
      while (height > keep) {
        for (uint64_t k : blocks.back().second) {
          if (--model[k] == 0) model.erase(k);
        }
        blocks.pop_back();
        --height;
      }
      continue;
    }
    r.AddBlock(++height, t, keys, horizon);
    for (uint64_t k : keys) ++model[k];
    blocks.emplace_back(t, keys);
    while (!blocks.empty() && blocks.front().first < horizon) {
      for (uint64_t k : blocks.front().second) {
        if (--model[k] == 0) model.erase(k);
      }
      blocks.pop_front();
    }
    size_t held = 0;
    for (const auto& [k, n] : model) held += static_cast<size_t>(n);
    ASSERT_EQ(r.size(), held) << "round " << round;
    ASSERT_EQ(r.blocks(), blocks.size());
    for (int probe = 0; probe < 200; ++probe) {
      const uint64_t k = 1 + rng() % 5'000;
      ASSERT_EQ(r.MayContain(k), model.count(k) != 0) << "round " << round << " key " << k;
    }
    for (const auto& [k, n] : model) ASSERT_TRUE(r.MayContain(k));
  }
}

// ---- R5 with a lifetime, through the ledger ----

Genesis LifetimeGenesis() {
  Genesis g = TestGenesis();
  g.txs = kLifetime;
  return g;
}

class LifetimeTest : public ::testing::Test {
 protected:
  LifetimeTest() { Reopen(); }

  void Reopen(Ledger::OpenOptions options = {}) {
    ledger_.reset();
    auto l = Ledger::Open(std::make_unique<BorrowedStore>(store_), LifetimeGenesis(), *verifier_,
                          options);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  std::vector<pb::Receipt> Commit(std::vector<std::string> txs, int64_t t) {
    return CommitTxs(*ledger_, std::move(txs), t).execution.receipts;
  }

  // A commission's tx created at `created_ms` (the factory's txs are created at kT0).
  std::string CreatedAt(int64_t created_ms) {
    pb::TxBody b = f.Body("gov");
    b.set_created_ms(created_ms);
    auto* p = b.mutable_register_policy();
    p->set_policy_id("p" + std::to_string(++n_));
    p->set_uri("https://policies.example/p");
    p->set_document_sha256(std::string(32, 'd'));
    return f.Sign(b);
  }

  bool Indexed(const std::string& tx) {
    std::string where;
    return store_.Get(Cf::kTxIndex, AsStr(TxIdOf(AsBytes(tx))), &where).ok();
  }

  std::unique_ptr<crypto::Verifier> verifier_ = crypto::MakeFakeVerifier();
  MemKvStore store_;
  std::unique_ptr<Ledger> ledger_;
  TxFactory f;
  int n_ = 0;
};

TEST_F(LifetimeTest, ATxOutsideItsLifetimeIsInvalidAndReachesNoState) {
  const int64_t t = kT0 + 3'600'000;
  const std::string stale = CreatedAt(t - kLifetime.max_age_ms - 1);
  const std::string early = CreatedAt(t + kLifetime.max_future_ms + 1);
  const std::string oldest = CreatedAt(t - kLifetime.max_age_ms);
  const std::string latest = CreatedAt(t + kLifetime.max_future_ms);
  auto r = Commit({stale, early, oldest, latest}, t);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].status(), pb::TX_STATUS_INVALID);
  EXPECT_EQ(r[0].rule(), "R5");
  EXPECT_NE(r[0].reason().find("900001 ms before its block's time, over the 900000 ms"),
            std::string::npos)
      << r[0].reason();
  EXPECT_EQ(r[1].status(), pb::TX_STATUS_INVALID);
  EXPECT_NE(r[1].reason().find("300001 ms after"), std::string::npos) << r[1].reason();
  EXPECT_EQ(r[2].status(), pb::TX_STATUS_OK) << r[2].reason();
  EXPECT_EQ(r[3].status(), pb::TX_STATUS_OK) << r[3].reason();
  EXPECT_FALSE(Indexed(stale));
  EXPECT_FALSE(Indexed(early));
  EXPECT_TRUE(Indexed(oldest));
  // The early one is valid once its time comes, and was not made a duplicate by its refusal.
  EXPECT_EQ(Commit({early}, t + 2)[0].status(), pb::TX_STATUS_OK);
}

TEST_F(LifetimeTest, AReplayIsDuplicateWhileFreshAndInvalidOnceExpired) {
  const std::string tx = CreatedAt(kT0 + 1000);
  EXPECT_EQ(Commit({tx}, kT0 + 1000)[0].status(), pb::TX_STATUS_OK);
  ASSERT_NE(ledger_->recent_tx_ids(), nullptr);
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 1u);
  const pb::Receipt again = Commit({tx}, kT0 + 2000)[0];
  EXPECT_EQ(again.status(), pb::TX_STATUS_DUPLICATE);
  EXPECT_EQ(again.rule(), "R5");
  const pb::Receipt late = Commit({tx}, kT0 + 1000 + kLifetime.max_age_ms + 1)[0];
  EXPECT_EQ(late.status(), pb::TX_STATUS_INVALID);
  EXPECT_EQ(late.rule(), "R5");
}

// After a restart the ledger reads the ids of the blocks since the horizon back into memory: a
// replay is answered from it at once (and still confirmed by the tx index).
TEST_F(LifetimeTest, AReplayAfterAReopenIsStillDuplicate) {
  const std::string tx = CreatedAt(kT0 + 1000);
  EXPECT_EQ(Commit({tx}, kT0 + 1000)[0].status(), pb::TX_STATUS_OK);
  Reopen();
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 1u);
  EXPECT_EQ(ledger_->recent_tx_ids()->blocks(), 1u);
  EXPECT_TRUE(ledger_->recent_tx_ids()->Covers(kLifetime.Horizon(kT0 + 2000)));
  EXPECT_EQ(Commit({tx}, kT0 + 2000)[0].status(), pb::TX_STATUS_DUPLICATE);
}

// Open loads only the blocks within the tip's horizon, every tx of them (invalid ones too: a
// superset is safe), and covers the horizon from then on.
TEST_F(LifetimeTest, AReopenLoadsTheBlocksWithinTheHorizon) {
  for (int i = 0; i < 5; ++i) Commit({CreatedAt(kT0 + i * 60'000)}, kT0 + i * 60'000);
  const int64_t later = kT0 + 4 * 60'000 + kLifetime.max_age_ms + kLifetime.max_future_ms;
  const std::string stale = CreatedAt(later - kLifetime.max_age_ms - 1);  // INVALID (R5)
  const std::string fresh = CreatedAt(later);
  auto r = Commit({fresh, stale}, later);
  ASSERT_EQ(r[1].status(), pb::TX_STATUS_INVALID);
  const size_t blocks = ledger_->recent_tx_ids()->blocks();
  ASSERT_EQ(blocks, 2u);  // kT0 + 4 min (at the horizon) and `later`
  Reopen();
  EXPECT_EQ(ledger_->recent_tx_ids()->blocks(), blocks);
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 3u);
  EXPECT_TRUE(ledger_->recent_tx_ids()->Covers(kLifetime.Horizon(later)));
  EXPECT_TRUE(ledger_->recent_tx_ids()->MayContain(RecentTxIds::KeyOf(TxIdOf(AsBytes(fresh)))));
  EXPECT_EQ(Commit({fresh}, later + 1)[0].status(), pb::TX_STATUS_DUPLICATE);
}

// With more ids since the horizon than Open may load, it loads the newest blocks and leaves the
// horizon uncovered: replays of txs in the older blocks are found by reading the tx index.
TEST_F(LifetimeTest, AReopenOverTheLoadLimitLoadsTheNewestBlocks) {
  std::vector<std::string> txs;
  for (int i = 0; i < 4; ++i) {
    txs.push_back(CreatedAt(kT0 + i * 1000));
    Commit({txs.back(), CreatedAt(kT0 + i * 1000)}, kT0 + i * 1000);
  }
  Reopen({.recent_ids_max = 5});  // two blocks of two txs fit, a third does not
  EXPECT_EQ(ledger_->recent_tx_ids()->blocks(), 2u);
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 4u);
  EXPECT_FALSE(ledger_->recent_tx_ids()->Covers(kLifetime.Horizon(kT0 + 4000)));
  EXPECT_TRUE(ledger_->recent_tx_ids()->Covers(kT0 + 1001));  // blocks 3 and 4 are held
  const auto receipts = Commit({txs[0], txs[3]}, kT0 + 4000);
  EXPECT_EQ(receipts[0].status(), pb::TX_STATUS_DUPLICATE);
  EXPECT_EQ(receipts[1].status(), pb::TX_STATUS_DUPLICATE);
}

// The ids come from the blocks' receipts: a receipt group within the horizon that does not parse
// stops the open with the key named, as a corrupt tip does (R25), rather than leaving a replay
// unguarded.
TEST_F(LifetimeTest, AReopenRefusesAnUnreadableReceiptGroupWithinTheHorizon) {
  Commit({CreatedAt(kT0)}, kT0);
  Commit({CreatedAt(kT0 + 1000)}, kT0 + 1000);
  auto info = ledger_->InfoAt(1);
  ASSERT_TRUE(info.ok());
  ledger_.reset();
  KvBatch garbage;
  garbage.Put(Cf::kEntries, keys::EntriesGroup(info->first_entry()), "not receipts");
  ASSERT_TRUE(store_.Write(garbage, true).ok());
  auto l = Ledger::Open(std::make_unique<BorrowedStore>(store_), LifetimeGenesis(), *verifier_);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption) << l.status().ToString();
  EXPECT_NE(l.status().message().find("entries"), std::string::npos) << l.status().ToString();
}

// Blocks of a run (state transfer) are staged before they are written: a later block of the run
// must see an earlier one's ids as committed.
TEST_F(LifetimeTest, AReplayInsideAnAttestedRunIsDuplicate) {
  MemKvStore source_store;
  auto source = std::move(Ledger::Open(std::make_unique<BorrowedStore>(source_store),
                                       LifetimeGenesis(), *verifier_))
                    .value();
  const std::string tx = CreatedAt(kT0 + 1000);
  std::vector<std::pair<pb::Block, pb::CommitCertificate>> chain;
  for (const std::vector<std::string>& txs :
       {std::vector<std::string>{tx}, {tx, CreatedAt(kT0 + 1000)}, {CreatedAt(kT0 + 1000)}}) {
    pb::Block block = NextBlock(*source, txs);
    pb::CommitCertificate cert = Certify(block);
    ASSERT_TRUE(source->Commit(block, cert).ok());
    chain.emplace_back(std::move(block), std::move(cert));
  }
  std::vector<Ledger::RunBlock> run;
  for (size_t i = 0; i < 2; ++i)
    run.push_back(*ledger_->RunBlockOf(chain[i].first, chain[i].second));
  Ledger::CommittedRun out = ledger_->CommitAttestedRun(
      run, Attestation{chain[2].first.header(), &chain[2].second}, *verifier_);
  ASSERT_TRUE(out.status.ok()) << out.status.ToString();
  ASSERT_EQ(out.blocks.size(), 2u);
  // Executed as one attested run: had block 2 missed block 1's id, its log would differ from the
  // attested one and the run would have been redone block by block, every signature checked.
  EXPECT_TRUE(out.blocks[0].signatures_attested);
  EXPECT_TRUE(out.blocks[1].signatures_attested);
  EXPECT_EQ(out.blocks[1].execution.receipts[0].status(), pb::TX_STATUS_DUPLICATE);
  EXPECT_EQ(out.blocks[1].execution.receipts[1].status(), pb::TX_STATUS_OK);
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 2u);
  EXPECT_EQ(ledger_->log_root(), source->LogClaimAt(2)->log_root);
}

// The ids of blocks past the horizon are dropped from memory; no fresh tx can be among them.
TEST_F(LifetimeTest, MemoryHoldsOnlyTheBlocksWithinTheHorizon) {
  for (int i = 0; i < 5; ++i) Commit({CreatedAt(kT0 + i * 60'000)}, kT0 + i * 60'000);
  EXPECT_EQ(ledger_->recent_tx_ids()->blocks(), 5u);
  const int64_t later = kT0 + 4 * 60'000 + kLifetime.max_age_ms + kLifetime.max_future_ms;
  Commit({CreatedAt(later)}, later);  // blocks at kT0 .. kT0 + 3 min fall behind its horizon
  EXPECT_EQ(ledger_->recent_tx_ids()->blocks(), 2u);
  EXPECT_EQ(ledger_->recent_tx_ids()->size(), 2u);
}

// The same blocks executed with and without the ids in memory give the same receipts and state:
// the memory only saves reads. The workload replays its own txs and sends duplicates.
TEST(LifetimeEquivalenceTest, ReceiptsAndStateDoNotDependOnTheMemory) {
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore with_store, without_store;
  auto open = [&](MemKvStore& s) {
    return std::move(Ledger::Open(std::make_unique<BorrowedStore>(s), LifetimeGenesis(), *verifier))
        .value();
  };
  std::unique_ptr<Ledger> with = open(with_store);
  WorkloadOptions wo;
  wo.bad_percent = 20;
  Workload w(11, wo);
  std::vector<std::vector<std::string>> blocks = {w.SetupTxs()};
  for (int i = 0; i < 30; ++i) blocks.push_back(w.NextTxs(60, kT0 + i * 1000));
  // The ledger with memory; the reference executes each block with ReplayContext{lifetime, null}.
  ASSERT_TRUE(without_store.Write(GenesisStateWrites(LifetimeGenesis()), true).ok());
  int duplicates = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(i) * 1000;
    CommittedBlock c = CommitTxs(*with, blocks[i], t);
    ExecutableBlock b = PrepareBlock(i + 1, t, blocks[i], kChainId, *verifier);
    Result<ExecutionResult> ref = Execute(b, without_store, ReplayContext{kLifetime, nullptr});
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    ASSERT_EQ(c.execution.receipt_bytes, ref->receipt_bytes) << "block " << i + 1;
    for (const pb::Receipt& r : ref->receipts) duplicates += r.status() == pb::TX_STATUS_DUPLICATE;
    ASSERT_TRUE(without_store.Write(ref->writes, true).ok());
  }
  EXPECT_GT(duplicates, 0);  // the property was exercised
  EXPECT_EQ(StateDigest(with_store), StateDigest(without_store));
}

}  // namespace
}  // namespace hc::ledger

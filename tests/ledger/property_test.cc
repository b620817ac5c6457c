// Property tests: execution is a pure function of (block, state).
#include <gtest/gtest.h>

#include <random>

#include "common/encoding.h"
#include "ledger/rocks_store.h"
#include "ledger_test_util.h"
#include "workload.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

struct RunResult {
  Hash32 digest{};
  std::vector<std::string> receipts;  // serialized, every block
  std::map<int, int> statuses;
};

RunResult RunWorkload(uint64_t seed, int blocks, size_t txs_per_block) {
  Workload w(seed);
  StateChain chain;
  RunResult out;
  auto record = [&](const std::vector<pb::Receipt>& rs) {
    for (const auto& r : rs) {
      out.receipts.push_back(r.SerializeAsString());
      ++out.statuses[r.status()];
    }
  };
  record(chain.Run(w.SetupTxs(), kT0));
  for (int b = 0; b < blocks; ++b) {
    const int64_t t = kT0 + (b + 1) * 2000;
    record(chain.Run(w.NextTxs(txs_per_block, t), t));
  }
  out.digest = StateDigest(chain.store());
  return out;
}

TEST(PropertyTest, RandomWorkloadsExecutedTwiceAreIdentical) {
  // Fixed seeds: a test that picks new seeds every run fails now and then on the workload's
  // statistical thresholds below, which says nothing about determinism.
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const RunResult a = RunWorkload(seed, 20, 200);
    const RunResult b = RunWorkload(seed, 20, 200);
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(a.receipts, b.receipts);
    // The workload exercises acceptance and rejection alike.
    EXPECT_GT(a.statuses.at(pb::TX_STATUS_OK), 500);
    EXPECT_GT(a.statuses.at(pb::TX_STATUS_DENIED), 10);
    EXPECT_GT(a.statuses.at(pb::TX_STATUS_INVALID), 10);
    EXPECT_GT(a.statuses.at(pb::TX_STATUS_DUPLICATE), 1);
    EXPECT_GT(a.statuses.at(pb::TX_STATUS_UNAUTHORIZED), 10);
  }
}

TEST(PropertyTest, DifferentSeedsGiveDifferentStates) {
  EXPECT_NE(RunWorkload(1, 3, 50).digest, RunWorkload(2, 3, 50).digest);
}

// Execute is pure: running it twice on the same (unchanged) state gives the same writes, and
// splitting a block's txs across two blocks gives the same state as long as time does not matter.
TEST(PropertyTest, ExecuteDoesNotWriteItsInput) {
  Workload w(7);
  StateChain chain;
  chain.Run(w.SetupTxs(), kT0);
  const std::vector<std::string> txs = w.NextTxs(300, kT0 + 1000);
  ExecutableBlock block = PrepareBlock(2, kT0 + 1000, txs, kChainId, chain.verifier());
  const Hash32 before = StateDigest(chain.store());
  auto r1 = Execute(block, chain.store());
  auto r2 = Execute(block, chain.store());
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(StateDigest(chain.store()), before);
  EXPECT_EQ(r1->writes.writes, r2->writes.writes);
  EXPECT_EQ(r1->leaf_hashes, r2->leaf_hashes);
  // The writes come sorted by (column family, key).
  for (size_t i = 1; i < r1->writes.writes.size(); ++i) {
    const auto& a = r1->writes.writes[i - 1];
    const auto& b = r1->writes.writes[i];
    EXPECT_TRUE(std::make_pair(a.cf, a.key) < std::make_pair(b.cf, b.key));
  }
}

// Two ledgers on different stores (memory, RocksDB) fed the same random blocks end with the same
// bytes in every column family.
TEST(PropertyTest, RandomBlocksOnTwoStoresGiveIdenticalBytes) {
  TempDir dir;
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore mem;
  auto rocks = RocksKvStore::Open(dir.path());
  ASSERT_TRUE(rocks.ok());
  RocksKvStore* rocks_raw = rocks->get();
  auto a = Ledger::Open(std::make_unique<BorrowedStore>(mem), TestGenesis(), *verifier);
  auto b = Ledger::Open(std::move(rocks).value(), TestGenesis(), *verifier);
  ASSERT_TRUE(a.ok() && b.ok());
  Workload w(std::random_device{}());
  for (int i = 0; i < 10; ++i) {
    const int64_t t = kT0 + (i + 1) * 5000;
    pb::Block block = NextBlock(**a, i == 0 ? w.SetupTxs() : w.NextTxs(300, t), t);
    ASSERT_TRUE((*a)->Commit(block, Certify(block)).ok());
    ASSERT_TRUE((*b)->Commit(block, Certify(block)).ok());
    EXPECT_EQ((*a)->log_root(), (*b)->log_root());
  }
  for (size_t i = 0; i < kCfCount; ++i) {
    const Cf cf = static_cast<Cf>(i);
    crypto::Sha256Hasher hr;
    size_t n = 0;
    ASSERT_TRUE(rocks_raw
                    ->Scan(cf, "", "",
                           [&](std::string_view k, std::string_view v) {
                             hr.Update(k).Update(v).UpdateByte(0);
                             ++n;
                             return true;
                           })
                    .ok());
    crypto::Sha256Hasher hm;
    for (const auto& [k, v] : mem.table(cf)) hm.Update(k).Update(v).UpdateByte(0);
    EXPECT_EQ(n, mem.table(cf).size()) << CfName(cf);
    EXPECT_EQ(hr.Final(), hm.Final()) << CfName(cf);
  }
}

}  // namespace
}  // namespace hc::ledger

// hcctl verify-chain's engine (ledger/verify_chain.h) and the command itself.
#include "ledger/verify_chain.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "ledger/codec.h"
#include "ledger/rocks_store.h"
#include "ledger_test_util.h"
#include "workload.h"

namespace hc::cli {
void RegisterVerifyChain(CLI::App& app, int* exit_code);  // cli/verify_chain_cmd.cc
}  // namespace hc::cli

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

class VerifyChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = Ledger::Open(std::make_unique<BorrowedStore>(mem_), TestGenesis(), *verifier_);
    ASSERT_TRUE(l.ok());
    Workload w(42);
    for (int i = 0; i < 8; ++i) {
      const int64_t t = kT0 + (i + 1) * 1000;
      CommitTxs(**l, i == 0 ? w.SetupTxs() : w.NextTxs(100, t), t);
    }
  }

  ChainReport Verify(const Genesis& g = TestGenesis()) {
    Result<ChainReport> r = VerifyChain(mem_, g, *verifier_, std::make_unique<MemKvStore>());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ChainReport{};
  }

  void Rewrite(Cf cf, const std::string& key, const std::function<void(std::string&)>& edit) {
    std::string v;
    ASSERT_TRUE(mem_.Get(cf, key, &v).ok()) << DescribeKey(cf, key);
    edit(v);
    mem_.CorruptForTest(cf, key, v);
  }

  MemKvStore mem_;
  std::unique_ptr<crypto::Verifier> verifier_ = crypto::MakeFakeVerifier();
};

TEST_F(VerifyChainTest, AnIntactChainVerifies) {
  const ChainReport r = Verify();
  EXPECT_EQ(r.fault, "");
  EXPECT_EQ(r.height, 8u);
  EXPECT_EQ(r.txs, 213u + 700u);  // setup: 8 hospitals, 4 insurers, a policy, 200 patients
  EXPECT_EQ(r.log_size, r.txs);
  EXPECT_GT(r.receipts_by_status.at(pb::TX_STATUS_OK), 100u);
}

TEST_F(VerifyChainTest, ATamperedReceiptIsTheFault) {
  lpb::BlockInfo info;
  std::string v;
  ASSERT_TRUE(mem_.Get(Cf::kBlocks, keys::BlockInfo(4), &v).ok());
  ASSERT_TRUE(info.ParseFromString(v));
  Rewrite(Cf::kEntries, keys::EntriesGroup(info.first_entry()), [](std::string& g) {
    lpb::BlockReceipts group;
    ASSERT_TRUE(group.ParseFromString(g));
    pb::Receipt r;
    ASSERT_TRUE(r.ParseFromString(group.receipts(5)));
    r.set_status(r.status() == pb::TX_STATUS_OK ? pb::TX_STATUS_DENIED : pb::TX_STATUS_OK);
    *group.mutable_receipts(5) = r.SerializeAsString();
    g = group.SerializeAsString();
  });
  const ChainReport r = Verify();
  EXPECT_EQ(r.fault_height, 4u);
  EXPECT_NE(r.fault.find("receipt 5 differs"), std::string::npos) << r.fault;
}

TEST_F(VerifyChainTest, ATamperedMiddleBlockIsTheFault) {
  Rewrite(Cf::kBlocks, keys::Block(3), [](std::string& b) {
    pb::Block block;
    ASSERT_TRUE(block.ParseFromString(b));
    block.mutable_txs()->SwapElements(0, 1);
    b = block.SerializeAsString();
  });
  const ChainReport r = Verify();
  EXPECT_EQ(r.fault_height, 3u);
  EXPECT_NE(r.fault.find("R23: txs_root"), std::string::npos) << r.fault;
}

TEST_F(VerifyChainTest, ABadCertificateIsTheFault) {
  Rewrite(Cf::kCerts, keys::Cert(5), [](std::string& c) {
    pb::CommitCertificate cert;
    ASSERT_TRUE(cert.ParseFromString(c));
    std::string sig = cert.signatures(0).signature();
    sig[1] ^= 1;
    cert.mutable_signatures(0)->set_signature(sig);
    c = cert.SerializeAsString();
  });
  const ChainReport r = Verify();
  EXPECT_EQ(r.fault_height, 5u);
  EXPECT_NE(r.fault.find("commit certificate"), std::string::npos) << r.fault;
}

TEST_F(VerifyChainTest, TamperedStateIsTheFault) {
  Rewrite(Cf::kState, keys::Org(K("hosp-1")), [](std::string& v) { v.back() ^= 1; });
  const ChainReport r = Verify();
  EXPECT_NE(r.fault.find("state/o"), std::string::npos) << r.fault;
}

// A store that no current node has opened holds an older state format (operations.md
// "Upgrades"): it verifies as what a node of that format wrote, and a consent index key missing
// from it is the fault, as is a format newer than this version's.
TEST_F(VerifyChainTest, AStoreOfAnOlderStateFormatVerifiesInThatFormat) {
  EXPECT_EQ(Verify().state_format, keys::kStateFormatCurrent);
  Result<KvBatch> older = OlderStateFormatWrites(mem_, 2);
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  ASSERT_TRUE(mem_.Write(*older, true).ok());
  std::string some_index_key;
  for (const auto& [k, v] : mem_.table(Cf::kIndex)) {
    if (k.starts_with("c")) some_index_key = k;
  }
  ASSERT_FALSE(some_index_key.empty());  // the workload granted consents
  ChainReport r = Verify();
  EXPECT_EQ(r.fault, "");
  EXPECT_EQ(r.state_format, 2);

  older = OlderStateFormatWrites(mem_, 1);  // from format 2: the pairs go, the index stays
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  ASSERT_TRUE(mem_.Write(*older, true).ok());
  r = Verify();
  EXPECT_EQ(r.fault, "");
  EXPECT_EQ(r.state_format, 1);

  KvBatch lose;
  lose.Delete(Cf::kIndex, some_index_key);
  ASSERT_TRUE(mem_.Write(lose, true).ok());
  r = Verify();
  EXPECT_NE(r.fault.find("index/"), std::string::npos) << r.fault;

  KvBatch newer;
  newer.Put(Cf::kState, std::string(keys::kStateFormat), "4");
  ASSERT_TRUE(mem_.Write(newer, true).ok());
  r = Verify();
  EXPECT_NE(r.fault.find("newer than this version"), std::string::npos) << r.fault;
}

TEST_F(VerifyChainTest, AnotherGenesisIsTheFault) {
  Genesis g = TestGenesis();
  g.genesis_time_ms += 1;
  EXPECT_NE(Verify(g).fault.find("blocks/genesis"), std::string::npos);
}

// The command end to end on RocksDB: exit 0 and a summary, then 1 and the fault.
TEST(VerifyChainCommandTest, PrintsASummaryOrTheFirstFault) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string genesis_path = dir.path() + "/genesis.json";
  {
    std::ofstream(genesis_path) << GenesisToJson(TestGenesis());
    auto verifier = crypto::MakeFakeVerifier();
    auto store = RocksKvStore::Open(data);
    ASSERT_TRUE(store.ok());
    auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
    ASSERT_TRUE(l.ok());
    Workload w(3);
    CommitTxs(**l, w.SetupTxs());
    CommitTxs(**l, w.NextTxs(50, kT0 + 5000), kT0 + 5000);
  }
  auto run = [&]() {
    CLI::App app;
    int exit_code = -1;
    cli::RegisterVerifyChain(app, &exit_code);
    std::vector<std::string> args = {"verify-chain", "--data",     data,
                                     "--genesis",    genesis_path, "--insecure-fake-signatures",
                                     "--quiet"};
    std::reverse(args.begin(), args.end());
    app.parse(args);
    return exit_code;
  };
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run(), 0);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("height: 2"), std::string::npos) << out;
  EXPECT_NE(out.find("result: OK"), std::string::npos) << out;
  {
    auto store = RocksKvStore::Open(data);
    ASSERT_TRUE(store.ok());
    std::string v;
    ASSERT_TRUE((*store)->Get(Cf::kState, keys::Org(K("hosp-0")), &v).ok());
    v.back() ^= 1;
    KvBatch b;
    b.Put(Cf::kState, keys::Org(K("hosp-0")), v);
    ASSERT_TRUE((*store)->Write(b, true).ok());
  }
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run(), 1);
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("FAULT: "), std::string::npos) << out;
}

}  // namespace
}  // namespace hc::ledger

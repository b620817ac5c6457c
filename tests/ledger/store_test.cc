// The block store: commit (R23), open and tip verification (R24, R25), on both stores.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "consensus/signing.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/mem_store.h"
#include "ledger/rocks_store.h"
#include "ledger/verify_chain.h"
#include "ledger_test_util.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

// Runs each test on the in-memory store and on RocksDB.
class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  bool rocks() const { return GetParam(); }

  std::unique_ptr<KvStore> NewStore() {
    if (rocks()) {
      auto s = RocksKvStore::Open(dir_.path() + "/db");
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      return std::move(s).value();
    }
    return std::make_unique<BorrowedStore>(mem_);
  }

  Result<std::unique_ptr<Ledger>> Open(const Genesis& g = TestGenesis()) {
    return Ledger::Open(NewStore(), g, *verifier_);
  }

  std::unique_ptr<Ledger> OpenOk() {
    auto l = Open();
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? std::move(l).value() : nullptr;
  }

  // Overwrites a stored value (a disk fault), through a fresh handle on the store.
  void Tamper(Cf cf, const std::string& key, const std::function<void(std::string&)>& edit) {
    auto store = NewStore();
    std::string v;
    ASSERT_TRUE(store->Get(cf, key, &v).ok()) << DescribeKey(cf, key);
    edit(v);
    KvBatch b;
    b.Put(cf, key, v);
    ASSERT_TRUE(store->Write(b, true).ok());
  }
  void Remove(Cf cf, const std::string& key) {
    auto store = NewStore();
    KvBatch b;
    b.Delete(cf, key);
    ASSERT_TRUE(store->Write(b, true).ok());
  }

  void CommitWorld(Ledger& l) {
    CommitTxs(l, {f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
                  f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER),
                  f.RegisterPolicy("gov", "bppc-1"), f.Enroll("h1", "alice")});
    CommitTxs(l, {f.Anchor("h1", "r1", "alice"), f.Anchor("h1", "r2", "alice")});
    CommitTxs(l, {f.Access("i1", "r1"), "junk"});
  }

  TempDir dir_;
  MemKvStore mem_;
  std::unique_ptr<crypto::Verifier> verifier_ = crypto::MakeFakeVerifier();
  TxFactory f;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Rocks" : "Mem"; });

TEST_P(StoreTest, EmptyStoreStartsFromGenesis) {
  auto l = OpenOk();
  EXPECT_EQ(l->height(), 0u);
  EXPECT_EQ(l->tip_hash(), GenesisHash(TestGenesis()));
  EXPECT_EQ(l->log_size(), 0u);
  EXPECT_EQ(l->log_root(), crypto::EmptyRoot());
  std::string v;
  EXPECT_TRUE(l->reader().Get(Cf::kState, keys::Org(K("gov")), &v).ok());
}

TEST_P(StoreTest, CommitAndReopen) {
  Hash32 tip, root;
  {
    auto l = OpenOk();
    CommitWorld(*l);
    EXPECT_EQ(l->height(), 3u);
    EXPECT_EQ(l->log_size(), 8u);
    tip = l->tip_hash();
    root = l->log_root();
  }
  auto l = OpenOk();
  EXPECT_EQ(l->height(), 3u);
  EXPECT_EQ(l->tip_hash(), tip);
  EXPECT_EQ(l->log_root(), root);
  EXPECT_EQ(l->log_size(), 8u);
  // Every entry reads back with the leaf the log holds.
  for (uint64_t i = 0; i < l->log_size(); ++i) {
    Result<std::string> e = l->EntryAt(i);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    Result<Hash32> leaf = l->log_nodes().PerfectNode(0, i);
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(*leaf, crypto::LeafHash(AsBytes(*e)));
  }
  EXPECT_EQ(*crypto::RootAt(l->log_nodes(), 8), root);
  // Committing continues where it left off.
  CommitTxs(*l, {f.Access("h1", "r2")});
  EXPECT_EQ(l->height(), 4u);
}

TEST_P(StoreTest, EmptyBlocksCommit) {
  auto l = OpenOk();
  CommitTxs(*l, {});
  CommitTxs(*l, {f.Enroll("bob", "bob")});
  CommitTxs(*l, {});
  EXPECT_EQ(l->height(), 3u);
  EXPECT_EQ(l->log_size(), 1u);
  l.reset();
  auto again = OpenOk();
  EXPECT_EQ(again->height(), 3u);
  ASSERT_TRUE(again->EntryAt(0).ok());
  EXPECT_EQ(again->EntryAt(1).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, R23BlocksThatDoNotExtendTheTipAreRejected) {
  auto l = OpenOk();
  CommitTxs(*l, {f.Enroll("bob", "bob")});
  auto expect_rejected = [&](const pb::Block& b, const pb::CommitCertificate& c, const char* why) {
    Result<CommittedBlock> r = l->Commit(b, c);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << why;
    EXPECT_TRUE(r.status().message().starts_with("R23: ")) << why << ": " << r.status().message();
  };
  auto with_header = [&](const std::function<void(pb::BlockHeader&)>& edit) {
    pb::Block b = NextBlock(*l, {f.Enroll("carl", "carl")});
    pb::BlockHeader h;
    EXPECT_TRUE(h.ParseFromString(b.header()));
    edit(h);
    b.set_header(h.SerializeAsString());
    return b;
  };
  auto reject_header = [&](const std::function<void(pb::BlockHeader&)>& edit, const char* why) {
    pb::Block b = with_header(edit);
    expect_rejected(b, Certify(b), why);
  };
  reject_header([](auto& h) { h.set_height(h.height() + 1); }, "height gap");
  reject_header([](auto& h) { h.set_height(1); }, "height repeat");
  reject_header([](auto& h) { h.set_prev_block_hash(std::string(32, 'x')); }, "prev hash");
  reject_header([](auto& h) { h.set_chain_id("other"); }, "chain id");
  reject_header([](auto& h) { h.set_timestamp_ms(kT0 - 1); }, "time goes back");
  reject_header([](auto& h) { h.set_tx_count(2); }, "tx_count");
  reject_header([](auto& h) { h.set_txs_root(std::string(32, 'r')); }, "txs_root");
  reject_header([](auto& h) { h.set_exec_height(h.height()); }, "exec_height");
  reject_header([](auto& h) { h.set_log_size(h.log_size() + 1); }, "log size");
  reject_header([](auto& h) { h.set_log_root(std::string(32, 'l')); }, "log root");
  reject_header([](auto& h) { h.set_state_root("s"); }, "state root");
  // An older log claim (exec_height behind the tip) is fine if it is right.
  {
    pb::Block b = with_header([](auto& h) {
      h.set_exec_height(0);
      h.set_log_size(0);
      const Hash32 e = crypto::EmptyRoot();
      h.set_log_root(e.data(), e.size());
    });
    EXPECT_TRUE(l->Commit(b, Certify(b)).ok());
  }
  // Certificates.
  pb::Block b = NextBlock(*l, {});
  expect_rejected(b, Certify(NextBlock(*l, {f.Enroll("dan", "dan")})), "cert of another block");
  pb::CommitCertificate c = Certify(b);
  c.clear_signatures();
  expect_rejected(b, c, "no signatures");
  auto mallory = crypto::MakeFakeSigner(KeyOf("mallory"));
  expect_rejected(b, MakeCertificate(kChainId, b, 0, {{0, mallory.get()}}), "wrong signer");
  c = Certify(b);
  c.set_view(7);  // signatures were made for view 0
  expect_rejected(b, c, "view changed");
  EXPECT_TRUE(l->Commit(b, Certify(b)).ok());
}

TEST_P(StoreTest, R24AnotherGenesisIsRefused) {
  { OpenOk(); }
  Genesis other = TestGenesis();
  other.chain_id = "hc-other";
  auto l = Open(other);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(l.status().message().find("blocks/genesis"), std::string::npos) << l.status().message();
}

TEST_P(StoreTest, R25FlippedByteInTheTipBlockIsRefused) {
  { CommitWorld(*OpenOk()); }
  Tamper(Cf::kBlocks, keys::Block(3), [](std::string& v) { v[v.size() - 3] ^= 0x01; });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption);
  EXPECT_NE(l.status().message().find("blocks/b0000000000000003 (height 3)"), std::string::npos)
      << l.status().message();
}

TEST_P(StoreTest, R25FlippedByteInTheTipHeaderIsRefused) {
  { CommitWorld(*OpenOk()); }
  Tamper(Cf::kBlocks, keys::Block(3), [](std::string& v) {
    pb::Block b;
    ASSERT_TRUE(b.ParseFromString(v));
    std::string h = b.header();
    h[h.size() - 1] ^= 0x40;
    b.set_header(h);
    v = b.SerializeAsString();
  });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption);
  EXPECT_NE(l.status().message().find("blocks/b0000000000000003"), std::string::npos)
      << l.status().message();
}

TEST_P(StoreTest, R25BrokenHashChainIsRefused) {
  { CommitWorld(*OpenOk()); }
  Tamper(Cf::kBlocks, keys::Block(2), [](std::string& v) {
    pb::Block b;
    ASSERT_TRUE(b.ParseFromString(v));
    pb::BlockHeader h;
    ASSERT_TRUE(h.ParseFromString(b.header()));
    h.set_timestamp_ms(h.timestamp_ms() + 1);
    b.set_header(h.SerializeAsString());
    v = b.SerializeAsString();
  });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("prev_block_hash"), std::string::npos)
      << l.status().message();
}

TEST_P(StoreTest, R25BadOrMissingCertificateIsRefused) {
  { CommitWorld(*OpenOk()); }
  Tamper(Cf::kCerts, keys::Cert(3), [](std::string& v) { v[v.size() - 1] ^= 0x01; });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("certs/"), std::string::npos) << l.status().message();
  Remove(Cf::kCerts, keys::Cert(3));
  l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("certs/"), std::string::npos) << l.status().message();
}

TEST_P(StoreTest, R25LogNodesThatDisagreeAreRefused) {
  { CommitWorld(*OpenOk()); }
  // Leaf 7 (the tip block's last entry) lives in leaf chunk 0.
  Tamper(Cf::kLogNodes, keys::LogLeafChunk(0), [](std::string& v) { v[7 * 32] ^= 1; });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("entries/"), std::string::npos) << l.status().message();
  Tamper(Cf::kLogNodes, keys::LogLeafChunk(0), [](std::string& v) { v[7 * 32] ^= 1; });  // undo
  ASSERT_TRUE(Open().ok());
  Remove(Cf::kLogNodes, keys::LogLeafChunk(0));
  l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("log_nodes/"), std::string::npos) << l.status().message();
}

TEST_P(StoreTest, R25TamperedReceiptIsRefused) {
  { CommitWorld(*OpenOk()); }
  Tamper(Cf::kEntries, keys::EntriesGroup(6), [](std::string& v) { v[v.size() - 2] ^= 0x01; });
  auto l = Open();
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("entries/"), std::string::npos) << l.status().message();
}

TEST(RocksStoreTest, R25FlippedByteInAnSstFileIsRefused) {
  TempDir dir;
  auto verifier = crypto::MakeFakeVerifier();
  TxFactory f;
  {
    auto store = RocksKvStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    RocksKvStore* raw = store->get();
    auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
    ASSERT_TRUE(l.ok());
    std::vector<std::string> txs;
    for (int i = 0; i < 50; ++i)
      txs.push_back(f.Enroll("p" + std::to_string(i), "p" + std::to_string(i)));
    CommitTxs(**l, txs);
    ASSERT_TRUE(raw->Flush().ok());
  }
  // Flip one byte in the middle of every table file: RocksDB's block checksums catch it.
  int flipped = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().extension() != ".sst") continue;
    std::fstream file(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    const auto size = std::filesystem::file_size(e.path());
    file.seekg(static_cast<std::streamoff>(size / 3));
    char c = 0;
    file.read(&c, 1);
    c ^= 0x20;
    file.seekp(static_cast<std::streamoff>(size / 3));
    file.write(&c, 1);
    ++flipped;
  }
  ASSERT_GT(flipped, 0);
  auto store = RocksKvStore::Open(dir.path());
  if (!store.ok()) {
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption) << store.status().ToString();
    return;
  }
  auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption) << l.status().ToString();
}

// An online checkpoint taken while another thread commits opens at a whole block, passes the
// open-time tip checks, and re-verifies offline; a checkpoint into an existing directory is
// refused and leaves the live database working.
TEST(RocksStoreTest, CheckpointWhileCommittingOpensAtAWholeBlock) {
  TempDir dir;
  TempDir copies;
  auto verifier = crypto::MakeFakeVerifier();
  auto store = RocksKvStore::Open(dir.path() + "/db");
  ASSERT_TRUE(store.ok());
  RocksKvStore* raw = store->get();
  auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
  ASSERT_TRUE(l.ok());
  Ledger& ledger = **l;
  TxFactory f;
  int next = 0;
  auto enrol_block = [&] {
    std::vector<std::string> txs;
    for (int i = 0; i < 20; ++i, ++next) {
      txs.push_back(f.Enroll("p" + std::to_string(next), "p" + std::to_string(next)));
    }
    CommitTxs(ledger, txs);
  };
  for (int b = 0; b < 10; ++b) enrol_block();

  const uint64_t before = ledger.height();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done) enrol_block();
  });
  const std::string copy = copies.path() + "/cp1";
  const Status s = raw->Checkpoint(copy);
  done = true;
  writer.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  const uint64_t after = ledger.height();

  RocksOptions ro;
  ro.create_if_missing = false;
  {
    auto cp_store = RocksKvStore::Open(copy, ro);
    ASSERT_TRUE(cp_store.ok()) << cp_store.status().ToString();
    auto report = VerifyChain(**cp_store, TestGenesis(), *verifier, std::make_unique<MemKvStore>());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->fault, "");
    EXPECT_GE(report->height, before);
    EXPECT_LE(report->height, after);
    EXPECT_EQ(report->txs, report->height * 20);
    // The copy's tip is the live chain's block at that height.
    auto live = ledger.BlockAt(report->height);
    ASSERT_TRUE(live.ok());
    EXPECT_EQ(report->tip_hash, consensus::BlockHash(AsBytes(live->header())));
  }
  {
    auto cp_store = RocksKvStore::Open(copy, ro);
    ASSERT_TRUE(cp_store.ok());
    auto reopened = Ledger::Open(std::move(cp_store).value(), TestGenesis(), *verifier);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  }

  // The target exists: refused with a reason; the live database carries on.
  const Status again = raw->Checkpoint(copy);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find(copy), std::string::npos) << again.message();
  const uint64_t h = ledger.height();
  enrol_block();
  EXPECT_EQ(ledger.height(), h + 1);
}

TEST(RocksStoreTest, ForeignDatabaseIsRefused) {
  TempDir dir;
  {
    auto store = RocksKvStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
  }
  // The same directory opens again with our column families...
  ASSERT_TRUE(RocksKvStore::Open(dir.path()).ok());
  // ...but a missing directory is not created when asked not to.
  RocksOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_FALSE(RocksKvStore::Open(dir.path() + "/nothing-here", no_create).ok());
}

// A batch is applied in order: of the writes to one key the last wins, whatever else the batch
// holds (KvBatch's contract, on RocksDB).
TEST(RocksStoreTest, TheLastWriteToAKeyInABatchWins) {
  TempDir dir;
  auto store = RocksKvStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  KvBatch b;
  b.Put(Cf::kState, "m", "first");
  b.Put(Cf::kIndex, "z", "other family");
  b.Put(Cf::kState, "a", "before m");
  b.Put(Cf::kState, "m", "second");
  b.Delete(Cf::kState, "a");
  b.Put(Cf::kState, "gone", "x");
  b.Delete(Cf::kState, "gone");
  b.Put(Cf::kState, "gone", "back");
  b.Put(Cf::kState, "m", "third");
  ASSERT_TRUE((*store)->Write(b, true).ok());
  std::string v;
  ASSERT_TRUE((*store)->Get(Cf::kState, "m", &v).ok());
  EXPECT_EQ(v, "third");
  EXPECT_EQ((*store)->Get(Cf::kState, "a", &v).code(), StatusCode::kNotFound);
  ASSERT_TRUE((*store)->Get(Cf::kState, "gone", &v).ok());
  EXPECT_EQ(v, "back");
  ASSERT_TRUE((*store)->Get(Cf::kIndex, "z", &v).ok());
  EXPECT_EQ(v, "other family");
}

// The write-ahead log is bounded (RocksOptions::max_wal_bytes): a column family that is written
// rarely would otherwise keep every log file since its last write alive (a validator's data
// directory was two-thirds log after four minutes of load).
// GetMany (one rocksdb::MultiGet) answers what as many Gets answer: keys in SST files, in the
// memtable, overwritten, deleted, absent, repeated, and none; and only from its own family.
TEST(RocksStoreTest, GetManyAnswersWhatGetAnswers) {
  TempDir dir;
  auto store = RocksKvStore::Open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  KvBatch first;
  for (int i = 0; i < 50; ++i)
    first.Put(Cf::kState, "k" + std::to_string(i), "old" + std::to_string(i));
  first.Put(Cf::kIndex, "k7", "another family");
  ASSERT_TRUE((*store)->Write(first, true).ok());
  ASSERT_TRUE((*store)->Flush().ok());  // these are now read from an SST file
  KvBatch second;
  for (int i = 0; i < 50; i += 5) second.Put(Cf::kState, "k" + std::to_string(i), "new");
  for (int i = 1; i < 50; i += 7) second.Delete(Cf::kState, "k" + std::to_string(i));
  second.Put(Cf::kState, "m", "only in the memtable");
  ASSERT_TRUE((*store)->Write(second, true).ok());

  std::vector<std::string> names = {"k3", "k5", "k8", "m", "absent", "k5", "k49", "k0", "k", ""};
  std::vector<std::string_view> keys(names.begin(), names.end());
  std::vector<std::optional<std::string>> many;
  ASSERT_TRUE((*store)->GetMany(Cf::kState, keys, &many).ok());
  ASSERT_EQ(many.size(), keys.size());
  int found = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string one;
    Status s = (*store)->Get(Cf::kState, keys[i], &one);
    ASSERT_TRUE(s.ok() || s.code() == StatusCode::kNotFound) << s.ToString();
    EXPECT_EQ(many[i].has_value(), s.ok()) << keys[i];
    if (s.ok() && many[i]) {
      EXPECT_EQ(*many[i], one) << keys[i];
      ++found;
    }
  }
  EXPECT_EQ(found, 6);  // k3, k5 twice, m, k49, k0; k8 was deleted
  EXPECT_EQ(many[1], std::optional<std::string>("new"));
  EXPECT_EQ(many[2], std::nullopt);

  std::vector<std::optional<std::string>> none = {std::string("stale")};
  ASSERT_TRUE((*store)->GetMany(Cf::kState, {}, &none).ok());
  EXPECT_TRUE(none.empty());
  ASSERT_TRUE((*store)->GetMany(Cf::kCerts, keys, &many).ok());
  for (const auto& v : many) EXPECT_EQ(v, std::nullopt);
}

// The nice values of this process's threads named `name` (RocksDB names its pools' threads).
std::vector<int> NiceOfThreadsNamed(const std::string& name) {
  std::vector<int> nice;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (!std::getline(comm, line) || line != name) continue;
    const auto tid = static_cast<id_t>(std::stoul(task.path().filename().string()));
    errno = 0;
    const int n = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) nice.push_back(n);
  }
  return nice;
}

TEST(RocksStoreTest, CompactionsRunAtTheLowestCpuPriorityAndFlushesDoNot) {
  TempDir dir;
  RocksOptions options;
  options.low_priority_compaction = true;
  auto store = RocksKvStore::Open(dir.path(), options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // Level 0 is compacted from four files on: write and flush five over the same keys. A pool
  // thread lowers its priority before its next job, so the compaction's thread ends at nice 19.
  for (int file = 0; file < 5; ++file) {
    KvBatch b;
    for (int i = 0; i < 1000; ++i) b.Put(Cf::kState, "k" + std::to_string(i), std::to_string(file));
    ASSERT_TRUE((*store)->Write(b, false).ok());
    ASSERT_TRUE((*store)->Flush().ok());
  }
  std::vector<int> low;
  for (int i = 0; i < 200; ++i) {  // up to 20 s for the compaction to be picked up
    low = NiceOfThreadsNamed("rocksdb:low");
    if (std::count(low.begin(), low.end(), 19) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(low.empty()) << "no thread named rocksdb:low";
  EXPECT_GE(std::count(low.begin(), low.end(), 19), 1) << "the compaction's thread";
  const std::vector<int> high = NiceOfThreadsNamed("rocksdb:high");
  ASSERT_FALSE(high.empty()) << "no thread named rocksdb:high";
  for (int n : high) EXPECT_EQ(n, getpriority(PRIO_PROCESS, 0)) << "flushes keep the priority";
  std::string v;
  ASSERT_TRUE((*store)->Get(Cf::kState, "k7", &v).ok());
  EXPECT_EQ(v, "4");
}

TEST(RocksStoreTest, TheWriteAheadLogStaysBoundedWhenOneFamilyIsRarelyWritten) {
  TempDir dir;
  RocksOptions options;
  options.write_buffer_bytes = 64 << 20;  // no flush by size in this test
  options.max_wal_bytes = 1 << 20;
  auto store = RocksKvStore::Open(dir.path(), options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  KvBatch rare;
  rare.Put(Cf::kCerts, "rare", "written once");
  ASSERT_TRUE((*store)->Write(rare, true).ok());
  const std::string value(1024, 'v');
  for (int i = 0; i < 8192; ++i) {  // 8 MiB of values
    KvBatch b;
    b.Put(Cf::kState, "k" + std::to_string(i), value);
    ASSERT_TRUE((*store)->Write(b, false).ok());
  }
  // RocksDB checks the bound when it takes a write, and then flushes in the background; while a
  // flush runs it starts no other, so on a loaded machine the bulk can end with most of it still in
  // the live log. A node keeps writing: so does the test, one small write every 50 ms, for up to
  // 10 s. Without the bound there is no flush, and the log stays above 8 MiB however long it runs.
  auto log_bytes = [&] {
    Result<RocksKvStore::DiskUsage> disk = (*store)->DiskBytes();
    EXPECT_TRUE(disk.ok()) << disk.status().ToString();
    return disk.ok() ? disk->log_bytes : 0;
  };
  uint64_t wal = log_bytes();
  for (int i = 0; i < 200 && wal >= (4u << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    KvBatch trickle;
    trickle.Put(Cf::kState, "trickle", std::to_string(i));
    ASSERT_TRUE((*store)->Write(trickle, false).ok());
    wal = log_bytes();
  }
  EXPECT_LT(wal, 4u << 20) << "write-ahead log files: " << wal << " bytes after 10 s";
  std::string v;
  ASSERT_TRUE((*store)->Get(Cf::kCerts, "rare", &v).ok());
  EXPECT_EQ(v, "written once");
}

// Writes `batches` to the database at `path` as nodes of state formats 2 and earlier did: the
// index family with the patient-grantee prefix extractor they configured (its name is recorded in
// every SST file written with it, which then holds prefix bloom filters), each batch flushed.
void WriteWithTheOldConsentPrefixFilter(const std::string& path,
                                        const std::vector<KvBatch>& batches) {
  class ConsentPairPrefix final : public rocksdb::SliceTransform {
   public:
    const char* Name() const override { return "hc.index.patient-grantee.v1"; }
    rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
      return {key.data(), keys::kPatientGranteePrefixBytes};
    }
    bool InDomain(const rocksdb::Slice& key) const override {
      return key.size() >= keys::kPatientGranteePrefixBytes && key[0] == 'c';
    }
  };
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o;
    if (static_cast<Cf>(i) == Cf::kIndex) {
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.whole_key_filtering = true;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
      o.prefix_extractor = std::make_shared<ConsentPairPrefix>();
      o.memtable_prefix_bloom_size_ratio = 0.05;
      o.disable_auto_compactions = true;  // each batch stays a file of its own
    }
    families.emplace_back(std::string(kCfNames[i]), o);
  }
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(rocksdb::DB::Open(db_options, path, families, &handles, &raw).ok());
  rocksdb::ColumnFamilyHandle* index = handles[static_cast<size_t>(Cf::kIndex)];
  for (const KvBatch& batch : batches) {
    rocksdb::WriteBatch wb;
    for (const KvWrite& w : batch.writes) {
      ASSERT_EQ(w.cf, Cf::kIndex);
      ASSERT_TRUE((w.value ? wb.Put(index, w.key, *w.value) : wb.Delete(index, w.key)).ok());
    }
    ASSERT_TRUE(raw->Write(rocksdb::WriteOptions(), &wb).ok());
    ASSERT_TRUE(raw->Flush(rocksdb::FlushOptions(), index).ok());
  }
  // The files carry the extractor's name (so their prefix filters are of its prefixes).
  rocksdb::TablePropertiesCollection tables;
  ASSERT_TRUE(raw->GetPropertiesOfAllTables(index, &tables).ok());
  size_t filtered = 0;
  for (const auto& [file, props] : tables) {
    filtered += props->prefix_extractor_name == "hc.index.patient-grantee.v1";
  }
  EXPECT_EQ(filtered, batches.size());
  for (auto* h : handles) {
    ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  }
  ASSERT_TRUE(raw->Close().ok());
  delete raw;
}

// Until state format 3, nodes configured the index family with a prefix extractor of its consent
// keys ("c" patient grantee), so their SST files hold prefix bloom filters under its name; this
// version configures none. Scans and reads over such files, files written without it, the
// memtable and deletes answer what the in-memory store answers: pair prefixes present and absent,
// pagination inside a pair, a patient's consents to anyone, other key kinds next to them, and
// arbitrary ranges.
TEST(RocksStoreTest, FilesWrittenWithTheOldConsentPrefixFilterReadLikeAnyOther) {
  TempDir dir;
  MemKvStore mem;
  std::mt19937_64 rng(42);
  auto key32 = [&](uint64_t n) {
    std::string k(kKeyBytes, '\0');
    for (size_t i = 0; i < 8; ++i) k[i] = static_cast<char>(n >> (8 * i));
    k[31] = static_cast<char>(n);  // keys that share long prefixes with their neighbours
    return k;
  };
  constexpr uint64_t kPatients = 12;
  constexpr uint64_t kOrgs = 6;
  std::vector<std::string> written;
  std::vector<KvBatch> rounds;
  for (int round = 0; round < 6; ++round) {
    KvBatch b;
    for (int i = 0; i < 300; ++i) {
      const std::string patient = key32(rng() % kPatients);
      const std::string org = key32(100 + rng() % kOrgs);
      std::string key;
      switch (rng() % 4) {
        case 0:
        case 1:
          key = keys::PatientConsent(patient, org, "consent-" + std::to_string(rng() % 50));
          break;
        case 2:
          key = keys::Audit(patient, rng() % 1000);
          break;
        default:
          key = keys::RecordAccess("record-" + std::to_string(rng() % 20), rng() % 1000);
      }
      written.push_back(key);
      b.Put(Cf::kIndex, key, std::to_string(round));
    }
    for (int i = 0; i < 20; ++i) b.Delete(Cf::kIndex, written[rng() % written.size()]);
    ASSERT_TRUE(mem.Write(b, true).ok());
    rounds.push_back(std::move(b));
  }
  // Rounds 0-1 by this version (flushed), 2-4 by an earlier one (flushed, prefix-filtered), and
  // round 5 by this version again, left in the memtable.
  {
    auto rocks = RocksKvStore::Open(dir.path());
    ASSERT_TRUE(rocks.ok()) << rocks.status().ToString();
    for (int r : {0, 1}) {
      ASSERT_TRUE((*rocks)->Write(rounds[r], true).ok());
      ASSERT_TRUE((*rocks)->Flush().ok());
    }
  }
  WriteWithTheOldConsentPrefixFilter(dir.path(), {rounds[2], rounds[3], rounds[4]});
  auto rocks = RocksKvStore::Open(dir.path());
  ASSERT_TRUE(rocks.ok()) << rocks.status().ToString();
  ASSERT_TRUE((*rocks)->Write(rounds[5], true).ok());

  auto collect = [](const KvReader& r, std::string_view start, std::string_view end) {
    std::vector<std::pair<std::string, std::string>> out;
    Status s = r.Scan(Cf::kIndex, start, end, [&](std::string_view k, std::string_view v) {
      out.emplace_back(k, v);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  };
  size_t non_empty = 0;
  auto same = [&](std::string_view start, std::string_view end, const std::string& what) {
    const auto expected = collect(mem, start, end);
    EXPECT_EQ(collect(**rocks, start, end), expected) << what;
    if (!expected.empty()) ++non_empty;
  };
  for (uint64_t p = 0; p <= kPatients; ++p) {  // one patient more: nothing written
    const std::string patient = key32(p);
    for (uint64_t o = 0; o <= kOrgs; ++o) {
      const std::string pair = keys::PatientGranteePrefix(patient, key32(100 + o));
      ASSERT_EQ(pair.size(), keys::kPatientGranteePrefixBytes);
      same(pair, PrefixEnd(pair), "pair " + std::to_string(p) + "/" + std::to_string(o));
      same(pair + "consent-2", PrefixEnd(pair), "pagination in the pair");
      same(pair, pair + "consent-3", "part of the pair");
    }
    const std::string all = keys::PatientConsentPrefix(patient);
    same(all, PrefixEnd(all), "a patient's consents to anyone");
    same(keys::AuditPrefix(patient), PrefixEnd(keys::AuditPrefix(patient)), "audit");
  }
  same("", "", "the whole family");
  same("c", "d", "every consent key");
  same(keys::PatientGranteePrefix(key32(3), key32(102)), "", "from a pair to the end");
  EXPECT_GT(non_empty, 40u);  // the comparisons were not of empty answers
  // Point reads of every key ever written (present, deleted or overwritten).
  for (const std::string& k : written) {
    std::string want, got;
    const Status m = mem.Get(Cf::kIndex, k, &want);
    const Status r = (*rocks)->Get(Cf::kIndex, k, &got);
    ASSERT_EQ(m.code(), r.code()) << DescribeKey(Cf::kIndex, k);
    if (m.ok()) {
      EXPECT_EQ(got, want);
    }
  }
}

TEST(MemStoreTest, DropUnsyncedWritesKeepsSyncedBatches) {
  MemKvStore s;
  KvBatch a;
  a.Put(Cf::kState, "a", "1");
  KvBatch b;
  b.Put(Cf::kState, "b", "2");
  KvBatch c;
  c.Put(Cf::kState, "c", "3");
  ASSERT_TRUE(s.Write(a, false).ok());
  ASSERT_TRUE(s.Write(b, true).ok());  // makes a durable too
  ASSERT_TRUE(s.Write(c, false).ok());
  std::string v;
  EXPECT_TRUE(s.Get(Cf::kState, "c", &v).ok());
  EXPECT_EQ(s.unsynced_batches(), 1u);
  s.DropUnsyncedWrites();
  EXPECT_TRUE(s.Get(Cf::kState, "a", &v).ok());
  EXPECT_TRUE(s.Get(Cf::kState, "b", &v).ok());
  EXPECT_EQ(s.Get(Cf::kState, "c", &v).code(), StatusCode::kNotFound);
}

// A ledger whose commits are never synced loses them all on a crash, and re-opens clean at the
// last synced state: what the simulator relies on.
TEST(MemStoreTest, LedgerReopensAfterDroppedWrites) {
  MemKvStore mem;
  auto verifier = crypto::MakeFakeVerifier();
  TxFactory f;
  {
    auto l = Ledger::Open(std::make_unique<BorrowedStore>(mem), TestGenesis(), *verifier);
    ASSERT_TRUE(l.ok());
    CommitTxs(**l, {f.Enroll("bob", "bob")});
  }
  // An unsynced write after the commit (e.g. a payload) is lost; the ledger is intact.
  KvBatch junk;
  junk.Put(Cf::kPayloads, "blob", "x");
  ASSERT_TRUE(mem.Write(junk, false).ok());
  mem.DropUnsyncedWrites();
  auto l = Ledger::Open(std::make_unique<BorrowedStore>(mem), TestGenesis(), *verifier);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ((*l)->height(), 1u);
}

// The same blocks on the in-memory store and on RocksDB give byte-identical contents.
TEST(TwoStoresTest, SameBlocksGiveIdenticalBytes) {
  TempDir dir;
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore mem;
  auto rocks = RocksKvStore::Open(dir.path());
  ASSERT_TRUE(rocks.ok());
  RocksKvStore* rocks_raw = rocks->get();
  auto a = Ledger::Open(std::make_unique<BorrowedStore>(mem), TestGenesis(), *verifier);
  auto b = Ledger::Open(std::move(rocks).value(), TestGenesis(), *verifier);
  ASSERT_TRUE(a.ok() && b.ok());
  TxFactory f;
  std::vector<std::vector<std::string>> blocks = {
      {f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
       f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
       f.Enroll("h1", "alice")},
      {f.Anchor("h1", "r1", "alice"), f.BreakGlass("h1", "r1")},
      {f.Access("i1", "r1"), "garbage", f.Erase("alice", "r1")},
      {}};
  for (const auto& txs : blocks) {
    pb::Block block = NextBlock(**a, txs);
    ASSERT_TRUE((*a)->Commit(block, Certify(block)).ok());
    ASSERT_TRUE((*b)->Commit(block, Certify(block)).ok());
  }
  for (size_t i = 0; i < kCfCount; ++i) {
    const Cf cf = static_cast<Cf>(i);
    std::vector<std::pair<std::string, std::string>> from_rocks;
    ASSERT_TRUE(rocks_raw
                    ->Scan(cf, "", "",
                           [&](std::string_view k, std::string_view v) {
                             from_rocks.emplace_back(k, v);
                             return true;
                           })
                    .ok());
    std::vector<std::pair<std::string, std::string>> from_mem(mem.table(cf).begin(),
                                                              mem.table(cf).end());
    EXPECT_EQ(from_rocks, from_mem) << CfName(cf);
  }
}

}  // namespace
}  // namespace hc::ledger

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

// n = 4 validators, f = 1: a certificate needs 3 distinct valid COMMIT signatures.
TEST(CertificateTest, FourValidatorsNeedAQuorumOfThree) {
  Genesis g = TestGenesis();
  g.validators.clear();
  std::vector<std::unique_ptr<crypto::Signer>> signers;
  for (int i = 0; i < 4; ++i) {
    GenesisValidator v;
    v.id = "v" + std::to_string(i);
    v.key = KeyOf(v.id);
    v.tls_key_pin = KeyOf("tls" + v.id);
    v.address = "127.0.0.1:700" + std::to_string(i);
    g.validators.push_back(v);
    signers.push_back(crypto::MakeFakeSigner(v.key));
  }
  auto verifier = crypto::MakeFakeVerifier();
  auto l = Ledger::Open(std::make_unique<MemKvStore>(), g, *verifier);
  ASSERT_TRUE(l.ok());
  pb::Block block = NextBlock(**l, {});
  auto cert = [&](std::vector<uint32_t> ids) {
    std::vector<std::pair<uint32_t, const crypto::Signer*>> s;
    for (uint32_t id : ids) s.emplace_back(id, signers[id].get());
    return MakeCertificate(kChainId, block, 3, s);
  };
  EXPECT_FALSE((*l)->Commit(block, cert({0, 1})).ok());
  EXPECT_FALSE((*l)->Commit(block, cert({0, 1, 1})).ok());
  pb::CommitCertificate wrong_index = cert({0, 1, 2});
  wrong_index.mutable_signatures(2)->set_replica(3);  // v2's signature claimed as v3's
  EXPECT_FALSE((*l)->Commit(block, wrong_index).ok());
  EXPECT_TRUE((*l)->Commit(block, cert({3, 0, 2})).ok());
  EXPECT_EQ((*l)->height(), 1u);
}

}  // namespace
}  // namespace hc::ledger

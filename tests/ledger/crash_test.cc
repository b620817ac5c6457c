// Crash test (LevelDB's fault_injection_test in spirit): a child process commits blocks to RocksDB
// in a loop and is killed with SIGKILL at random moments, many times. Each time the re-opened store
// must verify (R25) and hold a prefix of the blocks: every block the child reported synced, and
// never a partial block.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "ledger/rocks_store.h"
#include "ledger_test_util.h"
#include "workload.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

struct ExpectedChain {
  std::vector<pb::Block> blocks;
  std::vector<pb::CommitCertificate> certs;
  std::vector<Hash32> hashes;
  std::vector<Hash32> log_roots;
};

// Builds the chain on an in-memory ledger: the child commits exactly these blocks.
ExpectedChain BuildChain(uint64_t seed, int blocks, size_t txs_per_block) {
  ExpectedChain c;
  auto verifier = crypto::MakeFakeVerifier();
  auto l = Ledger::Open(std::make_unique<MemKvStore>(), TestGenesis(), *verifier);
  EXPECT_TRUE(l.ok());
  Workload w(seed);
  for (int i = 0; i < blocks; ++i) {
    const int64_t t = kT0 + (i + 1) * 1000;
    pb::Block block = NextBlock(**l, i == 0 ? w.SetupTxs() : w.NextTxs(txs_per_block, t), t);
    pb::CommitCertificate cert = Certify(block);
    Result<CommittedBlock> r = (*l)->Commit(block, cert);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    c.blocks.push_back(std::move(block));
    c.certs.push_back(std::move(cert));
    c.hashes.push_back(r->block_hash);
    c.log_roots.push_back(r->log_root);
  }
  return c;
}

// The child: opens the store, tells the parent through `opened_fd`, commits from its tip to the
// end, exits 0. Never returns.
[[noreturn]] void CommitInChild(const std::string& path, const ExpectedChain& chain,
                                int opened_fd) {
  auto verifier = crypto::MakeFakeVerifier();
  auto store = RocksKvStore::Open(path);
  if (!store.ok()) _exit(2);
  auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
  if (!l.ok()) _exit(3);
  if (write(opened_fd, "o", 1) != 1) _exit(5);
  for (uint64_t h = (*l)->height() + 1; h <= chain.blocks.size(); ++h) {
    if (!(*l)->Commit(chain.blocks[h - 1], chain.certs[h - 1]).ok()) _exit(4);
  }
  _exit(0);
}

TEST(CrashTest, KillDuringCommitLeavesAPrefixOfBlocks) {
#if defined(__SANITIZE_THREAD__)
  // The child is forked while RocksDB's background threads run, and opens RocksDB again: TSan
  // does not support starting threads after a multi-threaded fork.
  GTEST_SKIP() << "fork() of a multi-threaded process is not supported under ThreadSanitizer";
#endif
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kBlocks = 600;
  const ExpectedChain chain = BuildChain(seed, kBlocks, 40);
  TempDir dir;
  const std::string path = dir.path() + "/db";
  auto verifier = crypto::MakeFakeVerifier();
  uint64_t tip = 0;
  int kills = 0;
  int grew = 0;
  for (int round = 0; round < 40 && tip < static_cast<uint64_t>(kBlocks); ++round) {
    int opened[2];
    ASSERT_EQ(pipe(opened), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(opened[0]);
      CommitInChild(path, chain, opened[1]);
    }
    close(opened[1]);
    // Kill at a random moment: one round in four while the child opens and verifies the store,
    // the others mid-commit, counted from the moment the child has the store open (opening takes
    // from tens to hundreds of milliseconds, depending on the machine's fsync).
    if (rng() % 4 != 0) {
      pollfd pfd{opened[0], POLLIN, 0};
      ASSERT_EQ(poll(&pfd, 1, 30'000), 1) << "the child did not open the store within 30 s";
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 150'000));
    kill(pid, SIGKILL);
    close(opened[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the child failed before it was killed";
    } else {
      ASSERT_TRUE(WIFSIGNALED(status));
      ++kills;
    }
    auto store = RocksKvStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto l = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
    ASSERT_TRUE(l.ok()) << "round " << round << ": " << l.status().ToString();
    const uint64_t h = (*l)->height();
    // Synced blocks never disappear; the store holds a prefix of the chain.
    ASSERT_GE(h, tip);
    ASSERT_LE(h, static_cast<uint64_t>(kBlocks));
    if (h > tip) ++grew;
    if (h > 0) {
      EXPECT_EQ((*l)->tip_hash(), chain.hashes[h - 1]);
      EXPECT_EQ((*l)->log_root(), chain.log_roots[h - 1]);
      // Spot-check a few blocks and the entry count.
      for (uint64_t probe : {uint64_t{1}, h / 2 + 1, h}) {
        Result<pb::Block> b = (*l)->BlockAt(probe);
        ASSERT_TRUE(b.ok());
        EXPECT_EQ(b->SerializeAsString(), chain.blocks[probe - 1].SerializeAsString());
      }
    }
    EXPECT_EQ((*l)->BlockAt(h + 1).status().code(), StatusCode::kNotFound);
    tip = h;
  }
  EXPECT_GE(kills, 10) << "the child finished too fast to be killed mid-commit";
  EXPECT_GE(grew, 3);
  std::printf("crash test: %d kills, reached height %llu of %d\n", kills,
              static_cast<unsigned long long>(tip), kBlocks);
}

}  // namespace
}  // namespace hc::ledger

// Ledger benchmarks (issue 3, "Benchmark"; not a timed test).
//
//   BM_ExecuteCommit: execute + commit blocks of 1,000 mixed txs (every payload kind, ~5 % bad)
//     into RocksDB with a synced WAL. Signatures are checked before the timed section, as the node
//     does at mempool admission (PrepareBlock, with the fake signer: its cost is not measured).
//     Reports txs/s (items_per_second) and bytes on disk per tx. BM_ExecuteCommit/32/800 first
//     commits 800 blocks untimed, so that its timed blocks read a grown database.
//   BM_Execute: the state machine alone on the in-memory store (no RocksDB, no log).
//   BM_InclusionProof/N: build one inclusion proof for a random entry of an N-entry log whose
//     Merkle nodes are in RocksDB (log_nodes), and BM_VerifyInclusion for the check.
//
// Data goes under $HC_BENCH_DIR (default /tmp). The 10 M log (about 0.9 GB) is built once and
// reused by later runs.
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "crypto/merkle.h"
#include "ledger/ledger.h"
#include "ledger/mem_store.h"
#include "ledger/rocks_store.h"
#include "tests/ledger/workload.h"

namespace hc::ledger {
namespace {

using namespace ::hc::ledger::testing;  // NOLINT(google-build-using-namespace)

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("HC_BENCH_DIR");
  return std::string(base != nullptr ? base : "/tmp") + "/hc-ledger-bench-" + name;
}

constexpr size_t kTxsPerBlock = 1000;

// CPU time of the calling thread: the machine is shared, so wall time alone overstates the cost
// whenever other processes compete for the two cores. (RocksDB's background flushes and
// compactions run on other threads and are not counted here; the wall time includes them only
// when they stall a write.)
double CpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double ThreadCpuSeconds() { return CpuSeconds(CLOCK_THREAD_CPUTIME_ID); }
// CPU time of the whole process: with the thread's own, what RocksDB's background threads spent
// (flushes and compactions the commits caused), which the node pays too.
double ProcessCpuSeconds() { return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID); }

void BM_ExecuteCommit(benchmark::State& state) {
  const std::string dir = BenchDir("commit");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  auto verifier = crypto::MakeFakeVerifier();
  RocksKvStore* rocks = nullptr;
  uint64_t committed_txs = 0;
  double cpu_seconds = 0;
  uint64_t state_writes = 0;
  double background_seconds = 0;
  {
    RocksOptions rocks_options;
    rocks_options.write_buffer_bytes = static_cast<size_t>(state.range(0)) << 20;
    auto store = RocksKvStore::Open(dir, rocks_options);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    rocks = store->get();
    auto opened = Ledger::Open(std::move(store).value(), TestGenesis(), *verifier);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().ToString().c_str());
      return;
    }
    std::unique_ptr<Ledger> ledger = std::move(opened).value();
    WorkloadOptions options;
    options.hospitals = 50;
    options.insurers = 10;
    options.initial_patients = 5000;
    Workload w(1, options);
    int64_t t = kT0;
    auto commit = [&](std::vector<std::string> txs) -> Result<CommittedBlock> {
      pb::Block block = NextBlock(*ledger, std::move(txs), t);
      pb::CommitCertificate cert = Certify(block);
      std::vector<std::string> raw(block.txs().begin(), block.txs().end());
      ExecutableBlock prepared = PrepareBlock(ledger->height() + 1, t, raw, kChainId, *verifier);
      return ledger->Commit(block.header(), cert, std::move(prepared));
    };
    if (!commit(w.SetupTxs()).ok()) {
      state.SkipWithError("setup block failed");
      return;
    }
    // Untimed: grow the database first (the second argument, in blocks of 1,000 txs), so that the
    // timed blocks read from SST files at several levels as a long-running node does.
    for (int64_t b = 0; b < state.range(1); ++b) {
      t += 1000;
      if (!commit(w.NextTxs(kTxsPerBlock, t)).ok()) {
        state.SkipWithError("preload block failed");
        return;
      }
    }
    const uint64_t preloaded_txs = static_cast<uint64_t>(state.range(1)) * kTxsPerBlock;
    const double process_start = ProcessCpuSeconds();
    const double thread_start = ThreadCpuSeconds();
    for (auto _ : state) {
      t += 1000;
      // Untimed: generate, build and sign-check the block (the node does this before commit).
      std::vector<std::string> txs = w.NextTxs(kTxsPerBlock, t);
      pb::Block block = NextBlock(*ledger, txs, t);
      pb::CommitCertificate cert = Certify(block);
      ExecutableBlock prepared = PrepareBlock(ledger->height() + 1, t, txs, kChainId, *verifier);
      const double cpu_start = ThreadCpuSeconds();
      const auto start = std::chrono::steady_clock::now();
      Result<CommittedBlock> r = ledger->Commit(block.header(), cert, std::move(prepared));
      const auto end = std::chrono::steady_clock::now();
      cpu_seconds += ThreadCpuSeconds() - cpu_start;
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
      state.SetIterationTime(std::chrono::duration<double>(end - start).count());
      committed_txs += kTxsPerBlock;
      state_writes += r->execution.state_writes;
    }
    // The memtables still hold the last blocks: their flush is part of the cost.
    if (!rocks->Flush().ok()) state.SkipWithError("flush failed");
    const double thread_untimed =
        (ThreadCpuSeconds() - thread_start) - cpu_seconds;  // generating and signing txs
    background_seconds = (ProcessCpuSeconds() - process_start) - cpu_seconds - thread_untimed;
    Result<uint64_t> bytes = rocks->DiskUsageBytes();
    state.counters["disk_bytes_per_tx"] =
        bytes.ok()
            ? static_cast<double>(*bytes) / static_cast<double>(committed_txs + preloaded_txs + 213)
            : -1;
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed_txs));
  state.counters["cpu_us_per_tx"] = cpu_seconds * 1e6 / static_cast<double>(committed_txs);
  state.counters["cpu_tx_per_s"] = static_cast<double>(committed_txs) / cpu_seconds;
  state.counters["bg_cpu_us_per_tx"] =
      background_seconds * 1e6 / static_cast<double>(committed_txs);
  // tx_index + state + index records per tx (the log adds about 1/8, the block 5 per block).
  state.counters["state_records_per_tx"] =
      static_cast<double>(state_writes) / static_cast<double>(committed_txs);
  std::filesystem::remove_all(dir, ec);
}
// Arguments: the memtable size per column family in MiB (RocksOptions::write_buffer_bytes), and
// the blocks of 1,000 txs committed before the timed ones (0: an empty database; 800: about what
// a validator holds after four minutes of the cluster benchmark).
BENCHMARK(BM_ExecuteCommit)
    ->Args({32, 0})
    ->Args({32, 800})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(200);

void BM_Execute(benchmark::State& state) {
  auto verifier = crypto::MakeFakeVerifier();
  MemKvStore store;
  if (!store.Write(GenesisStateWrites(TestGenesis()), true).ok()) return;
  WorkloadOptions options;
  options.initial_patients = 5000;
  Workload w(2, options);
  uint64_t height = 0;
  int64_t t = kT0;
  double cpu_seconds = 0;
  auto run = [&](const std::vector<std::string>& txs, bool timed) {
    ExecutableBlock b = PrepareBlock(++height, t, txs, kChainId, *verifier);
    const double cpu_start = ThreadCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    Result<ExecutionResult> r = Execute(b, store);
    const auto end = std::chrono::steady_clock::now();
    if (timed) cpu_seconds += ThreadCpuSeconds() - cpu_start;
    if (!r.ok() || !store.Write(r->writes, false).ok()) return -1.0;
    return std::chrono::duration<double>(end - start).count();
  };
  run(w.SetupTxs(), false);
  for (auto _ : state) {
    t += 1000;
    const double secs = run(w.NextTxs(kTxsPerBlock, t), true);
    if (secs < 0) {
      state.SkipWithError("execute failed");
      return;
    }
    state.SetIterationTime(secs);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kTxsPerBlock));
  state.counters["cpu_us_per_tx"] =
      cpu_seconds * 1e6 / static_cast<double>(state.iterations() * kTxsPerBlock);
}
BENCHMARK(BM_Execute)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(100);

// Builds (or reuses) a RocksDB holding the Merkle nodes of an n-leaf log.
Result<std::unique_ptr<RocksKvStore>> LogOfSize(uint64_t n) {
  const std::string dir = BenchDir("log-" + std::to_string(n));
  const bool exists = std::filesystem::exists(dir + "/CURRENT");
  HC_ASSIGN_OR_RETURN(auto store, RocksKvStore::Open(dir));
  std::string v;
  if (exists && store->Get(Cf::kLogNodes, "done", &v).ok()) return store;
  // The ledger's own append path (ledger/log_store.h), in batches of 10,000 leaves.
  crypto::CompactRange range;
  std::vector<Hash32> leaves;
  KvBatch batch;
  for (uint64_t i = 0; i < n; ++i) {
    leaves.push_back(crypto::LeafHash(AsBytes("entry-" + std::to_string(i))));
    if (leaves.size() == 10000 || i + 1 == n) {
      HC_RETURN_IF_ERROR(AppendLeaves(*store, leaves, &range, &batch));
      HC_RETURN_IF_ERROR(store->Write(batch, false));
      batch.writes.clear();
      leaves.clear();
    }
  }
  batch.Put(Cf::kLogNodes, "done", std::string(AsStr(range.Root())));
  HC_RETURN_IF_ERROR(store->Write(batch, true));
  HC_RETURN_IF_ERROR(store->Flush());
  return store;
}

void BM_InclusionProof(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  auto store = LogOfSize(n);
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  StoredLogNodes nodes(**store, n);
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    const uint64_t leaf = rng() % n;
    auto proof = crypto::InclusionProof(nodes, leaf, n);
    if (!proof.ok()) {
      state.SkipWithError(proof.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(proof->data());
  }
  Result<uint64_t> bytes = (*store)->DiskUsageBytes();
  if (bytes.ok()) state.counters["log_nodes_disk_bytes_per_entry"] = double(*bytes) / double(n);
}
BENCHMARK(BM_InclusionProof)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kMicrosecond);

void BM_VerifyInclusion(benchmark::State& state) {
  crypto::MemoryMerkleTree tree;
  const uint64_t n = 1 << 20;
  for (uint64_t i = 0; i < n; ++i) tree.Append(crypto::LeafHash(AsBytes(std::to_string(i))));
  const Hash32 root = tree.Root();
  const uint64_t leaf = 777'777;
  const Hash32 leaf_hash = crypto::LeafHash(AsBytes(std::to_string(leaf)));
  auto proof = crypto::InclusionProof(tree, leaf, n);
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::VerifyInclusion(leaf, n, leaf_hash, *proof, root).ok());
  }
}
BENCHMARK(BM_VerifyInclusion)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace hc::ledger

BENCHMARK_MAIN();

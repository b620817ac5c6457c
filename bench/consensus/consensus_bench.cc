// The PBFT replica under the deterministic simulator, on a calm network: committed blocks and txs
// per second of wall-clock CPU (simulated network delays cost no time), and the protocol's cost per
// committed block — messages on the wire and signature operations (signs + verifies, all replicas)
// — for n = 4, 7, 10, with the fake signer and with real Ed25519.
//
//   build/<dir>/bench/consensus/consensus_bench --benchmark_min_time=1
//
// One iteration is one fresh cluster committing a burst of kTxs txs in blocks of up to kBatch txs.
// Rates are per CPU second of the one simulator thread (all n replicas share it).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "tests/sim/sim.h"

namespace hc::sim {
namespace {

constexpr uint32_t kTxs = 2000;
constexpr uint32_t kBatch = 100;

void BM_SimulatedCommit(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  const bool real_sigs = state.range(1) != 0;
  uint64_t blocks = 0, txs = 0, messages = 0, bytes = 0, sig_ops = 0, verifies = 0, signs = 0;
  uint64_t seed = 1;
  for (auto _ : state) {
    SimOptions o;
    o.n = n;
    o.seed = seed++;
    o.real_sigs = real_sigs;
    o.faults.delay_min_ms = 1;
    o.faults.delay_max_ms = 3;
    o.config.batch_txs_max = kBatch;
    o.config.batch_delay_ms = 5;
    o.config.window = 64;
    o.config.checkpoint_interval = 16;
    o.config.exec_lag_max = 64;
    o.config.empty_block_delay_ms = 0;
    Simulation sim(o);
    // A burst: the primary fills blocks of kBatch txs and pipelines them within the window.
    sim.SubmitTxsSpread(kTxs, sim.now(), sim.now() + 100);
    sim.RunUntil(sim.now() + 100);
    if (!sim.CheckLiveness(120'000)) state.SkipWithError("not every tx committed");
    const consensus::Metrics m = sim.TotalMetrics();
    blocks += sim.TotalCommittedBlocksMax();
    txs += kTxs;
    messages += sim.stats().messages;
    bytes += sim.stats().bytes;
    sig_ops += m.signatures_created + m.signatures_verified;
    signs += m.signatures_created;
    verifies += m.signatures_verified;
  }
  state.counters["blocks/s"] =
      benchmark::Counter(static_cast<double>(blocks), benchmark::Counter::kIsRate);
  state.counters["tx/s"] =
      benchmark::Counter(static_cast<double>(txs), benchmark::Counter::kIsRate);
  const double b = static_cast<double>(blocks);
  state.counters["msgs/block"] = static_cast<double>(messages) / b;
  state.counters["KiB/block"] = static_cast<double>(bytes) / b / 1024.0;
  state.counters["sigops/block"] = static_cast<double>(sig_ops) / b;
  state.counters["signs/block"] = static_cast<double>(signs) / b;
  state.counters["verifies/block"] = static_cast<double>(verifies) / b;
  state.counters["tx/block"] = static_cast<double>(txs) / b;
}
BENCHMARK(BM_SimulatedCommit)
    ->ArgNames({"n", "ed25519"})
    ->ArgsProduct({{4, 7, 10}, {0, 1}})
    ->Unit(benchmark::kMillisecond);  // rates per CPU second: the machine is shared

}  // namespace
}  // namespace hc::sim

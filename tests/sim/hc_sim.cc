// hc_sim: long seed sweeps of the deterministic PBFT simulator.
//
//   hc_sim --seeds N --from S [--n 4|7] [--real-sigs] [--trace] [--verbose]
//
// Runs seeds S .. S+N-1. A failing seed prints its scenario, its violations, the final replica
// states and the command that replays it; the exit code is 1 if any seed failed.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "tests/sim/sim.h"

int main(int argc, char** argv) {
  uint64_t seeds = 100;
  uint64_t from = 1;
  uint32_t n = 4;
  bool real_sigs = false;
  bool trace = false;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") {
      seeds = std::stoull(next());
    } else if (a == "--from") {
      from = std::stoull(next());
    } else if (a == "--n") {
      n = static_cast<uint32_t>(std::stoul(next()));
    } else if (a == "--real-sigs") {
      real_sigs = true;
    } else if (a == "--trace") {
      trace = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::cerr << "usage: hc_sim --seeds N --from S [--n 4|7] [--real-sigs] [--trace] "
                   "[--verbose]\n";
      return 2;
    }
  }
  if (n < 4 || n > 64) {
    std::cerr << "--n must be 4..64\n";
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t blocks = 0;
  uint64_t seeds_with_view_change = 0, seeds_with_state_transfer = 0, seeds_with_censorship = 0;
  hc::consensus::Metrics total;
  for (uint64_t seed = from; seed < from + seeds; ++seed) {
    const hc::sim::SweepResult r = hc::sim::RunRandomScenario(seed, n, real_sigs, trace);
    blocks += r.committed_blocks;
    const hc::consensus::Metrics& m = r.metrics;
    seeds_with_view_change += m.new_views_installed > 0;
    seeds_with_state_transfer += m.state_transfer_blocks > 0;
    seeds_with_censorship += m.censorship_view_changes > 0;
    for (size_t i = 0; i < hc::consensus::kDropReasonCount; ++i) total.dropped[i] += m.dropped[i];
    total.view_changes_started += m.view_changes_started;
    total.new_views_installed += m.new_views_installed;
    total.state_transfer_blocks += m.state_transfer_blocks;
    total.checkpoints_stable += m.checkpoints_stable;
    if (verbose || !r.ok) {
      std::cout << (r.ok ? "ok   " : "FAIL ") << "seed " << seed << ": " << r.scenario
                << " -> blocks=" << r.committed_blocks << " sim_ms=" << r.sim_ms << "\n";
    }
    if (!r.ok) {
      ++failed;
      for (const std::string& v : r.violations) std::cout << "  violation: " << v << "\n";
      std::cout << r.state;
      std::cout << "  replay: " << hc::sim::ReplayCommand(seed, n, real_sigs) << "\n";
    }
  }
  if (verbose) {
    std::cout << "coverage: " << seeds_with_view_change << " seeds installed a new view, "
              << seeds_with_state_transfer << " used state transfer, " << seeds_with_censorship
              << " replaced a censoring primary; totals: view changes started "
              << total.view_changes_started << ", new views " << total.new_views_installed
              << ", stable checkpoints " << total.checkpoints_stable << ", state-transfer blocks "
              << total.state_transfer_blocks << "\n  drops:";
    for (size_t i = 0; i < hc::consensus::kDropReasonCount; ++i) {
      std::cout << " " << hc::consensus::DropReasonName(static_cast<hc::consensus::DropReason>(i))
                << "=" << total.dropped[i];
    }
    std::cout << "\n";
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << (failed == 0 ? "PASS" : "FAIL") << ": " << seeds << " seeds from " << from
            << " (n=" << n << (real_sigs ? ", Ed25519" : ", fake signer") << "), " << failed
            << " failed, " << blocks << " blocks committed, " << secs << " s\n";
  return failed == 0 ? 0 : 1;
}

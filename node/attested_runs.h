// R26 for a state-transfer response (docs/spec/ledger-rules.md): which fetched blocks one fetched
// header attests. A header claiming the log after height e attests every block up to e, so the
// follower commits the fetched blocks in runs, each ending at a height some fetched header claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

namespace hc::node {

// The run that starts with fetched block `first`: blocks [first, end) and the index of the block
// whose header attests the run's last one.
struct AttestedRun {
  size_t end = 0;
  size_t attester = 0;
};

// `heights`: the fetched blocks' heights, in the response's order. `claims`: for each height e
// whose log a fetched header claims (its exec_height), the index of the first block claiming it.
// The run from `first` to the nearest claimed height at or after heights[first], if the response
// holds every height of it, in order, and its attester comes after it; nullopt otherwise (the
// block is then committed on its own, with its signatures checked).
std::optional<AttestedRun> AttestedRunFrom(std::span<const uint64_t> heights,
                                           const std::map<uint64_t, size_t>& claims, size_t first);

// Every run of a batch of blocks committed together (a validator's replica commits a state
// transfer's blocks in one batch of actions), planned from the first block: by the index of each
// run's first block. A block no run covers is committed on its own.
std::map<size_t, AttestedRun> AttestedRunsIn(std::span<const uint64_t> heights,
                                             const std::map<uint64_t, size_t>& claims);

}  // namespace hc::node

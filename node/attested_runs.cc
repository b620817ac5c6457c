#include "node/attested_runs.h"

namespace hc::node {

std::optional<AttestedRun> AttestedRunFrom(std::span<const uint64_t> heights,
                                           const std::map<uint64_t, size_t>& claims, size_t first) {
  if (first >= heights.size()) return std::nullopt;
  const auto claim = claims.lower_bound(heights[first]);
  if (claim == claims.end()) return std::nullopt;
  const uint64_t last_height = claim->first;
  const uint64_t count = last_height - heights[first] + 1;  // 0 only if it wrapped around
  if (count == 0 || count > heights.size() - first) return std::nullopt;  // the response ends first
  for (uint64_t k = 1; k < count; ++k) {
    if (heights[first + k] != heights[first] + k) return std::nullopt;  // a gap, or out of order
  }
  const size_t end = first + count;
  if (claim->second < end) return std::nullopt;  // attested by a block of the run, or before it
  return AttestedRun{end, claim->second};
}

std::map<size_t, AttestedRun> AttestedRunsIn(std::span<const uint64_t> heights,
                                             const std::map<uint64_t, size_t>& claims) {
  std::map<size_t, AttestedRun> out;
  for (size_t first = 0; first < heights.size();) {
    const std::optional<AttestedRun> run = AttestedRunFrom(heights, claims, first);
    if (!run) {
      ++first;
      continue;
    }
    out.emplace(first, *run);
    first = run->end;
  }
  return out;
}

}  // namespace hc::node

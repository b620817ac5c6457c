// The pacemaker: view-change timing, kept apart from the safety rules (STYLE.md, libhotstuff's
// PaceMaker). It decides only *when* the replica gives up on a view; nothing here can change what
// is safe to prepare or commit (pbft.md R20).
//
// One timer: while the replica is in an active view it runs only when work is pending (R20) and is
// re-armed on every committed block; while a view change is in progress it bounds how long the
// replica waits for the NEW-VIEW. Its length doubles with each view change that made no progress,
// up to a cap, and drops back to the base on the first committed block (PBFT-PITFALLS.md,
// Tendermint #1464).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace hc::consensus {

class Pacemaker {
 public:
  Pacemaker(int64_t base_timeout_ms, int64_t max_timeout_ms)
      : base_ms_(base_timeout_ms), max_ms_(std::max(base_timeout_ms, max_timeout_ms)) {}

  // base * 2^failed_view_changes, capped.
  int64_t TimeoutMs() const {
    int64_t t = base_ms_;
    for (uint32_t i = 0; i < failed_ && t < max_ms_; ++i) t *= 2;
    return std::min(t, max_ms_);
  }

  // A block committed: back off no more, and restart the timer if it is running.
  void OnProgress(int64_t now_ms) {
    failed_ = 0;
    if (deadline_) deadline_ = now_ms + TimeoutMs();
  }
  // The timer fired and a view change starts (or escalates): the next wait is longer.
  void OnTimeout() { ++failed_; }

  // Starts the timer if it is not running (work became pending).
  void ArmIfIdle(int64_t now_ms) {
    if (!deadline_) deadline_ = now_ms + TimeoutMs();
  }
  // (Re)starts the timer from now.
  void Restart(int64_t now_ms) { deadline_ = now_ms + TimeoutMs(); }
  // No work pending: stop the timer.
  void Disarm() { deadline_.reset(); }

  bool Expired(int64_t now_ms) const { return deadline_ && now_ms >= *deadline_; }
  std::optional<int64_t> deadline() const { return deadline_; }
  uint32_t failed_view_changes() const { return failed_; }

 private:
  int64_t base_ms_;
  int64_t max_ms_;
  uint32_t failed_ = 0;
  std::optional<int64_t> deadline_;
};

}  // namespace hc::consensus

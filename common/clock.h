// Clock: the only way code outside node/ learns the time, so tests and the simulator control it.
#pragma once

#include <cstdint>
#include <string>

namespace hc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock; used for timestamps).
  virtual int64_t NowMs() const = 0;
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
};

// `unix_ms` as UTC through strftime's `format`, e.g. "%Y-%m-%dT%H:%M:%SZ" (seconds; the
// milliseconds are the caller's to add).
std::string FormatUtc(int64_t unix_ms, const char* format);

// A clock that moves only when told to. Not thread-safe; for single-threaded tests and the
// simulator.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_; }
  void AdvanceMs(int64_t delta_ms) { now_ms_ += delta_ms; }
  void SetMs(int64_t now_ms) { now_ms_ = now_ms; }

 private:
  int64_t now_ms_;
};

}  // namespace hc

#include "common/clock.h"

#include <chrono>
#include <ctime>

namespace hc {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatUtc(int64_t unix_ms, const char* format) {
  // Floor division, so that times before 1970 land in the right second.
  const auto secs = static_cast<std::time_t>(unix_ms / 1000 - (unix_ms % 1000 < 0 ? 1 : 0));
  std::tm tm{};
  if (::gmtime_r(&secs, &tm) == nullptr) return std::to_string(unix_ms) + " ms";
  char text[64];
  const size_t n = std::strftime(text, sizeof(text), format, &tm);
  return std::string(text, n);
}

}  // namespace hc

#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace hc::internal {

void AssertFail(const char* file, int line, const char* expr, const std::string& detail) {
  // stdio, not a logger: the process may be in any state, and this line must reach the operator.
  if (detail.empty()) {
    std::fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
  } else {
    std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", file, line, expr, detail.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace hc::internal

#include "common/thread_name.h"

#include <pthread.h>

#include <string>

namespace hc {

void SetThreadName(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  // Naming is a diagnostic: a failure (only possible for a too-long name) changes nothing else.
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace hc

// Names the calling thread, so that operators see what each thread of a node does (`top -H`,
// `ps -L`, perf, gdb). Linux keeps at most 15 characters; longer names are cut.
#pragma once

#include <string_view>

namespace hc {

void SetThreadName(std::string_view name);

}  // namespace hc

#include "ledger/kv.h"

namespace hc::ledger {

Status KvReader::ScanPrefix(Cf cf, std::string_view prefix, const KvScanFn& fn) const {
  return Scan(cf, prefix, PrefixEnd(prefix), fn);
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last != 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace hc::ledger

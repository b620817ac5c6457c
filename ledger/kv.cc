#include "ledger/kv.h"

namespace hc::ledger {

Status KvReader::GetMany(Cf cf, const std::vector<std::string_view>& keys,
                         std::vector<std::optional<std::string>>* values) const {
  values->assign(keys.size(), std::nullopt);
  std::string value;
  for (size_t i = 0; i < keys.size(); ++i) {
    Status s = Get(cf, keys[i], &value);
    if (s.ok()) {
      (*values)[i] = std::move(value);
    } else if (s.code() != StatusCode::kNotFound) {
      return s;
    }
  }
  return Status::Ok();
}

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

#include "ledger/org_directory.h"

#include <algorithm>

#include "ledger/codec.h"

namespace hc::ledger {

bool OrgDirectory::Held(Cf cf, std::string_view key) {
  return cf == Cf::kState && key.starts_with(keys::kOrgPrefix);
}

Status OrgDirectory::Load() {
  orgs_.clear();
  return store_.ScanPrefix(Cf::kState, keys::kOrgPrefix,
                           [&](std::string_view k, std::string_view v) {
                             orgs_.emplace(std::string(k), std::string(v));
                             return true;
                           });
}

void OrgDirectory::Apply(const KvBatch& batch) {
  for (const KvWrite& w : batch.writes) {
    if (!Held(w.cf, w.key)) continue;
    if (w.value) {
      orgs_.insert_or_assign(w.key, *w.value);
    } else {
      orgs_.erase(w.key);
    }
  }
}

Status OrgDirectory::Get(Cf cf, std::string_view key, std::string* value) const {
  if (!Held(cf, key)) return store_.Get(cf, key, value);
  auto it = orgs_.find(key);
  if (it == orgs_.end()) return NotFound("state key not found (org directory)");
  *value = it->second;
  return Status::Ok();
}

Status OrgDirectory::GetMany(Cf cf, const std::vector<std::string_view>& keys,
                             std::vector<std::optional<std::string>>* values) const {
  if (cf != Cf::kState || std::none_of(keys.begin(), keys.end(),
                                       [](std::string_view k) { return Held(Cf::kState, k); })) {
    return store_.GetMany(cf, keys, values);
  }
  // The store reads the keys the directory does not hold, in one batch.
  std::vector<std::string_view> rest;
  std::vector<size_t> rest_at;
  values->assign(keys.size(), std::nullopt);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Held(cf, keys[i])) {
      auto it = orgs_.find(keys[i]);
      if (it != orgs_.end()) (*values)[i] = it->second;
    } else {
      rest.push_back(keys[i]);
      rest_at.push_back(i);
    }
  }
  if (rest.empty()) return Status::Ok();
  std::vector<std::optional<std::string>> got;
  HC_RETURN_IF_ERROR(store_.GetMany(cf, rest, &got));
  for (size_t j = 0; j < rest.size(); ++j) (*values)[rest_at[j]] = std::move(got[j]);
  return Status::Ok();
}

}  // namespace hc::ledger

#include "ledger/mem_store.h"

namespace hc::ledger {

Status MemKvStore::Get(Cf cf, std::string_view key, std::string* value) const {
  const Table& t = visible_[static_cast<size_t>(cf)];
  auto it = t.find(key);
  if (it == t.end()) return NotFound(std::string(CfName(cf)) + " key not found");
  *value = it->second;
  return Status::Ok();
}

Status MemKvStore::Scan(Cf cf, std::string_view start, std::string_view end,
                        const KvScanFn& fn) const {
  const Table& t = visible_[static_cast<size_t>(cf)];
  for (auto it = t.lower_bound(start); it != t.end(); ++it) {
    if (!end.empty() && std::string_view(it->first) >= end) break;
    if (!fn(it->first, it->second)) break;
  }
  return Status::Ok();
}

Status MemKvStore::SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                                  std::string* value) const {
  const Table& t = visible_[static_cast<size_t>(cf)];
  auto it = t.upper_bound(key);
  if (it == t.begin()) return NotFound(std::string(CfName(cf)) + ": no key at or before");
  --it;
  *found_key = it->first;
  *value = it->second;
  return Status::Ok();
}

void MemKvStore::Apply(const KvBatch& batch, Tables& tables) {
  for (const KvWrite& w : batch.writes) {
    Table& t = tables[static_cast<size_t>(w.cf)];
    if (w.value.has_value()) {
      t.insert_or_assign(w.key, *w.value);
    } else {
      auto it = t.find(w.key);
      if (it != t.end()) t.erase(it);
    }
  }
}

Status MemKvStore::Write(const KvBatch& batch, bool sync) {
  Apply(batch, visible_);
  if (sync) {
    // A synced write makes every earlier write durable too (the WAL is sequential).
    for (const KvBatch& b : unsynced_) Apply(b, durable_);
    unsynced_.clear();
    Apply(batch, durable_);
  } else {
    unsynced_.push_back(batch);
  }
  return Status::Ok();
}

void MemKvStore::DropUnsyncedWrites() {
  unsynced_.clear();
  visible_ = durable_;
}

void MemKvStore::CorruptForTest(Cf cf, const std::string& key, std::optional<std::string> value) {
  KvBatch b;
  b.writes.push_back({cf, key, std::move(value)});
  Apply(b, visible_);
  Apply(b, durable_);
}

}  // namespace hc::ledger

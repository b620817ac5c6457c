// MemKvStore: an in-memory KvStore for the simulator and tests.
//
// Like LevelDB's fault-injection Env it distinguishes synced from unsynced writes: a batch written
// with sync=false is visible at once but lost by DropUnsyncedWrites(), which models a crash
// (power loss) of the process; a synced batch makes itself and every earlier batch durable, as a
// synced WAL write does. Not thread-safe.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "ledger/kv.h"

namespace hc::ledger {

class MemKvStore final : public KvStore {
 public:
  Status Get(Cf cf, std::string_view key, std::string* value) const override;
  Status Scan(Cf cf, std::string_view start, std::string_view end,
              const KvScanFn& fn) const override;
  Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override;
  Status Write(const KvBatch& batch, bool sync) override;

  // Forgets every batch written since the last synced one: the state after a crash.
  void DropUnsyncedWrites();
  // Number of batches that DropUnsyncedWrites would forget.
  size_t unsynced_batches() const { return unsynced_.size(); }

  // Test hook: overwrites (or deletes) a key directly, bypassing batches, as a disk fault would.
  void CorruptForTest(Cf cf, const std::string& key, std::optional<std::string> value);

  // A deep copy of the current (visible) contents, e.g. to compare two stores byte for byte.
  using Table = std::map<std::string, std::string, std::less<>>;
  const Table& table(Cf cf) const { return visible_[static_cast<size_t>(cf)]; }

 private:
  using Tables = std::array<Table, kCfCount>;
  static void Apply(const KvBatch& batch, Tables& tables);

  Tables visible_;  // what readers see: durable_ plus the unsynced batches
  Tables durable_;  // what survives DropUnsyncedWrites
  std::vector<KvBatch> unsynced_;
};

}  // namespace hc::ledger

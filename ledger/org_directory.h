// OrgDirectory: the registered orgs' state records held in memory, in front of the store.
//
// Every tx names its signer, and execution looks the signer up as an org first (R6): a read of
// one of a few dozen keys written at genesis or by rare commission txs, or — for a patient's tx —
// a miss. Once the store holds a few million txs those reads go to old SST files and probe every
// level's filters; late in a long run they were ≈ 4 % of block execution (docs/performance.md
// "Session 17"). The directory holds every org record ("o" keys of the state family), loaded at
// the open and updated from each committed batch, so an org read is answered from memory and a
// miss is authoritative. Orgs are registered only by commission txs (R7), so the directory is
// small: thousands of records for a province, not millions.
//
// It is a KvReader over the store: reads of the state family's "o" keys are answered from
// memory, everything else is passed to the store. Execution reads through it; writes go to the
// store, and Apply must be given every batch the store has written, after the write.
//
// Thread-safety: as the Ledger's (one thread commits and executes).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

#include "ledger/kv.h"

namespace hc::ledger {

class OrgDirectory final : public KvReader {
 public:
  explicit OrgDirectory(const KvReader& store) : store_(store) {}

  // Reads every org record from the store (replacing what was held).
  Status Load();

  // Takes the org writes of `batch`, which the store has written.
  void Apply(const KvBatch& batch);

  size_t size() const { return orgs_.size(); }

  // ---- KvReader ----
  Status Get(Cf cf, std::string_view key, std::string* value) const override;
  Status GetMany(Cf cf, const std::vector<std::string_view>& keys,
                 std::vector<std::optional<std::string>>* values) const override;
  Status Scan(Cf cf, std::string_view start, std::string_view end,
              const KvScanFn& fn) const override {
    return store_.Scan(cf, start, end, fn);
  }
  Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override {
    return store_.SeekAtOrBefore(cf, key, found_key, value);
  }

 private:
  // Is `key` of the state family one the directory answers (every "o" key)?
  static bool Held(Cf cf, std::string_view key);

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  const KvReader& store_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> orgs_;  // state key -> value
};

}  // namespace hc::ledger

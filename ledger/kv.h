// The ledger's storage seam: a small ordered key-value interface with column families.
//
// Everything above it (the state machine, the block store, the Merkle log, the queries) reads and
// writes through KvReader / KvStore, so the same code runs on RocksDB (ledger/rocks_store.h) and on
// the in-memory store the simulator and tests use (ledger/mem_store.h). Keys and values are raw
// bytes held in std::string; keys order bytewise (unsigned), as RocksDB's default comparator does.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hc::ledger {

// Column families by purpose (DESIGN.md §4).
enum class Cf : uint8_t {
  kBlocks = 0,  // block bytes and per-height info, the chain tip, the genesis record
  kCerts,       // commit certificates by height
  kTxIndex,     // tx_id -> (height, index) of its first authenticated occurrence (R5)
  kEntries,     // receipts of each block, keyed by the block's first log index
  kLogNodes,    // complete (perfect) Merkle subtree hashes of the entry log
  kState,       // orgs, patients, policies, consents, records, claims
  kIndex,       // by patient, by record, by claim fingerprint, the break-glass review queue
  kConsensus,   // the replica's durable votes (owned by the consensus persister)
  kPayloads,    // off-chain encrypted blobs this node holds; never part of the agreed state
};
inline constexpr size_t kCfCount = 9;
inline constexpr std::array<std::string_view, kCfCount> kCfNames = {
    "blocks", "certs", "tx_index",  "entries", "log_nodes",
    "state",  "index", "consensus", "payloads"};

inline std::string_view CfName(Cf cf) { return kCfNames[static_cast<size_t>(cf)]; }

// One write of a batch: a put when `value` is set, a delete otherwise.
struct KvWrite {
  Cf cf;
  std::string key;
  std::optional<std::string> value;

  friend bool operator==(const KvWrite&, const KvWrite&) = default;
};

// Writes applied atomically, in order (a later write to the same key wins).
struct KvBatch {
  std::vector<KvWrite> writes;

  void Put(Cf cf, std::string key, std::string value) {
    writes.push_back({cf, std::move(key), std::move(value)});
  }
  void Delete(Cf cf, std::string key) { writes.push_back({cf, std::move(key), std::nullopt}); }
  void Append(const KvBatch& other) {
    writes.insert(writes.end(), other.writes.begin(), other.writes.end());
  }
  void Append(KvBatch&& other) {
    writes.insert(writes.end(), std::make_move_iterator(other.writes.begin()),
                  std::make_move_iterator(other.writes.end()));
    other.writes.clear();
  }
};

// Called for each key/value in a scan, ascending; returning false stops the scan.
using KvScanFn = std::function<bool(std::string_view key, std::string_view value)>;

// Read access. Implementations are safe to call from one thread at a time unless they say more.
class KvReader {
 public:
  virtual ~KvReader() = default;

  // Reads `key` into *value. Returns NotFound (leaving *value unchanged) when the key is absent,
  // Corruption or IoError when the store failed.
  virtual Status Get(Cf cf, std::string_view key, std::string* value) const = 0;

  // Reads many keys of one column family: (*values)[i] becomes keys[i]'s value, or nullopt when
  // it is absent. A store that batches lookups answers faster than with as many Gets (RocksDB
  // probes each file's filter and index for all the keys together); this default calls Get.
  virtual Status GetMany(Cf cf, const std::vector<std::string_view>& keys,
                         std::vector<std::optional<std::string>>* values) const;

  // Calls fn for every key in [start, end) in ascending order until fn returns false. An empty
  // `end` means "to the end of the column family".
  virtual Status Scan(Cf cf, std::string_view start, std::string_view end,
                      const KvScanFn& fn) const = 0;

  // Finds the greatest key <= `key`. Returns NotFound when there is none.
  virtual Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                                std::string* value) const = 0;

  // Convenience: Scan over every key that starts with `prefix`.
  Status ScanPrefix(Cf cf, std::string_view prefix, const KvScanFn& fn) const;
};

// A durable store. Write applies a batch atomically: after a crash either all of it or none of it
// is visible. With sync=true, Write returns only once the batch (and every earlier batch) is on
// stable storage.
class KvStore : public KvReader {
 public:
  virtual Status Write(const KvBatch& batch, bool sync) = 0;
};

// The smallest key greater than every key starting with `prefix` ("" if there is none, i.e. the
// prefix is all 0xff), for use as a Scan end.
std::string PrefixEnd(std::string_view prefix);

}  // namespace hc::ledger

// RocksKvStore: the KvStore on RocksDB (DESIGN.md §4). One database per node, one column family
// per Cf, bloom filters on every family (the duplicate check and proof reads are point lookups),
// compression on (LZ4; optionally ZSTD at the bottom level). Every rocksdb::Status
// is translated to an hc::Status here; no RocksDB type leaks out of this file's implementation.
//
// Thread-safety: all reads and writes are safe from several threads at once (RocksDB's own
// guarantee). In a node the executor (the ledger) and the driver (the consensus store) write at
// the same time, and the verify workers read; RocksDB groups concurrent writes into one.
#pragma once

#include <memory>
#include <string>

#include "ledger/kv.h"

namespace hc::ledger {

struct RocksOptions {
  bool create_if_missing = true;
  // Bits per key of the bloom filters (10 gives about 1 % false positives).
  int bloom_bits_per_key = 10;
  // The shared block cache.
  size_t block_cache_bytes = 256 << 20;
  // Memtable size per column family before a flush.
  size_t write_buffer_bytes = 32 << 20;
  // The write-ahead log's total size before the column families it holds are flushed.
  uint64_t max_wal_bytes = 256ull << 20;
  // ZSTD instead of LZ4 for the bottommost level (when the library has it): ≈ 5 % less disk, but
  // 1.4 × RocksDB's background CPU on a grown database (docs/performance.md "Session 11"). Files
  // of either kind are read whatever the setting.
  bool zstd_bottom = false;
  // Compactions run at the lowest CPU priority (nice 19), so that foreground work — admission,
  // consensus, execution, the API — goes first when the cores are busy and a compaction spreads
  // over the idle time instead of stalling commits for a second (docs/performance.md "Session
  // 19"). Flushes keep the normal priority: a flush that falls behind stops writes. RocksDB's
  // compaction pool is the process's, so this holds for every store the process opens.
  bool low_priority_compaction = false;
};

class RocksKvStore final : public KvStore {
 public:
  // Opens (or creates) the database in directory `path` with all nine column families. An
  // existing database with other column families, or one RocksDB finds corrupt, is refused.
  static Result<std::unique_ptr<RocksKvStore>> Open(const std::string& path,
                                                    const RocksOptions& options = {});
  ~RocksKvStore() override;

  Status Get(Cf cf, std::string_view key, std::string* value) const override;
  // One rocksdb::DB::MultiGet (lookups batched per file).
  Status GetMany(Cf cf, const std::vector<std::string_view>& keys,
                 std::vector<std::optional<std::string>>* values) const override;
  Status Scan(Cf cf, std::string_view start, std::string_view end,
              const KvScanFn& fn) const override;
  Status SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                        std::string* value) const override;
  Status Write(const KvBatch& batch, bool sync) override;

  // Flushes every memtable to SST files (tests that corrupt files; operators before a backup).
  Status Flush();
  // Writes a consistent copy of the whole database (every column family as of one instant: each
  // Write is in it entirely or not at all) to `dir`, which must not exist; its parent must. The
  // memtables are flushed first; SST files are hard-linked when `dir` is on the same filesystem
  // and copied otherwise. The copy is a closed database that Open reads. Safe while other threads
  // read and write.
  Status Checkpoint(const std::string& dir);
  // Bytes on disk of the table (SST) files and of the write-ahead log files.
  struct DiskUsage {
    uint64_t table_bytes = 0;
    uint64_t log_bytes = 0;
  };
  Result<DiskUsage> DiskBytes() const;
  // Approximate bytes on disk of all SST and WAL files.
  Result<uint64_t> DiskUsageBytes() const;
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  explicit RocksKvStore(std::unique_ptr<Impl> impl, std::string path);
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace hc::ledger

#include "ledger/rocks_store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <vector>

#include "ledger/codec.h"

namespace hc::ledger {
namespace {

// rocksdb::Status -> hc::Status, at the ledger boundary (STYLE.md "Errors").
Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return NotFound(std::move(msg));
  if (s.IsCorruption()) return Corruption(std::move(msg));
  if (s.IsIOError()) return IoError(std::move(msg));
  if (s.IsInvalidArgument()) return InvalidArgument(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Unavailable(std::move(msg));
  return Internal(std::move(msg));
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

bool Supported(rocksdb::CompressionType t) {
  const auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), t) != all.end();
}

}  // namespace

struct RocksKvStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by Cf

  ~Impl() {
    for (auto* h : handles) {
      if (h != nullptr && db) db->DestroyColumnFamilyHandle(h);
    }
    if (db) db->Close().PermitUncheckedError();
  }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[static_cast<size_t>(c)]; }
};

RocksKvStore::RocksKvStore(std::unique_ptr<Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

RocksKvStore::~RocksKvStore() = default;

Result<std::unique_ptr<RocksKvStore>> RocksKvStore::Open(const std::string& path,
                                                         const RocksOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.paranoid_checks = true;
  // A torn last WAL record (a crash mid-write) is dropped; anything worse is refused.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  // Without a bound, a column family written rarely (certificates of a quiet chain, payloads)
  // keeps alive every log file since its last flush: after four minutes of load two-thirds of a
  // validator's data directory was log (docs/performance.md "Session 10").
  db_options.max_total_wal_size = options.max_wal_bytes;

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::shared_ptr<const rocksdb::FilterPolicy> bloom(
      rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key));
  const bool lz4 = Supported(rocksdb::kLZ4Compression);
  const bool zstd = Supported(rocksdb::kZSTD);
  const bool snappy = Supported(rocksdb::kSnappyCompression);

  auto impl = std::make_unique<Impl>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cf_options;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    table.filter_policy = bloom;
    table.whole_key_filtering = true;
    table.cache_index_and_filter_blocks = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    // Partitioned index and filters (4 KiB partitions under a small top-level index pinned in
    // the cache) and no index compression: a point read of a large SST file then loads one
    // small partition on a cache miss, not the file's whole index. With whole, compressed
    // indexes, a database past ≈ 1 GB spent half of block execution decompressing (ZSTD)
    // index blocks the cache had evicted, and the cluster's rate fell to a quarter
    // (docs/performance.md "Session 9").
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.partition_filters = true;
    table.metadata_block_size = 4096;
    table.pin_top_level_index_and_filter = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.enable_index_compression = false;
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf_options.write_buffer_size = options.write_buffer_bytes;
    // Most reads are point lookups that miss (the tx-id replay check, first-time ids): a bloom
    // filter on the memtable too lets them skip the skiplist search (sized by the ratio; no
    // family has a prefix extractor since state format 3, so it holds whole keys only).
    cf_options.memtable_whole_key_filtering = true;
    cf_options.memtable_prefix_bloom_size_ratio = 0.05;
    cf_options.compression = lz4 ? rocksdb::kLZ4Compression
                                 : (snappy ? rocksdb::kSnappyCompression : rocksdb::kNoCompression);
    if (zstd && options.zstd_bottom) cf_options.bottommost_compression = rocksdb::kZSTD;
    // RocksDB's "default" family holds nothing of ours; every Cf is a named family.
    descriptors.emplace_back(std::string(kCfNames[i]), cf_options);
  }
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

  // Refuse a database whose column families are not ours (a wrong --data directory).
  std::error_code exists_ec;
  if (std::filesystem::exists(std::filesystem::path(path) / "CURRENT", exists_ec)) {
    std::vector<std::string> existing;
    HC_RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(db_options, path, &existing),
                                 "listing column families of " + path));
    for (const std::string& name : existing) {
      if (name == rocksdb::kDefaultColumnFamilyName) continue;
      if (std::find(kCfNames.begin(), kCfNames.end(), name) == kCfNames.end()) {
        return InvalidArgument(path + " holds column family '" + name +
                               "', which is not a Health Chain ledger's");
      }
    }
  }

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  HC_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw),
                               "opening RocksDB at " + path));
  impl->db.reset(raw);
  if (options.low_priority_compaction) {
    // Applied by each thread of the pool before its next job.
    HC_RETURN_IF_ERROR(FromRocks(db_options.env->LowerThreadPoolCPUPriority(
                                     rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow),
                                 "lowering the compaction threads' CPU priority"));
  }
  // The last handle is the default family's; keep only ours, in Cf order.
  impl->handles.assign(handles.begin(), handles.begin() + kCfCount);
  raw->DestroyColumnFamilyHandle(handles.back()).PermitUncheckedError();
  return std::unique_ptr<RocksKvStore>(new RocksKvStore(std::move(impl), path));
}

Status RocksKvStore::Get(Cf cf, std::string_view key, std::string* value) const {
  rocksdb::PinnableSlice out;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(cf), ToSlice(key), &out);
  if (s.IsNotFound()) return NotFound(std::string(CfName(cf)) + " key not found");
  HC_RETURN_IF_ERROR(FromRocks(s, "reading " + std::string(CfName(cf))));
  value->assign(out.data(), out.size());
  return Status::Ok();
}

Status RocksKvStore::GetMany(Cf cf, const std::vector<std::string_view>& keys,
                             std::vector<std::optional<std::string>>* values) const {
  values->assign(keys.size(), std::nullopt);
  if (keys.empty()) return Status::Ok();
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (std::string_view k : keys) slices.push_back(ToSlice(k));
  std::vector<rocksdb::PinnableSlice> out(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(rocksdb::ReadOptions(), impl_->cf(cf), keys.size(), slices.data(), out.data(),
                      statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    HC_RETURN_IF_ERROR(FromRocks(statuses[i], "reading " + std::string(CfName(cf))));
    (*values)[i].emplace(out[i].data(), out[i].size());
  }
  return Status::Ok();
}

Status RocksKvStore::Scan(Cf cf, std::string_view start, std::string_view end,
                          const KvScanFn& fn) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper = ToSlice(end);
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(cf)));
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    const rocksdb::Slice v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), "scanning " + std::string(CfName(cf)));
}

Status RocksKvStore::SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                                    std::string* value) const {
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(cf)));
  it->SeekForPrev(ToSlice(key));
  if (!it->Valid()) {
    HC_RETURN_IF_ERROR(FromRocks(it->status(), "seeking " + std::string(CfName(cf))));
    return NotFound(std::string(CfName(cf)) + ": no key at or before");
  }
  found_key->assign(it->key().data(), it->key().size());
  value->assign(it->value().data(), it->value().size());
  return Status::Ok();
}

Status RocksKvStore::Write(const KvBatch& batch, bool sync) {
  rocksdb::WriteBatch wb;
  for (const KvWrite& w : batch.writes) {
    rocksdb::Status s = w.value ? wb.Put(impl_->cf(w.cf), ToSlice(w.key), ToSlice(*w.value))
                                : wb.Delete(impl_->cf(w.cf), ToSlice(w.key));
    HC_RETURN_IF_ERROR(FromRocks(s, "building a write batch"));
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(impl_->db->Write(wo, &wb), "writing a batch to " + path_);
}

Status RocksKvStore::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(impl_->db->Flush(fo, impl_->handles), "flushing " + path_);
}

Status RocksKvStore::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  HC_RETURN_IF_ERROR(
      FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint of " + path_));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // RocksDB wants an absolute path.
  std::error_code ec;
  const std::string target = std::filesystem::absolute(dir, ec).string();
  if (ec) return IoError(dir + ": " + ec.message());
  return FromRocks(checkpoint->CreateCheckpoint(target),
                   "writing a checkpoint of " + path_ + " to " + target);
}

Result<RocksKvStore::DiskUsage> RocksKvStore::DiskBytes() const {
  std::error_code ec;
  DiskUsage usage;
  // The error_code forms throughout: std::filesystem throws otherwise.
  std::filesystem::directory_iterator it(path_, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    uint64_t* into = name.ends_with(".sst") || name.ends_with(".blob") ? &usage.table_bytes
                     : name.ends_with(".log")                          ? &usage.log_bytes
                                                                       : nullptr;
    if (into == nullptr) continue;
    std::error_code size_ec;
    const auto size = it->file_size(size_ec);
    if (!size_ec) *into += size;
  }
  if (ec) return IoError("listing " + path_ + ": " + ec.message());
  return usage;
}

Result<uint64_t> RocksKvStore::DiskUsageBytes() const {
  HC_ASSIGN_OR_RETURN(const DiskUsage usage, DiskBytes());
  return usage.table_bytes + usage.log_bytes;
}

}  // namespace hc::ledger

// The node's off-chain payload store (DESIGN.md §5): encrypted record payloads and the data keys
// wrapped for their readers, in the `payloads` column family. Node-local and never agreed state:
// two nodes may hold different payloads. Who may store or read what is the API's job
// (api/payload_service.h); this class only lays out the keys and keeps them consistent.
//
// Key layout (Cf::kPayloads; `id` is a record id, at most 64 bytes, preceded by its length byte):
//   "c" sha256(32)                        -> ciphertext (content-addressed)
//   "u" sha256(32) len8 id uploader(32)   -> ""  (a reference to the ciphertext from an upload)
//   "m" len8 id uploader(32)              -> sha256(32): what `uploader` uploaded for `id`
//   "k" len8 id recipient(32)             -> the data key wrapped for `recipient` (a sealed box)
// A ciphertext lives as long as some upload references it, so erasing one record never removes
// the bytes of another that happens to hold the same ciphertext.
//
// Thread-safety: every method may be called from any thread. Writes are serialised by a mutex
// (uploads and erasure read, then write reference entries) and synced.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "ledger/kv.h"

namespace hc::ledger {

class PayloadStore {
 public:
  // `store` (the node's KvStore; only Cf::kPayloads is touched) must outlive this object.
  explicit PayloadStore(KvStore& store) : store_(store) {}

  // Stores `ciphertext` (whose SHA-256 the caller computed as `sha256`) as what `uploader` (a
  // 32-byte key) uploaded for `record_id`, replacing that uploader's earlier upload for the record.
  Status PutCiphertext(std::string_view record_id, ByteView uploader, const Hash32& sha256,
                       std::string_view ciphertext);
  // The SHA-256 of what `uploader` uploaded for `record_id`: NotFound when nothing.
  Result<Hash32> UploadOf(std::string_view record_id, ByteView uploader) const;
  // The ciphertext with this SHA-256: NotFound (leaving *out unchanged) when not held.
  Status GetCiphertext(const Hash32& sha256, std::string* out) const;

  // Stores (or replaces) the data key of `record_id` wrapped for `recipient` (a 32-byte key).
  Status PutWrappedKey(std::string_view record_id, ByteView recipient, ByteView wrapped);
  // NotFound (leaving *out unchanged) when none is held for this recipient.
  Status GetWrappedKey(std::string_view record_id, ByteView recipient, std::string* out) const;

  // Deletes every upload of `record_id`, each ciphertext no other upload references, and every
  // wrapped key of the record, in one synced batch. Deleting a record with nothing stored is OK.
  Status DeleteRecord(std::string_view record_id);

  // Calls fn for each record id with an upload or a wrapped key held, ascending, once each, until
  // fn returns false.
  Status ForEachRecord(const std::function<bool(std::string_view record_id)>& fn) const;

 private:
  KvStore& store_;
  std::mutex mu_;
};

namespace payload_keys {
std::string Ciphertext(const Hash32& sha256);
std::string Reference(const Hash32& sha256, std::string_view record_id, ByteView uploader);
std::string UploadPrefix(std::string_view record_id);
std::string Upload(std::string_view record_id, ByteView uploader);
std::string WrappedKeyPrefix(std::string_view record_id);
std::string WrappedKey(std::string_view record_id, ByteView recipient);
}  // namespace payload_keys

}  // namespace hc::ledger

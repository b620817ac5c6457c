#include "ledger/payload_store.h"

#include <set>
#include <vector>

#include "common/assert.h"
#include "ledger/codec.h"

namespace hc::ledger {

namespace payload_keys {
namespace {

// "<tag>" len8 id: record ids are at most 64 bytes, so one length byte keeps prefixes unambiguous
// ("r1" never prefixes "r10").
std::string Tagged(char tag, std::string_view record_id) {
  HC_ASSERT_LE(record_id.size(), 255u);
  std::string k(1, tag);
  k.push_back(static_cast<char>(record_id.size()));
  k.append(record_id);
  return k;
}

}  // namespace

std::string Ciphertext(const Hash32& sha256) {
  std::string k(1, 'c');
  k.append(reinterpret_cast<const char*>(sha256.data()), sha256.size());
  return k;
}
std::string ReferencePrefix(const Hash32& sha256) {
  std::string k(1, 'u');
  k.append(reinterpret_cast<const char*>(sha256.data()), sha256.size());
  return k;
}
std::string Reference(const Hash32& sha256, std::string_view record_id, ByteView uploader) {
  std::string k = ReferencePrefix(sha256);
  k.push_back(static_cast<char>(record_id.size()));
  k.append(record_id);
  k.append(AsStringView(uploader));
  return k;
}
std::string UploadPrefix(std::string_view record_id) { return Tagged('m', record_id); }
std::string Upload(std::string_view record_id, ByteView uploader) {
  return UploadPrefix(record_id) + std::string(AsStringView(uploader));
}
std::string WrappedKeyPrefix(std::string_view record_id) { return Tagged('k', record_id); }
std::string WrappedKey(std::string_view record_id, ByteView recipient) {
  return WrappedKeyPrefix(record_id) + std::string(AsStringView(recipient));
}

}  // namespace payload_keys

namespace {

std::string_view HashView(const Hash32& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

// Whether any reference to `sha256` other than those in `dropping` remains.
Result<bool> OtherReferences(const KvReader& kv, const Hash32& sha256,
                             const std::set<std::string>& dropping) {
  std::string prefix(1, 'u');
  prefix.append(HashView(sha256));
  bool found = false;
  HC_RETURN_IF_ERROR(
      kv.ScanPrefix(Cf::kPayloads, prefix, [&](std::string_view k, std::string_view) {
        if (dropping.count(std::string(k)) == 0) {
          found = true;
          return false;
        }
        return true;
      }));
  return found;
}

}  // namespace

Status PayloadStore::PutCiphertext(std::string_view record_id, ByteView uploader,
                                   const Hash32& sha256, std::string_view ciphertext) {
  HC_ASSERT_EQ(uploader.size(), 32u);
  std::lock_guard<std::mutex> lock(mu_);
  KvBatch batch;
  // Replacing an earlier upload by the same uploader: drop its reference, and its ciphertext when
  // nothing else references it.
  Result<Hash32> previous = UploadOf(record_id, uploader);
  if (!previous.ok() && previous.status().code() != StatusCode::kNotFound) {
    return previous.status();
  }
  if (previous.ok() && *previous != sha256) {
    const std::string ref = payload_keys::Reference(*previous, record_id, uploader);
    batch.Delete(Cf::kPayloads, ref);
    HC_ASSIGN_OR_RETURN(bool others, OtherReferences(store_, *previous, {ref}));
    if (!others) batch.Delete(Cf::kPayloads, payload_keys::Ciphertext(*previous));
  }
  batch.Put(Cf::kPayloads, payload_keys::Ciphertext(sha256), std::string(ciphertext));
  batch.Put(Cf::kPayloads, payload_keys::Reference(sha256, record_id, uploader), "");
  batch.Put(Cf::kPayloads, payload_keys::Upload(record_id, uploader),
            std::string(HashView(sha256)));
  return store_.Write(batch, /*sync=*/true);
}

Result<Hash32> PayloadStore::UploadOf(std::string_view record_id, ByteView uploader) const {
  std::string v;
  HC_RETURN_IF_ERROR(store_.Get(Cf::kPayloads, payload_keys::Upload(record_id, uploader), &v));
  if (v.size() != 32) {
    return Corruption(DescribeKey(Cf::kPayloads, payload_keys::Upload(record_id, uploader)) +
                      ": not a SHA-256");
  }
  return ToHash32(AsBytes(v));
}

Status PayloadStore::GetCiphertext(const Hash32& sha256, std::string* out) const {
  return store_.Get(Cf::kPayloads, payload_keys::Ciphertext(sha256), out);
}

Status PayloadStore::PutWrappedKey(std::string_view record_id, ByteView recipient,
                                   ByteView wrapped) {
  HC_ASSERT_EQ(recipient.size(), 32u);
  std::lock_guard<std::mutex> lock(mu_);
  KvBatch batch;
  batch.Put(Cf::kPayloads, payload_keys::WrappedKey(record_id, recipient),
            std::string(AsStringView(wrapped)));
  return store_.Write(batch, /*sync=*/true);
}

Status PayloadStore::GetWrappedKey(std::string_view record_id, ByteView recipient,
                                   std::string* out) const {
  return store_.Get(Cf::kPayloads, payload_keys::WrappedKey(record_id, recipient), out);
}

Status PayloadStore::DeleteRecord(std::string_view record_id) {
  std::lock_guard<std::mutex> lock(mu_);
  KvBatch batch;
  std::vector<std::pair<std::string, Hash32>> uploads;  // (upload key, sha)
  const std::string upload_prefix = payload_keys::UploadPrefix(record_id);
  Status corrupt;
  HC_RETURN_IF_ERROR(
      store_.ScanPrefix(Cf::kPayloads, upload_prefix, [&](std::string_view k, std::string_view v) {
        if (v.size() != 32) {
          corrupt = Corruption(DescribeKey(Cf::kPayloads, k) + ": not a SHA-256");
          return false;
        }
        uploads.emplace_back(std::string(k), ToHash32(AsBytes(v)));
        return true;
      }));
  HC_RETURN_IF_ERROR(corrupt);
  std::set<std::string> dropping;
  for (const auto& [key, sha] : uploads) {
    const std::string uploader = key.substr(upload_prefix.size());
    const std::string ref = payload_keys::Reference(sha, record_id, AsBytes(uploader));
    dropping.insert(ref);
    batch.Delete(Cf::kPayloads, key);
    batch.Delete(Cf::kPayloads, ref);
  }
  for (const auto& [key, sha] : uploads) {
    HC_ASSIGN_OR_RETURN(bool others, OtherReferences(store_, sha, dropping));
    if (!others) batch.Delete(Cf::kPayloads, payload_keys::Ciphertext(sha));
  }
  HC_RETURN_IF_ERROR(store_.ScanPrefix(Cf::kPayloads, payload_keys::WrappedKeyPrefix(record_id),
                                       [&](std::string_view k, std::string_view) {
                                         batch.Delete(Cf::kPayloads, std::string(k));
                                         return true;
                                       }));
  if (batch.writes.empty()) return Status::Ok();
  return store_.Write(batch, /*sync=*/true);
}

Status PayloadStore::ForEachRecord(const std::function<bool(std::string_view)>& fn) const {
  std::set<std::string> ids;
  for (char tag : {'k', 'm'}) {
    HC_RETURN_IF_ERROR(store_.ScanPrefix(Cf::kPayloads, std::string(1, tag),
                                         [&](std::string_view k, std::string_view) {
                                           if (k.size() < 2) return true;
                                           const size_t n = static_cast<uint8_t>(k[1]);
                                           if (k.size() >= 2 + n) ids.emplace(k.substr(2, n));
                                           return true;
                                         }));
  }
  for (const std::string& id : ids) {
    if (!fn(id)) break;
  }
  return Status::Ok();
}

}  // namespace hc::ledger

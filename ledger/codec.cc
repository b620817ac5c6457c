#include "ledger/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/merkle.h"

namespace hc::ledger {

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t GetU64(std::string_view in, size_t pos) {
  HC_ASSERT_LE(pos + 8, in.size());
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[pos + i]);
  return v;
}

uint32_t GetU32(std::string_view in, size_t pos) {
  HC_ASSERT_LE(pos + 4, in.size());
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[pos + i]);
  return v;
}

namespace keys {
namespace {

std::string Tagged(char tag, std::string_view rest) {
  std::string k;
  k.reserve(1 + rest.size());
  k.push_back(tag);
  k.append(rest);
  return k;
}

std::string TaggedU64(char tag, uint64_t v) {
  std::string k(1, tag);
  PutU64(&k, v);
  return k;
}

}  // namespace

std::string Block(uint64_t height) { return TaggedU64('b', height); }
std::string BlockInfo(uint64_t height) { return TaggedU64('i', height); }

std::string Cert(uint64_t height) {
  std::string k;
  PutU64(&k, height);
  return k;
}

std::string TxIndexValue(uint64_t height, uint32_t index) {
  std::string v;
  PutU64(&v, height);
  PutU32(&v, index);
  return v;
}

std::string EntriesGroup(uint64_t first_entry) {
  std::string k;
  PutU64(&k, first_entry);
  return k;
}

std::string LogNode(uint32_t level, uint64_t index) {
  HC_ASSERT_LT(level, 255u);  // 0xff marks a leaf chunk
  std::string k(1, static_cast<char>(level));
  PutU64(&k, index);
  return k;
}

std::string LogLeafChunk(uint64_t chunk) {
  std::string k(1, '\xff');
  PutU64(&k, chunk);
  return k;
}

std::string Org(std::string_view key) { return Tagged(kOrgPrefix[0], key); }
std::string Patient(std::string_view key) { return Tagged('p', key); }
std::string Policy(std::string_view id) { return Tagged('y', id); }
std::string Consent(std::string_view id) { return Tagged('c', id); }
std::string Record(std::string_view id) { return Tagged('r', id); }
std::string Claim(std::string_view id) { return Tagged('l', id); }

std::string PairConsents(std::string_view patient, std::string_view grantee) {
  std::string k = Tagged(kPairConsentsPrefix[0], patient);
  k.append(grantee);
  return k;
}

std::optional<PairKey> ParsePairConsents(std::string_view key) {
  if (key.size() != kPairConsentsPrefix.size() + 2 * kKeyBytes ||
      !key.starts_with(kPairConsentsPrefix)) {
    return std::nullopt;
  }
  key.remove_prefix(kPairConsentsPrefix.size());
  return PairKey{key.substr(0, kKeyBytes), key.substr(kKeyBytes)};
}

std::string Fingerprint(const Hash32& fp) { return Tagged('f', AsStr(fp)); }
std::string PatientConsentPrefix(std::string_view patient) { return Tagged('c', patient); }

std::string PatientGranteePrefix(std::string_view patient, std::string_view grantee) {
  std::string k = Tagged('c', patient);
  k.append(grantee);
  return k;
}

std::string PatientConsent(std::string_view patient, std::string_view grantee,
                           std::string_view consent_id) {
  std::string k = PatientGranteePrefix(patient, grantee);
  k.append(consent_id);
  return k;
}

std::string AuditPrefix(std::string_view patient) { return Tagged('a', patient); }

std::string Audit(std::string_view patient, uint64_t entry) {
  std::string k = AuditPrefix(patient);
  PutU64(&k, entry);
  return k;
}

std::string Review(uint64_t entry) { return TaggedU64('b', entry); }

std::string RecordAccessPrefix(std::string_view record_id) {
  // Record ids are at most 64 bytes, so one length byte makes the prefix unambiguous.
  HC_ASSERT_LE(record_id.size(), 255u);
  std::string k(1, 'x');
  k.push_back(static_cast<char>(record_id.size()));
  k.append(record_id);
  return k;
}

std::string RecordAccess(std::string_view record_id, uint64_t entry) {
  std::string k = RecordAccessPrefix(record_id);
  PutU64(&k, entry);
  return k;
}

}  // namespace keys

std::string Serialize(const google::protobuf::MessageLite& m) {
  // Sized once: a StringOutputStream grows its string by doubling, several reallocations for a
  // message of a few hundred bytes, and the executor serialises several per tx.
  const size_t size = m.ByteSizeLong();
  std::string out(size, '\0');
  google::protobuf::io::ArrayOutputStream aos(out.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream cos(&aos);
  cos.SetSerializationDeterministic(true);
  m.SerializeWithCachedSizes(&cos);
  HC_ASSERT_MSG(!cos.HadError() && static_cast<size_t>(cos.ByteCount()) == size,
                "serialising a ledger-built message failed");
  return out;
}

Status ParseStored(std::string_view bytes, google::protobuf::MessageLite* m, Cf cf,
                   std::string_view key) {
  if (!m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Corruption(DescribeKey(cf, key) + ": stored " + m->GetTypeName() + " does not parse");
  }
  return Status::Ok();
}

std::string DescribeKey(Cf cf, std::string_view key) {
  std::string out(CfName(cf));
  out.push_back('/');
  // Keep a leading printable tag (e.g. "b", "tip") readable, hex the rest.
  size_t printable = 0;
  while (printable < key.size() && key[printable] >= 0x20 && key[printable] < 0x7f) ++printable;
  if (printable == key.size()) return out + std::string(key);
  const size_t tag = (cf == Cf::kBlocks || cf == Cf::kState || cf == Cf::kIndex) ? 1 : 0;
  const size_t keep = std::min(printable, tag);
  out.append(key.substr(0, keep));
  out.append(HexEncode(AsBytes(key.substr(keep))));
  return out;
}

namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

// Writes a length-delimited field's tag and length (not its bytes) at `p`; returns the end.
uint8_t* WriteLengthPrefix(int field, size_t length, uint8_t* p) {
  p = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), p);
  return CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(length), p);
}

// Writes a varint field, tag and value, at `p`; returns the end.
uint8_t* WriteVarintField(int field, uint64_t value, uint8_t* p) {
  p = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT), p);
  return CodedOutputStream::WriteVarint64ToArray(value, p);
}

std::string_view Written(const uint8_t* begin, const uint8_t* end) {
  return {reinterpret_cast<const char*>(begin), static_cast<size_t>(end - begin)};
}

// Emits the LogEntry encoding in four pieces: the tx field's tag and length, the tx bytes, the
// height and index fields with the receipt field's tag and length, the receipt bytes. The
// encoding is built once here for both its users (the bytes, and the leaf hash over them).
template <typename Sink>
void WriteLogEntry(std::string_view tx, uint64_t height, uint32_t index, std::string_view receipt,
                   Sink&& sink) {
  // Tags are one byte here; varints at most 10 bytes.
  uint8_t head[16];
  uint8_t* p = head;
  if (!tx.empty()) p = WriteLengthPrefix(pb::LogEntry::kTxFieldNumber, tx.size(), p);
  sink(Written(head, p));
  sink(tx);
  uint8_t mid[48];
  p = mid;
  if (height != 0) p = WriteVarintField(pb::LogEntry::kHeightFieldNumber, height, p);
  if (index != 0) p = WriteVarintField(pb::LogEntry::kIndexFieldNumber, index, p);
  // A message field is always present in a LogEntry (proto3 tracks submessage presence).
  p = WriteLengthPrefix(pb::LogEntry::kReceiptFieldNumber, receipt.size(), p);
  sink(Written(mid, p));
  sink(receipt);
}

}  // namespace

std::string EncodeLogEntry(std::string_view tx, uint64_t height, uint32_t index,
                           std::string_view receipt) {
  std::string out;
  out.reserve(tx.size() + receipt.size() + 32);
  WriteLogEntry(tx, height, index, receipt, [&](std::string_view piece) { out.append(piece); });
  return out;
}

std::string EncodeBlock(std::string_view header, const std::vector<std::string_view>& txs) {
  auto field_size = [](size_t n) {
    return 1 + CodedOutputStream::VarintSize32(static_cast<uint32_t>(n)) + n;
  };
  size_t size = 0;
  if (!header.empty()) size += field_size(header.size());
  for (std::string_view tx : txs) size += field_size(tx.size());
  std::string out(size, '\0');
  uint8_t* const begin = reinterpret_cast<uint8_t*>(out.data());
  uint8_t* p = begin;
  auto bytes_field = [&p](int field, std::string_view bytes) {
    p = WriteLengthPrefix(field, bytes.size(), p);
    p = CodedOutputStream::WriteRawToArray(bytes.data(), static_cast<int>(bytes.size()), p);
  };
  // Proto3 omits an empty singular field; repeated elements are always written.
  if (!header.empty()) bytes_field(pb::Block::kHeaderFieldNumber, header);
  for (std::string_view tx : txs) bytes_field(pb::Block::kTxsFieldNumber, tx);
  HC_ASSERT_EQ(static_cast<size_t>(p - begin), size);
  return out;
}

Hash32 LogEntryLeafHash(std::string_view tx, uint64_t height, uint32_t index,
                        std::string_view receipt) {
  thread_local crypto::Sha256Hasher hasher;
  hasher.UpdateByte(crypto::kLeafHashPrefix);
  WriteLogEntry(tx, height, index, receipt, [&](std::string_view piece) { hasher.Update(piece); });
  return hasher.Final();
}

}  // namespace hc::ledger

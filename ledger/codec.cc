#include "ledger/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>

#include "common/encoding.h"

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

std::string Org(std::string_view key) { return Tagged('o', key); }
std::string Patient(std::string_view key) { return Tagged('p', key); }
std::string Policy(std::string_view id) { return Tagged('y', id); }
std::string Consent(std::string_view id) { return Tagged('c', id); }
std::string Record(std::string_view id) { return Tagged('r', id); }
std::string Claim(std::string_view id) { return Tagged('l', id); }

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
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    const bool ok = m.SerializeToCodedStream(&cos);
    HC_ASSERT_MSG(ok, "serialising a ledger-built message failed");
  }
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

std::string EncodeLogEntry(std::string_view tx, uint64_t height, uint32_t index,
                           std::string_view receipt) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  std::string out;
  out.reserve(tx.size() + receipt.size() + 24);
  {
    google::protobuf::io::StringOutputStream sos(&out);
    CodedOutputStream cos(&sos);
    auto length_delimited = [&](uint32_t field, std::string_view bytes) {
      cos.WriteTag(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      cos.WriteVarint32(static_cast<uint32_t>(bytes.size()));
      cos.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
    };
    if (!tx.empty()) length_delimited(pb::LogEntry::kTxFieldNumber, tx);
    if (height != 0) {
      cos.WriteTag(WireFormatLite::MakeTag(pb::LogEntry::kHeightFieldNumber,
                                           WireFormatLite::WIRETYPE_VARINT));
      cos.WriteVarint64(height);
    }
    if (index != 0) {
      cos.WriteTag(WireFormatLite::MakeTag(pb::LogEntry::kIndexFieldNumber,
                                           WireFormatLite::WIRETYPE_VARINT));
      cos.WriteVarint32(index);
    }
    // A message field is always present in a LogEntry (proto3 tracks submessage presence).
    length_delimited(pb::LogEntry::kReceiptFieldNumber, receipt);
  }
  return out;
}

}  // namespace hc::ledger

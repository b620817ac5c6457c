// Key layout of every column family, fixed-width integer codecs, and the ledger's serialisation
// helpers. Integers in keys are big-endian so that keys order numerically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "healthchain/v1/block.pb.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/kv.h"
#include "ledger/limits.h"
#include "ledger_state.pb.h"

namespace hc::ledger {

namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

// ---- Integers ----
void PutU64(std::string* out, uint64_t v);
void PutU32(std::string* out, uint32_t v);
// Reads a big-endian integer at `pos`; the caller has checked the size.
uint64_t GetU64(std::string_view in, size_t pos = 0);
uint32_t GetU32(std::string_view in, size_t pos = 0);

inline std::string_view AsStr(ByteView b) { return AsStringView(b); }
inline std::string_view AsStr(const Hash32& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

// ---- Keys ----
namespace keys {

// blocks CF
std::string Block(uint64_t height);                      // "b" u64 -> Block bytes as committed
std::string BlockInfo(uint64_t height);                  // "i" u64 -> lpb::BlockInfo
inline constexpr std::string_view kTip = "tip";          // -> lpb::ChainTip
inline constexpr std::string_view kGenesis = "genesis";  // -> lpb::GenesisRecord
// certs CF
std::string Cert(uint64_t height);  // u64 -> CommitCertificate bytes
// tx_index CF: tx_id -> u64 height, u32 index
std::string TxIndexValue(uint64_t height, uint32_t index);
// entries CF: u64 first log index of a block -> lpb::BlockReceipts
std::string EntriesGroup(uint64_t first_entry);
// log_nodes CF: u8 level, u64 index -> 32-byte hash (levels >= 4, ledger/log_store.h);
// 0xff, u64 chunk -> up to 16 leaf hashes
std::string LogNode(uint32_t level, uint64_t index);
std::string LogLeafChunk(uint64_t chunk);

// state CF
std::string Org(std::string_view key);               // "o" key32 -> lpb::OrgState
inline constexpr std::string_view kOrgPrefix = "o";  // every Org key starts with it
std::string Patient(std::string_view key);           // "p" key32 -> lpb::PatientState
std::string Policy(std::string_view id);             // "y" id -> lpb::PolicyState
std::string Consent(std::string_view id);            // "c" id -> lpb::ConsentState
std::string Record(std::string_view id);             // "r" id -> lpb::RecordState
std::string Claim(std::string_view id);              // "l" id -> lpb::ClaimState
std::string PairConsents(std::string_view patient,
                         std::string_view grantee);  // "g" patient grantee -> lpb::ConsentIds
inline constexpr std::string_view kPairConsentsPrefix = "g";
// The patient and grantee a PairConsents key names (views into `key`); nullopt for any other key.
struct PairKey {
  std::string_view patient;
  std::string_view grantee;
};
std::optional<PairKey> ParsePairConsents(std::string_view key);
inline constexpr std::string_view kEntryCount = "m/entries";  // -> u64: log entries so far
// The state family's layout (ledger/ledger.h, Ledger::Open): "2" since the consent pairs ("g"),
// "3" since they are the only list of a patient's consents (no index "c" keys).
inline constexpr std::string_view kStateFormat = "m/format";
inline constexpr int kStateFormatCurrent = 3;  // stored as its decimal digits

// index CF
std::string Fingerprint(const Hash32& fp);  // "f" fp -> claim id
// The consent index of state formats 1 and 2: "c" patient grantee id -> "". Format 3 writes no
// such key (the upgrade removes them); its layout also names a page of a patient's consents (the
// patient-consents query's cursor).
std::string PatientConsentPrefix(std::string_view patient);  // "c" patient
std::string PatientGranteePrefix(std::string_view patient, std::string_view grantee);
// The size of a PatientGranteePrefix of two keys ("c" key32 key32), the run of one pair's consent
// keys that state format 1 scanned per access and the upgrade to format 3 reads.
inline constexpr size_t kPatientGranteePrefixBytes = 1 + 2 * kKeyBytes;
std::string PatientConsent(std::string_view patient, std::string_view grantee,
                           std::string_view consent_id);      // "c" patient grantee id
std::string AuditPrefix(std::string_view patient);            // "a" patient
std::string Audit(std::string_view patient, uint64_t entry);  // -> lpb::AuditEvent
inline constexpr std::string_view kReviewPrefix = "b";
std::string Review(uint64_t entry);                          // "b" entry -> lpb::AuditEvent
std::string RecordAccessPrefix(std::string_view record_id);  // "x" len8 id
std::string RecordAccess(std::string_view record_id, uint64_t entry);  // -> "" (granted uses)

}  // namespace keys

// ---- Messages ----

// Deterministic serialisation (same binary, same bytes). Aborts only if protobuf cannot serialise
// a message we built ourselves, which is a bug.
std::string Serialize(const google::protobuf::MessageLite& m);

// Parses bytes read from the store; a failure is Corruption naming the column family and key.
Status ParseStored(std::string_view bytes, google::protobuf::MessageLite* m, Cf cf,
                   std::string_view key);

// Printable form of a binary key for error messages: "<cf>/<hex of key>" (ASCII prefixes kept).
std::string DescribeKey(Cf cf, std::string_view key);

// The exact bytes of a log entry (DESIGN.md §2, the Merkle leaf input): the protobuf encoding of
// LogEntry{tx, height, index, receipt} written field by field in field-number order, zero-valued
// scalars omitted, as proto3 specifies. It is the only producer of entry bytes, so an entry is
// always reconstructible from its tx bytes, position and stored receipt bytes.
std::string EncodeLogEntry(std::string_view tx, uint64_t height, uint32_t index,
                           std::string_view receipt);
// The bytes of pb::Block{header, txs} as protobuf writes them (the stored block), without copying
// the txs into a message first.
std::string EncodeBlock(std::string_view header, const std::vector<std::string_view>& txs);

// LeafHash(EncodeLogEntry(...)) without building the entry: the executor hashes every tx's entry.
Hash32 LogEntryLeafHash(std::string_view tx, uint64_t height, uint32_t index,
                        std::string_view receipt);

}  // namespace hc::ledger

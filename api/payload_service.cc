#include "api/payload_service.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/encoding.h"
#include "crypto/box.h"
#include "crypto/hash.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger_state.pb.h"

namespace hc::api {
namespace {

namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;
using ledger::Cf;

// The one answer for "you may not have this" (P3): it names nothing about the record.
Problem Refused() {
  return Problem(ProblemCode::kForbidden,
                 "no committed, granted access of yours to this record's payload");
}

std::string KeyStr(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

bool ValidRecordId(std::string_view id) {
  if (id.empty() || id.size() > ledger::kIdMaxChars) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Problem BadRecordId() {
  return Problem(ProblemCode::kBadRequest,
                 "record_id must be 1..64 printable ASCII characters without spaces");
}

// What the rules need of the ledger about one record and one caller, read under one shared lock.
struct RecordFacts {
  Status status;  // a store failure
  std::optional<lpb::RecordState> record;
  std::string guardian_key;        // of the record's patient, when any
  bool caller_is_party = false;    // the patient, the guardian or the anchoring hospital
  bool caller_is_patient = false;  // the patient or the guardian
  bool caller_granted = false;     // the caller's latest access attempt is OK (P3)
  bool caller_active_hospital = false;
  bool recipient_known = false;  // see `recipient` below
};

template <typename M>
Result<std::optional<M>> Load(const ledger::KvReader& kv, Cf cf, const std::string& key) {
  std::string bytes;
  Status s = kv.Get(cf, key, &bytes);
  if (s.code() == StatusCode::kNotFound) return std::optional<M>();
  HC_RETURN_IF_ERROR(s);
  M m;
  HC_RETURN_IF_ERROR(ledger::ParseStored(bytes, &m, cf, key));
  return std::optional<M>(std::move(m));
}

Status ReadFacts(const ledger::Ledger& l, std::string_view record_id, const std::string& caller,
                 const std::string* recipient, RecordFacts* f) {
  const ledger::KvReader& kv = l.reader();
  HC_ASSIGN_OR_RETURN(auto org, Load<lpb::OrgState>(kv, Cf::kState, ledger::keys::Org(caller)));
  f->caller_active_hospital = org && !org->suspended() && org->role() == pb::ORG_ROLE_HOSPITAL;
  HC_ASSIGN_OR_RETURN(f->record,
                      Load<lpb::RecordState>(kv, Cf::kState, ledger::keys::Record(record_id)));
  if (!f->record) return Status::Ok();
  const lpb::RecordState& r = *f->record;
  HC_ASSIGN_OR_RETURN(auto patient, Load<lpb::PatientState>(
                                        kv, Cf::kState, ledger::keys::Patient(r.patient_key())));
  if (patient) f->guardian_key = patient->guardian_key();
  f->caller_is_patient =
      caller == r.patient_key() || (!f->guardian_key.empty() && caller == f->guardian_key);
  f->caller_is_party = f->caller_is_patient || caller == r.hospital_key();
  if (recipient != nullptr) {
    if (*recipient == r.patient_key() ||
        (!f->guardian_key.empty() && *recipient == f->guardian_key)) {
      f->recipient_known = true;
    } else {
      HC_ASSIGN_OR_RETURN(auto ro,
                          Load<lpb::OrgState>(kv, Cf::kState, ledger::keys::Org(*recipient)));
      f->recipient_known = ro.has_value();
    }
  }
  if (f->caller_is_party) return Status::Ok();
  // P3: the caller's most recent AccessRecord / BreakGlass on this record decides. The patient's
  // audit trail holds every attempt (granted or not) in log order.
  std::optional<bool> latest;
  Status parse;
  HC_RETURN_IF_ERROR(kv.ScanPrefix(Cf::kIndex, ledger::keys::AuditPrefix(r.patient_key()),
                                   [&](std::string_view k, std::string_view v) {
                                     lpb::AuditEvent e;
                                     if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                                       parse = Corruption(ledger::DescribeKey(Cf::kIndex, k) +
                                                          ": not an AuditEvent");
                                       return false;
                                     }
                                     if ((e.kind() == lpb::AuditEvent::KIND_ACCESS ||
                                          e.kind() == lpb::AuditEvent::KIND_BREAK_GLASS) &&
                                         e.record_id() == record_id && e.actor_key() == caller) {
                                       latest = e.status() == pb::TX_STATUS_OK;
                                     }
                                     return true;
                                   }));
  HC_RETURN_IF_ERROR(parse);
  f->caller_granted = latest.value_or(false);
  return Status::Ok();
}

RecordFacts Facts(const LedgerView& view, std::string_view record_id, const std::string& caller,
                  const std::string* recipient = nullptr) {
  RecordFacts f;
  view.Read(
      [&](const ledger::Ledger& l) { f.status = ReadFacts(l, record_id, caller, recipient, &f); });
  return f;
}

Problem StoreProblem(const Status& s) {
  spdlog::error("payload store: {}", s.ToString());
  return ProblemFromStatus(s);
}

}  // namespace

PayloadService::PayloadService(std::shared_ptr<LedgerView> view)
    : view_(std::move(view)), store_(view_->payload_store()) {}

ProblemOr<PayloadUploaded> PayloadService::PutCiphertext(const Caller& caller,
                                                         std::string_view record_id,
                                                         std::string_view body) {
  if (!ValidRecordId(record_id)) return BadRecordId();
  if (body.empty()) return Problem(ProblemCode::kBadRequest, "the body (the ciphertext) is empty");
  if (body.size() > kPayloadBytesMax) {
    return Problem(ProblemCode::kBodyTooLarge, "a payload is at most 64 MiB");
  }
  const std::string me = KeyStr(caller.key);
  RecordFacts f = Facts(*view_, record_id, me);
  if (!f.status.ok()) return StoreProblem(f.status);
  const Hash32 sha = crypto::Sha256(AsBytes(body));
  PayloadUploaded out;
  out.sha256 = sha;
  if (f.record) {
    if (f.record->hospital_key() != me) {
      return Problem(ProblemCode::kForbidden,
                     "only the hospital that anchored the record may upload its payload");
    }
    if (f.record->erased()) {
      return Problem(ProblemCode::kConflict, "the record was erased; it takes no payload");
    }
    if (f.record->ciphertext_sha256() != AsStringView(ByteView(sha.data(), sha.size()))) {
      return Problem(ProblemCode::kConflict,
                     "the SHA-256 of the body (" + HexEncode(sha) +
                         ") does not match the anchored ciphertext_sha256 (" +
                         HexEncode(AsBytes(f.record->ciphertext_sha256())) + ")");
    }
  } else {
    if (!f.caller_active_hospital) {
      return Problem(ProblemCode::kForbidden,
                     "only an active hospital may upload the payload of a record it is about to "
                     "anchor");
    }
    out.pending = true;
  }
  if (Status s = store_.PutCiphertext(record_id, AsBytes(me), sha, body); !s.ok()) {
    return StoreProblem(s);
  }
  return out;
}

ProblemOr<Done> PayloadService::PutWrappedKey(const Caller& caller, std::string_view record_id,
                                              std::string_view recipient_hex,
                                              std::string_view body) {
  if (!ValidRecordId(record_id)) return BadRecordId();
  Result<Bytes> recipient = HexDecode(recipient_hex);
  if (!recipient.ok() || recipient->size() != 32) {
    return Problem(ProblemCode::kBadRequest,
                   "recipient must be an Ed25519 public key as 64 hex digits");
  }
  if (body.size() != crypto::kWrappedKeySize) {
    return Problem(ProblemCode::kBadRequest, "a wrapped key is one sealed box of " +
                                                 std::to_string(crypto::kWrappedKeySize) +
                                                 " bytes, got " + std::to_string(body.size()));
  }
  const std::string me = KeyStr(caller.key);
  const std::string to = ToString(*recipient);
  RecordFacts f = Facts(*view_, record_id, me, &to);
  if (!f.status.ok()) return StoreProblem(f.status);
  // Unknown record and "not yours" give one answer, like P3.
  if (!f.record || !f.caller_is_party) {
    return Problem(ProblemCode::kForbidden,
                   "only the anchoring hospital or the patient may store wrapped keys of an "
                   "anchored record");
  }
  if (f.record->erased()) {
    return Problem(ProblemCode::kConflict, "the record was erased; it takes no keys");
  }
  if (!f.recipient_known) {
    return Problem(ProblemCode::kBadRequest,
                   "the recipient is not the record's patient, their guardian or a registered org");
  }
  if (Status s = store_.PutWrappedKey(record_id, *recipient, AsBytes(body)); !s.ok()) {
    return StoreProblem(s);
  }
  return Done{};
}

ProblemOr<PayloadDownload> PayloadService::Get(const Caller& caller, std::string_view record_id) {
  if (!ValidRecordId(record_id)) return BadRecordId();
  const std::string me = KeyStr(caller.key);
  RecordFacts f = Facts(*view_, record_id, me);
  if (!f.status.ok()) return StoreProblem(f.status);
  // Decided from the ledger alone: nothing below runs for a caller without a right to the record.
  if (!f.record || !(f.caller_is_party || f.caller_granted)) return Refused();
  const lpb::RecordState& r = *f.record;
  if (r.erased()) {
    // Catch up with an erasure this node missed (P4), then answer as the rules say.
    if (Status s = store_.DeleteRecord(record_id); !s.ok()) StoreProblem(s);
    if (!f.caller_is_party) return Refused();
    return Problem(ProblemCode::kNotFound, "the record was erased at height " +
                                               std::to_string(r.erased_height()) +
                                               "; its payload and keys were deleted");
  }
  const Problem not_held(ProblemCode::kNotFound, "this node holds no payload for the record");
  Result<Hash32> uploaded = store_.UploadOf(record_id, AsBytes(r.hospital_key()));
  if (!uploaded.ok()) {
    if (uploaded.status().code() == StatusCode::kNotFound) return not_held;
    return StoreProblem(uploaded.status());
  }
  if (AsStringView(ByteView(uploaded->data(), uploaded->size())) != r.ciphertext_sha256()) {
    return not_held;  // the hospital uploaded something else than it anchored
  }
  PayloadDownload out;
  out.sha256 = *uploaded;
  if (Status s = store_.GetCiphertext(*uploaded, &out.ciphertext); !s.ok()) {
    if (s.code() == StatusCode::kNotFound) return not_held;
    return StoreProblem(s);
  }
  if (crypto::Sha256(AsBytes(out.ciphertext)) != *uploaded) {
    return StoreProblem(Corruption("payload of record '" + std::string(record_id) +
                                   "': stored ciphertext does not match its SHA-256"));
  }
  std::string wrapped;
  Status s = store_.GetWrappedKey(record_id, AsBytes(me), &wrapped);
  if (s.ok()) {
    out.wrapped_key = std::move(wrapped);
  } else if (s.code() != StatusCode::kNotFound) {
    return StoreProblem(s);
  }
  return out;
}

std::vector<std::string> ParseErasedRecords(const std::vector<Bytes>& txs,
                                            const std::vector<std::string>& receipts) {
  std::vector<std::string> out;
  for (size_t i = 0; i < txs.size() && i < receipts.size(); ++i) {
    pb::Receipt receipt;
    if (!receipt.ParseFromString(receipts[i]) || receipt.status() != pb::TX_STATUS_OK) continue;
    pb::SignedTx tx;
    pb::TxBody body;
    if (tx.ParseFromArray(txs[i].data(), static_cast<int>(txs[i].size())) &&
        body.ParseFromString(tx.body()) && body.has_erase_record()) {
      out.push_back(body.erase_record().record_id());
    }
  }
  return out;
}

void PayloadService::OnCommittedBlock(const CommittedBlockEvent& block) {
  for (const std::string& id : block.erased_records) {
    if (!ValidRecordId(id)) continue;
    if (Status s = store_.DeleteRecord(id); !s.ok()) {
      spdlog::error("payload store: erasing record '{}' at height {}: {}", id, block.height,
                    s.ToString());
    }
  }
}

Status PayloadService::SweepErased() {
  std::vector<std::string> ids;
  HC_RETURN_IF_ERROR(store_.ForEachRecord([&](std::string_view id) {
    ids.emplace_back(id);
    return true;
  }));
  for (const std::string& id : ids) {
    bool erased = false;
    Status read;
    view_->Read([&](const ledger::Ledger& l) {
      Result<std::optional<lpb::RecordState>> r =
          Load<lpb::RecordState>(l.reader(), Cf::kState, ledger::keys::Record(id));
      if (!r.ok()) {
        read = r.status();
      } else {
        erased = r->has_value() && (*r)->erased();
      }
    });
    HC_RETURN_IF_ERROR(read);
    if (erased) HC_RETURN_IF_ERROR(store_.DeleteRecord(id));
  }
  return Status::Ok();
}

}  // namespace hc::api

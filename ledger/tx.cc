#include "ledger/tx.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/limits.h"

namespace hc::ledger {
namespace {

namespace pb = ::healthchain::v1;

Status Bad(std::string_view rule, std::string what) {
  return InvalidArgument(std::string(rule) + ": " + std::move(what));
}

// R3 field checks. Each names the field at fault.
Status CheckKey(std::string_view field, const std::string& v) {
  if (v.size() != kKeyBytes) {
    return Bad("R3", std::string(field) + " must be 32 bytes, got " + std::to_string(v.size()));
  }
  return Status::Ok();
}

Status CheckOptionalKey(std::string_view field, const std::string& v) {
  if (v.empty()) return Status::Ok();
  return CheckKey(field, v);
}

Status CheckHash(std::string_view field, const std::string& v) {
  if (v.size() != kHashBytes) {
    return Bad("R3", std::string(field) + " must be a 32-byte SHA-256, got " +
                         std::to_string(v.size()) + " bytes");
  }
  return Status::Ok();
}

bool IsPrintableAscii(std::string_view s, bool allow_space) {
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return (c > 0x20 && c < 0x7f) || (allow_space && c == 0x20); });
}

// Identifiers (consent, record, claim, policy ids): 1..64 printable ASCII without spaces.
Status CheckId(std::string_view field, const std::string& v) {
  if (v.empty() || v.size() > kIdMaxChars || !IsPrintableAscii(v, /*allow_space=*/false)) {
    return Bad("R3",
               std::string(field) + " must be 1..64 printable ASCII characters without spaces");
  }
  return Status::Ok();
}

Status CheckOptionalId(std::string_view field, const std::string& v) {
  if (v.empty()) return Status::Ok();
  return CheckId(field, v);
}

// UTF-8 validity of proto3 strings is checked by the parser; here only the length.
Status CheckText(std::string_view field, const std::string& v, size_t min_bytes, size_t max_bytes) {
  if (v.size() < min_bytes || v.size() > max_bytes) {
    return Bad("R3", std::string(field) + " must be " + std::to_string(min_bytes) + ".." +
                         std::to_string(max_bytes) + " bytes, got " + std::to_string(v.size()));
  }
  return Status::Ok();
}

Status CheckPurpose(std::string_view field, int p) {
  if (!pb::Purpose_IsValid(p) || p == pb::PURPOSE_UNSPECIFIED) {
    return Bad("R3",
               std::string(field) + " must be a known purpose of use, got " + std::to_string(p));
  }
  return Status::Ok();
}

Status CheckCategory(std::string_view field, int c) {
  if (!pb::RecordCategory_IsValid(c) || c == pb::RECORD_CATEGORY_UNSPECIFIED) {
    return Bad("R3",
               std::string(field) + " must be a known record category, got " + std::to_string(c));
  }
  return Status::Ok();
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// YYYY-MM-DD, a real calendar date in years 1900..9999.
bool IsServiceDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  const int y = num(0, 4);
  const int m = num(5, 2);
  const int d = num(8, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || m < 1 || m > 12 || d < 1) return false;
  const int days = kDays[m - 1] + ((m == 2 && IsLeapYear(y)) ? 1 : 0);
  return d <= days;
}

Status ValidateRegisterOrg(const pb::RegisterOrg& p) {
  HC_RETURN_IF_ERROR(CheckKey("register_org.org_key", p.org_key()));
  HC_RETURN_IF_ERROR(CheckKey("register_org.encryption_key", p.encryption_key()));
  if (!pb::OrgRole_IsValid(p.role()) || p.role() == pb::ORG_ROLE_UNSPECIFIED) {
    return Bad("R3", "register_org.role must be COMMISSION, HOSPITAL or INSURER");
  }
  HC_RETURN_IF_ERROR(CheckText("register_org.name", p.name(), 1, kOrgNameMaxBytes));
  return CheckText("register_org.fhir_organization", p.fhir_organization(), 0,
                   kFhirOrganizationMaxBytes);
}

Status ValidateSuspendOrg(const pb::SuspendOrg& p) {
  HC_RETURN_IF_ERROR(CheckKey("suspend_org.org_key", p.org_key()));
  return CheckText("suspend_org.reason", p.reason(), 1, kSuspendReasonMaxBytes);
}

Status ValidateRegisterPolicy(const pb::RegisterPolicy& p) {
  HC_RETURN_IF_ERROR(CheckId("register_policy.policy_id", p.policy_id()));
  HC_RETURN_IF_ERROR(CheckText("register_policy.uri", p.uri(), 1, kPolicyUriMaxBytes));
  return CheckHash("register_policy.document_sha256", p.document_sha256());
}

Status ValidateEnrollPatient(const pb::EnrollPatient& p) {
  HC_RETURN_IF_ERROR(CheckKey("enroll_patient.patient_key", p.patient_key()));
  HC_RETURN_IF_ERROR(CheckKey("enroll_patient.encryption_key", p.encryption_key()));
  HC_RETURN_IF_ERROR(CheckOptionalKey("enroll_patient.guardian_key", p.guardian_key()));
  if (p.guardian_key() == p.patient_key()) {
    return Bad("R10", "a patient cannot be their own guardian");
  }
  return Status::Ok();
}

Status ValidateGrantConsent(const pb::GrantConsent& p) {
  HC_RETURN_IF_ERROR(CheckId("grant_consent.consent_id", p.consent_id()));
  HC_RETURN_IF_ERROR(CheckKey("grant_consent.patient_key", p.patient_key()));
  HC_RETURN_IF_ERROR(CheckKey("grant_consent.grantee_key", p.grantee_key()));
  if (p.purposes_size() < 1 || static_cast<size_t>(p.purposes_size()) > kConsentPurposesMax) {
    return Bad("R3", "grant_consent.purposes must hold 1..8 codes, got " +
                         std::to_string(p.purposes_size()));
  }
  std::set<int> purposes;
  for (int purpose : p.purposes()) {
    HC_RETURN_IF_ERROR(CheckPurpose("grant_consent.purposes", purpose));
    if (!purposes.insert(purpose).second) {
      return Bad("R3", "grant_consent.purposes lists " + pb::Purpose_Name(purpose) + " twice");
    }
  }
  const pb::ConsentScope& scope = p.scope();
  if (static_cast<size_t>(scope.categories_size()) > kScopeCategoriesMax) {
    return Bad("R3", "grant_consent.scope.categories holds more than 16 categories");
  }
  if (static_cast<size_t>(scope.record_ids_size()) > kScopeRecordIdsMax) {
    return Bad("R3", "grant_consent.scope.record_ids holds more than 256 record ids");
  }
  if (scope.categories_size() == 0 && scope.record_ids_size() == 0) {
    return Bad("R3", "grant_consent.scope must name at least one category or record id");
  }
  std::set<int> categories;
  for (int c : scope.categories()) {
    HC_RETURN_IF_ERROR(CheckCategory("grant_consent.scope.categories", c));
    if (!categories.insert(c).second) {
      return Bad("R3",
                 "grant_consent.scope.categories lists " + pb::RecordCategory_Name(c) + " twice");
    }
  }
  std::set<std::string_view> ids;
  for (const std::string& id : scope.record_ids()) {
    HC_RETURN_IF_ERROR(CheckId("grant_consent.scope.record_ids", id));
    if (!ids.insert(id).second) {
      return Bad("R3", "grant_consent.scope.record_ids lists " + id + " twice");
    }
  }
  if (p.valid_from_ms() < 0) return Bad("R3", "grant_consent.valid_from_ms must be >= 0");
  if (p.valid_until_ms() <= p.valid_from_ms()) {
    return Bad("R3", "grant_consent.valid_until_ms must be after valid_from_ms");
  }
  return CheckId("grant_consent.policy_id", p.policy_id());
}

Status ValidateRevokeConsent(const pb::RevokeConsent& p) {
  HC_RETURN_IF_ERROR(CheckId("revoke_consent.consent_id", p.consent_id()));
  return CheckText("revoke_consent.reason", p.reason(), 0, kRevokeReasonMaxBytes);
}

Status ValidateAnchorRecord(const pb::AnchorRecord& p) {
  HC_RETURN_IF_ERROR(CheckId("anchor_record.record_id", p.record_id()));
  HC_RETURN_IF_ERROR(CheckKey("anchor_record.patient_key", p.patient_key()));
  HC_RETURN_IF_ERROR(CheckCategory("anchor_record.category", p.category()));
  HC_RETURN_IF_ERROR(CheckHash("anchor_record.ciphertext_sha256", p.ciphertext_sha256()));
  if (p.ciphertext_size() < 1 || p.ciphertext_size() > kCiphertextMaxBytes) {
    return Bad("R3", "anchor_record.ciphertext_size must be 1..268435456 bytes");
  }
  HC_RETURN_IF_ERROR(
      CheckText("anchor_record.description", p.description(), 0, kRecordDescriptionMaxBytes));
  return CheckText("anchor_record.content_type", p.content_type(), 0, kContentTypeMaxBytes);
}

Status ValidateAccessRecord(const pb::AccessRecord& p) {
  HC_RETURN_IF_ERROR(CheckId("access_record.record_id", p.record_id()));
  HC_RETURN_IF_ERROR(CheckPurpose("access_record.purpose", p.purpose()));
  return CheckOptionalId("access_record.consent_id", p.consent_id());
}

Status ValidateBreakGlass(const pb::BreakGlass& p) {
  HC_RETURN_IF_ERROR(CheckId("break_glass.record_id", p.record_id()));
  if (p.purpose() != pb::PURPOSE_ETREAT) {
    return Bad("R16", "break-glass access requires purpose ETREAT (emergency treatment)");
  }
  if (p.justification().empty()) {
    return Bad("R16", "break-glass access requires a justification");
  }
  return CheckText("break_glass.justification", p.justification(), 1, kJustificationMaxBytes);
}

Status ValidateEraseRecord(const pb::EraseRecord& p) {
  HC_RETURN_IF_ERROR(CheckId("erase_record.record_id", p.record_id()));
  return CheckText("erase_record.reason", p.reason(), 0, kEraseReasonMaxBytes);
}

Status ValidateSubmitClaim(const pb::SubmitClaim& p) {
  HC_RETURN_IF_ERROR(CheckId("submit_claim.claim_id", p.claim_id()));
  HC_RETURN_IF_ERROR(CheckKey("submit_claim.patient_key", p.patient_key()));
  HC_RETURN_IF_ERROR(CheckKey("submit_claim.insurer_key", p.insurer_key()));
  if (!IsServiceDate(p.service_date())) {
    return Bad("R3", "submit_claim.service_date must be a calendar date YYYY-MM-DD");
  }
  if (p.items_size() < 1 || static_cast<size_t>(p.items_size()) > kClaimItemsMax) {
    return Bad("R3",
               "submit_claim.items must hold 1..64 items, got " + std::to_string(p.items_size()));
  }
  for (const pb::ClaimItem& item : p.items()) {
    if (item.code().empty() || item.code().size() > kClaimCodeMaxChars ||
        !IsPrintableAscii(item.code(), /*allow_space=*/false)) {
      return Bad("R3", "submit_claim.items.code must be 1..32 printable ASCII characters");
    }
    if (item.quantity() < 1 || item.quantity() > kItemQuantityMax) {
      return Bad("R3", "submit_claim.items.quantity must be 1..1000000");
    }
    if (item.unit_price_cents() < 0 || item.unit_price_cents() > kUnitPriceMaxCents) {
      return Bad("R3", "submit_claim.items.unit_price_cents must be 0..10000000000");
    }
  }
  if (p.invoice_number().empty() || p.invoice_number().size() > kInvoiceNumberMaxChars ||
      !IsPrintableAscii(p.invoice_number(), /*allow_space=*/true)) {
    return Bad("R3", "submit_claim.invoice_number must be 1..64 printable ASCII characters");
  }
  if (p.evidence_record_ids_size() < 1 ||
      static_cast<size_t>(p.evidence_record_ids_size()) > kClaimEvidenceMax) {
    return Bad("R3", "submit_claim.evidence_record_ids must hold 1..32 record ids");
  }
  std::set<std::string_view> ids;
  for (const std::string& id : p.evidence_record_ids()) {
    HC_RETURN_IF_ERROR(CheckId("submit_claim.evidence_record_ids", id));
    if (!ids.insert(id).second) {
      return Bad("R3", "submit_claim.evidence_record_ids lists " + id + " twice");
    }
  }
  const std::string& cur = p.currency();
  if (cur.size() != kCurrencyChars ||
      !std::all_of(cur.begin(), cur.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Bad("R3", "submit_claim.currency must be an ISO 4217 code such as EUR");
  }
  return Status::Ok();
}

Status ValidateAdjudicateClaim(const pb::AdjudicateClaim& p) {
  HC_RETURN_IF_ERROR(CheckId("adjudicate_claim.claim_id", p.claim_id()));
  if (!pb::ClaimDecision_IsValid(p.decision()) || p.decision() == pb::CLAIM_DECISION_UNSPECIFIED) {
    return Bad("R3", "adjudicate_claim.decision must be APPROVED, PARTIAL or REJECTED");
  }
  if (p.approved_cents() < 0) return Bad("R3", "adjudicate_claim.approved_cents must be >= 0");
  if (p.decision() == pb::CLAIM_DECISION_REJECTED && p.approved_cents() != 0) {
    return Bad("R20", "a REJECTED claim approves 0 cents");
  }
  if (p.decision() == pb::CLAIM_DECISION_PARTIAL && p.approved_cents() == 0) {
    return Bad("R20", "a PARTIAL approval approves more than 0 cents");
  }
  return CheckText("adjudicate_claim.note", p.note(), 0, kAdjudicationNoteMaxBytes);
}

// The SignedTx envelope a decode parses into. Parsing into a message that already holds strings
// reuses their buffers, so each thread keeps one: a node parses every tx's envelope several times
// (its id at admission, the decode, the block's txs root, the executor), and a fresh message costs
// two allocations each time. A nested use on the same thread (a verifier that decodes) gets a
// message of its own.
class EnvelopeLease {
 public:
  EnvelopeLease() {
    if (!in_use_) {
      in_use_ = true;
      msg_ = &thread_msg_;
    } else {
      own_.emplace();
      msg_ = &*own_;
    }
  }
  ~EnvelopeLease() {
    if (msg_ == &thread_msg_) in_use_ = false;
  }
  EnvelopeLease(const EnvelopeLease&) = delete;
  EnvelopeLease& operator=(const EnvelopeLease&) = delete;

  // Parses `bytes` (ParseFromArray clears the message first); false when they do not parse.
  bool Parse(ByteView bytes) {
    return bytes.size() <= kSignedTxMaxBytes &&
           msg_->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  }
  const pb::SignedTx* operator->() const { return msg_; }

 private:
  static thread_local pb::SignedTx thread_msg_;
  static thread_local bool in_use_;
  pb::SignedTx* msg_ = nullptr;
  std::optional<pb::SignedTx> own_;
};

thread_local pb::SignedTx EnvelopeLease::thread_msg_;
thread_local bool EnvelopeLease::in_use_ = false;

}  // namespace

Status ValidatePayload(const pb::TxBody& body) {
  switch (body.payload_case()) {
    case pb::TxBody::kRegisterOrg:
      return ValidateRegisterOrg(body.register_org());
    case pb::TxBody::kSuspendOrg:
      return ValidateSuspendOrg(body.suspend_org());
    case pb::TxBody::kEnrollPatient:
      return ValidateEnrollPatient(body.enroll_patient());
    case pb::TxBody::kRegisterPolicy:
      return ValidateRegisterPolicy(body.register_policy());
    case pb::TxBody::kGrantConsent:
      return ValidateGrantConsent(body.grant_consent());
    case pb::TxBody::kRevokeConsent:
      return ValidateRevokeConsent(body.revoke_consent());
    case pb::TxBody::kAnchorRecord:
      return ValidateAnchorRecord(body.anchor_record());
    case pb::TxBody::kAccessRecord:
      return ValidateAccessRecord(body.access_record());
    case pb::TxBody::kBreakGlass:
      return ValidateBreakGlass(body.break_glass());
    case pb::TxBody::kSubmitClaim:
      return ValidateSubmitClaim(body.submit_claim());
    case pb::TxBody::kAdjudicateClaim:
      return ValidateAdjudicateClaim(body.adjudicate_claim());
    case pb::TxBody::kEraseRecord:
      return ValidateEraseRecord(body.erase_record());
    case pb::TxBody::kUpdateValidators:
      return Bad("R21", "UpdateValidators is not supported in v1");
    case pb::TxBody::PAYLOAD_NOT_SET:
      return Bad("R3", "the tx carries no payload");
  }
  return Bad("R3", "unknown payload");
}

Result<DecodedTx> DecodeTx(ByteView signed_tx, std::string_view chain_id,
                           const crypto::Verifier& verifier) {
  // R1: the envelope.
  if (signed_tx.size() > kSignedTxMaxBytes) {
    return Bad("R1", "tx is " + std::to_string(signed_tx.size()) + " bytes, over the limit");
  }
  EnvelopeLease envelope;
  if (!envelope.Parse(signed_tx)) return Bad("R1", "tx bytes do not parse as a SignedTx");
  if (envelope->body().size() > kTxBodyMaxBytes) {
    return Bad("R1", "tx body is " + std::to_string(envelope->body().size()) +
                         " bytes, over the 64 KiB limit");
  }
  if (envelope->signature().size() != kSignatureBytes) {
    return Bad("R1",
               "signature must be 64 bytes, got " + std::to_string(envelope->signature().size()));
  }
  DecodedTx out;
  if (!out.body.ParseFromString(envelope->body())) {
    return Bad("R1", "tx body does not parse as a TxBody");
  }
  // R2: the chain.
  if (out.body.chain_id() != chain_id) {
    return Bad("R2", "tx is for chain '" + out.body.chain_id().substr(0, kChainIdMaxChars) +
                         "', this chain is '" + std::string(chain_id) + "'");
  }
  // R3: field bounds.
  HC_RETURN_IF_ERROR(CheckKey("signer", out.body.signer()));
  if (out.body.nonce().size() != kNonceBytes) {
    return Bad("R3", "nonce must be 16 bytes, got " + std::to_string(out.body.nonce().size()));
  }
  HC_RETURN_IF_ERROR(ValidatePayload(out.body));
  // R4: the signature over the exact body bytes (docs/spec/wire.md W1, W3).
  std::memcpy(out.signer.data(), out.body.signer().data(), kKeyBytes);
  const ByteView body_bytes = AsBytes(envelope->body());
  if (!verifier.Verify(out.signer, kTxSignDomain, body_bytes, AsBytes(envelope->signature()))) {
    return Unauthenticated("R4: signature does not verify under the signer's key");
  }
  out.tx_id = crypto::DomainHash(kTxIdDomain, body_bytes);
  return out;
}

Hash32 TxIdOf(ByteView signed_tx) {
  EnvelopeLease envelope;
  if (envelope.Parse(signed_tx)) return crypto::DomainHash(kTxIdDomain, AsBytes(envelope->body()));
  return crypto::DomainHash(kTxIdDomain, signed_tx);
}

std::string_view RuleOf(const Status& status) {
  std::string_view m = status.message();
  if (m.size() < 2 || m[0] != 'R') return {};
  size_t i = 1;
  while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
  if (i == 1 || i >= m.size() || m[i] != ':') return {};
  return m.substr(0, i);
}

std::string IdentityId(ByteView key) { return HexEncode(crypto::DomainHash(kIdentityDomain, key)); }

std::string SignTx(const pb::TxBody& body, const crypto::Signer& signer) {
  pb::SignedTx envelope;
  const bool ok = body.SerializeToString(envelope.mutable_body());
  HC_ASSERT_MSG(ok, "serialising a TxBody failed");
  const crypto::Ed25519Signature sig = signer.Sign(kTxSignDomain, AsBytes(envelope.body()));
  envelope.set_signature(sig.data(), sig.size());
  std::string out;
  const bool ok2 = envelope.SerializeToString(&out);
  HC_ASSERT_MSG(ok2, "serialising a SignedTx failed");
  return out;
}

}  // namespace hc::ledger

#include "ledger/state_machine.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/codec.h"
#include "ledger/limits.h"

namespace hc::ledger {
namespace {

constexpr std::string_view kClaimFingerprintDomain = "hc/claim-fp/v1";

std::string ComposeKey(Cf cf, std::string_view key) {
  std::string k;
  k.reserve(1 + key.size());
  k.push_back(static_cast<char>(cf));
  k.append(key);
  return k;
}

// A short printable form of a key for receipts: the first 8 bytes of its identity id.
std::string ShortId(std::string_view key) { return IdentityId(AsBytes(key)).substr(0, 16); }

std::string RoleName(pb::OrgRole role) {
  switch (role) {
    case pb::ORG_ROLE_COMMISSION:
      return "commission";
    case pb::ORG_ROLE_HOSPITAL:
      return "hospital";
    case pb::ORG_ROLE_INSURER:
      return "insurer";
    default:
      return "unspecified";
  }
}

std::string PurposeName(int p) {
  std::string name = pb::Purpose_Name(p);
  constexpr std::string_view kPrefix = "PURPOSE_";
  if (name.starts_with(kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

std::string CategoryName(int c) {
  std::string name = pb::RecordCategory_Name(c);
  constexpr std::string_view kPrefix = "RECORD_CATEGORY_";
  if (name.starts_with(kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

// The outcome of one tx under the rules: the receipt's fields.
struct Outcome {
  pb::TxStatus status = pb::TX_STATUS_OK;
  std::string rule;
  std::string reason;
  pb::DenyReason deny_reason = pb::DENY_REASON_UNSPECIFIED;
  std::string related_id;
  bool flagged = false;
};

Outcome Ok(std::string_view rule, std::string reason, std::string related_id = {}) {
  Outcome o;
  o.rule = std::string(rule);
  o.reason = std::string(rule) + ": " + std::move(reason);
  o.related_id = std::move(related_id);
  return o;
}

Outcome Reject(pb::TxStatus status, std::string_view rule, std::string reason,
               std::string related_id = {}) {
  Outcome o;
  o.status = status;
  o.rule = std::string(rule);
  o.reason = std::string(rule) + ": " + std::move(reason);
  o.related_id = std::move(related_id);
  return o;
}

Outcome Deny(pb::DenyReason why, std::string_view rule, std::string reason,
             std::string related_id = {}) {
  Outcome o = Reject(pb::TX_STATUS_DENIED, rule, std::move(reason), std::move(related_id));
  o.deny_reason = why;
  return o;
}

// Who signed a tx, as the state knows them (R6). `org` points into the executor's org cache.
struct SignerInfo {
  const lpb::OrgState* org = nullptr;
  std::optional<lpb::PatientState> patient;
};

class Executor {
 public:
  Executor(const ExecutableBlock& block, const KvReader& base, const ReplayContext& replay)
      : block_(block), state_(base), replay_(replay) {}

  // Reads in batches what the block's txs will read first: every tx id from the tx index (R5),
  // the state records their bodies name (records, patients, consents, claims) and the patient
  // state of each signer that is not an org (R6), and the claims' fingerprints (R19). Batched
  // reads cost less than one at a time (RocksDB probes each file for all the keys together). Only
  // a cache for the rules: a key not named here is read when a rule needs it.
  Status PrefetchReads() {
    std::vector<std::string_view> tx_ids;
    std::vector<std::string> state_keys;
    std::vector<std::string> index_keys;
    tx_ids.reserve(block_.txs.size());
    state_keys.reserve(2 * block_.txs.size());
    // R5: a fresh tx's id can only be in blocks since the horizon; when RecentTxIds holds them
    // all and none indexed it, the tx index need not be read.
    const int64_t horizon = replay_.lifetime.Horizon(block_.timestamp_ms);
    for (const BlockTx& tx : block_.txs) {
      if (!tx.decoded.has_value()) continue;
      const pb::TxBody& body = tx.decoded->body;
      if (replay_.recent != nullptr &&
          replay_.lifetime.Allows(body.created_ms(), block_.timestamp_ms) &&
          replay_.recent->RulesOut(RecentTxIds::KeyOf(tx.decoded->tx_id), horizon)) {
        state_.AssumeAbsent(Cf::kTxIndex, AsStr(tx.decoded->tx_id));
      } else {
        tx_ids.push_back(AsStr(tx.decoded->tx_id));
      }
      // R6 reads a signer's patient state when the signer is not an org (orgs are in memory).
      HC_ASSIGN_OR_RETURN(const lpb::OrgState* org, LoadOrg(body.signer()));
      if (org == nullptr) state_keys.push_back(keys::Patient(body.signer()));
      switch (body.payload_case()) {
        case pb::TxBody::kEnrollPatient:
          state_keys.push_back(keys::Patient(body.enroll_patient().patient_key()));
          break;
        case pb::TxBody::kGrantConsent:
          state_keys.push_back(keys::Patient(body.grant_consent().patient_key()));
          state_keys.push_back(keys::Consent(body.grant_consent().consent_id()));
          state_keys.push_back(keys::PairConsents(body.grant_consent().patient_key(),
                                                  body.grant_consent().grantee_key()));
          break;
        case pb::TxBody::kRevokeConsent:
          state_keys.push_back(keys::Consent(body.revoke_consent().consent_id()));
          break;
        case pb::TxBody::kAnchorRecord:
          state_keys.push_back(keys::Record(body.anchor_record().record_id()));
          state_keys.push_back(keys::Patient(body.anchor_record().patient_key()));
          break;
        case pb::TxBody::kAccessRecord:
          state_keys.push_back(keys::Record(body.access_record().record_id()));
          if (!body.access_record().consent_id().empty()) {
            state_keys.push_back(keys::Consent(body.access_record().consent_id()));
          }
          break;
        case pb::TxBody::kBreakGlass:
          state_keys.push_back(keys::Record(body.break_glass().record_id()));
          break;
        case pb::TxBody::kSubmitClaim:
          state_keys.push_back(keys::Claim(body.submit_claim().claim_id()));
          state_keys.push_back(keys::Patient(body.submit_claim().patient_key()));
          for (const std::string& id : body.submit_claim().evidence_record_ids()) {
            state_keys.push_back(keys::Record(id));
          }
          index_keys.push_back(
              keys::Fingerprint(ClaimFingerprint(body.submit_claim(), AsBytes(body.signer()))));
          break;
        case pb::TxBody::kAdjudicateClaim:
          state_keys.push_back(keys::Claim(body.adjudicate_claim().claim_id()));
          break;
        default:
          break;
      }
    }
    HC_RETURN_IF_ERROR(state_.Prefetch(Cf::kTxIndex, tx_ids));
    HC_RETURN_IF_ERROR(state_.Prefetch(Cf::kState, AsViews(state_keys)));
    HC_RETURN_IF_ERROR(state_.Prefetch(Cf::kIndex, AsViews(index_keys)));
    return PrefetchConsents();
  }

  // R15 and R18 read the consents a patient gave the accessor (or the insurer), and an access
  // names its patient only through its record: with the records now read, a second batch reads
  // those consent pairs and a third the consents they list.
  Status PrefetchConsents() const {
    std::vector<std::string> pair_keys;
    std::string v;
    lpb::RecordState record;
    for (const BlockTx& tx : block_.txs) {
      if (!tx.decoded.has_value()) continue;
      const pb::TxBody& body = tx.decoded->body;
      if (body.payload_case() == pb::TxBody::kAccessRecord &&
          body.access_record().consent_id().empty()) {
        if (!state_.Get(Cf::kState, keys::Record(body.access_record().record_id()), &v).ok() ||
            !record.ParseFromString(v)) {
          continue;  // no such record: the access reads no consent
        }
        pair_keys.push_back(keys::PairConsents(record.patient_key(), body.signer()));
      } else if (body.payload_case() == pb::TxBody::kSubmitClaim) {
        pair_keys.push_back(keys::PairConsents(body.submit_claim().patient_key(),
                                               body.submit_claim().insurer_key()));
      }
    }
    if (pair_keys.empty()) return Status::Ok();
    HC_RETURN_IF_ERROR(state_.Prefetch(Cf::kState, AsViews(pair_keys)));
    std::vector<std::string> consent_keys;
    lpb::ConsentIds ids;
    for (const std::string& k : pair_keys) {
      if (!state_.Get(Cf::kState, k, &v).ok() || !ids.ParseFromString(v)) continue;
      for (const std::string& id : ids.consent_ids()) consent_keys.push_back(keys::Consent(id));
    }
    return state_.Prefetch(Cf::kState, AsViews(consent_keys));
  }

  static std::vector<std::string_view> AsViews(const std::vector<std::string>& keys) {
    return {keys.begin(), keys.end()};
  }

  Result<ExecutionResult> Run() {
    ExecutionResult result;
    HC_ASSIGN_OR_RETURN(uint64_t first, LoadEntryCount());
    result.first_entry = first;
    result.receipts.reserve(block_.txs.size());
    result.receipt_bytes.reserve(block_.txs.size());
    result.leaf_hashes.reserve(block_.txs.size());
    HC_RETURN_IF_ERROR(PrefetchReads());
    for (size_t i = 0; i < block_.txs.size(); ++i) {
      const BlockTx& tx = block_.txs[i];
      index_ = static_cast<uint32_t>(i);
      entry_ = first + i;
      Outcome outcome;
      if (!tx.decoded.has_value()) {
        // R1..R4: a tx that fails the boundary checks reaches no state, not even the tx index
        // (a forged copy of someone's tx must not make the genuine one a duplicate).
        HC_ASSERT(!tx.decode_status.ok());
        std::string_view rule = RuleOf(tx.decode_status);
        outcome = Reject(pb::TX_STATUS_INVALID, rule.empty() ? "R1" : rule, "");
        outcome.reason = tx.decode_status.message();
      } else {
        tx_ = &*tx.decoded;
        HC_ASSIGN_OR_RETURN(outcome, ExecuteTx());
        tx_ = nullptr;
      }
      pb::Receipt receipt;
      receipt.set_tx_id(tx.tx_id.data(), tx.tx_id.size());
      receipt.set_status(outcome.status);
      receipt.set_reason(std::move(outcome.reason));
      receipt.set_deny_reason(outcome.deny_reason);
      receipt.set_rule(std::move(outcome.rule));
      receipt.set_related_id(std::move(outcome.related_id));
      receipt.set_flagged(outcome.flagged);
      std::string receipt_bytes = Serialize(receipt);
      result.leaf_hashes.push_back(
          LogEntryLeafHash(tx.bytes, block_.height, index_, receipt_bytes));
      result.receipt_bytes.push_back(std::move(receipt_bytes));
      result.receipts.push_back(std::move(receipt));
    }
    std::string count;
    PutU64(&count, first + block_.txs.size());
    state_.Put(Cf::kState, std::string(keys::kEntryCount), std::move(count));
    result.writes = state_.TakeWrites();
    result.state_writes = result.writes.writes.size();
    return result;
  }

 private:
  // ---- Reading and writing state ----

  Result<uint64_t> LoadEntryCount() {
    std::string v;
    Status s = state_.Get(Cf::kState, keys::kEntryCount, &v);
    if (s.code() == StatusCode::kNotFound) return uint64_t{0};
    HC_RETURN_IF_ERROR(s);
    if (v.size() != 8) {
      return Corruption(DescribeKey(Cf::kState, keys::kEntryCount) + ": not an 8-byte count");
    }
    return GetU64(v);
  }

  // Loads a record; nullopt when absent.
  template <typename M>
  Result<std::optional<M>> Load(Cf cf, const std::string& key) {
    std::string v;
    Status s = state_.Get(cf, key, &v);
    if (s.code() == StatusCode::kNotFound) return std::optional<M>();
    HC_RETURN_IF_ERROR(s);
    M m;
    HC_RETURN_IF_ERROR(ParseStored(v, &m, cf, key));
    return std::optional<M>(std::move(m));
  }

  Result<bool> Exists(Cf cf, const std::string& key) {
    std::string v;
    Status s = state_.Get(cf, key, &v);
    if (s.code() == StatusCode::kNotFound) return false;
    HC_RETURN_IF_ERROR(s);
    return true;
  }

  void Store(Cf cf, std::string key, const google::protobuf::MessageLite& m) {
    state_.Put(cf, std::move(key), Serialize(m));
  }

  // Orgs sign almost every tx and there are few of them, so their parsed states are kept for the
  // block; every org write goes through StoreOrg, which keeps the cache equal to the state.
  // Returns nullptr for an unknown key; the pointer stays valid for the block (map nodes are
  // stable, and StoreOrg updates in place).
  Result<const lpb::OrgState*> LoadOrg(std::string_view key) {
    auto it = orgs_.find(key);
    if (it == orgs_.end()) {
      HC_ASSIGN_OR_RETURN(auto org, Load<lpb::OrgState>(Cf::kState, keys::Org(key)));
      it = orgs_.emplace(std::string(key), std::move(org)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  void StoreOrg(const lpb::OrgState& org) {
    Store(Cf::kState, keys::Org(org.key()), org);
    auto it = orgs_.find(org.key());
    if (it == orgs_.end()) {
      orgs_.emplace(org.key(), org);
    } else {
      it->second = org;
    }
  }

  // ---- R5, R6 ----

  Result<Outcome> ExecuteTx() {
    const std::string_view tx_id = AsStr(tx_->tx_id);
    // R5: a tx outside its lifetime is refused before it reaches the tx index (a tx that was
    // valid earlier and is replayed late is refused here too, without a read).
    const int64_t created = tx_->body.created_ms();
    if (!replay_.lifetime.Allows(created, block_.timestamp_ms)) {
      const bool old = created < block_.timestamp_ms;
      return Reject(
          pb::TX_STATUS_INVALID, "R5",
          "tx created at " + std::to_string(created) + " ms is " +
              std::to_string(old ? block_.timestamp_ms - created : created - block_.timestamp_ms) +
              " ms " + (old ? "before" : "after") + " its block's time, over the " +
              std::to_string(old ? replay_.lifetime.max_age_ms : replay_.lifetime.max_future_ms) +
              " ms the chain allows");
    }
    // R5: a tx id seen before is a replay.
    std::string where;
    Status s = state_.Get(Cf::kTxIndex, tx_id, &where);
    if (s.ok()) {
      if (where.size() != 12) {
        return Corruption(DescribeKey(Cf::kTxIndex, tx_id) + ": not a (height, index) pair");
      }
      return Reject(pb::TX_STATUS_DUPLICATE, "R5",
                    "tx " + HexEncode(tx_->tx_id) + " was already committed at height " +
                        std::to_string(GetU64(where)) + ", index " +
                        std::to_string(GetU32(where, 8)),
                    HexEncode(tx_->tx_id));
    }
    if (s.code() != StatusCode::kNotFound) return s;
    state_.Put(Cf::kTxIndex, std::string(tx_id), keys::TxIndexValue(block_.height, index_));

    HC_ASSIGN_OR_RETURN(signer_.org, LoadOrg(SignerKey()));
    signer_.patient.reset();
    if (!signer_.org) {
      HC_ASSIGN_OR_RETURN(signer_.patient,
                          Load<lpb::PatientState>(Cf::kState, keys::Patient(SignerKey())));
    }
    const pb::TxBody& body = tx_->body;
    switch (body.payload_case()) {
      case pb::TxBody::kRegisterOrg:
        return RegisterOrg(body.register_org());
      case pb::TxBody::kSuspendOrg:
        return SuspendOrg(body.suspend_org());
      case pb::TxBody::kEnrollPatient:
        return EnrollPatient(body.enroll_patient());
      case pb::TxBody::kRegisterPolicy:
        return RegisterPolicy(body.register_policy());
      case pb::TxBody::kGrantConsent:
        return GrantConsent(body.grant_consent());
      case pb::TxBody::kRevokeConsent:
        return RevokeConsent(body.revoke_consent());
      case pb::TxBody::kAnchorRecord:
        return AnchorRecord(body.anchor_record());
      case pb::TxBody::kAccessRecord:
        return AccessRecord(body.access_record());
      case pb::TxBody::kBreakGlass:
        return BreakGlass(body.break_glass());
      case pb::TxBody::kSubmitClaim:
        return SubmitClaim(body.submit_claim());
      case pb::TxBody::kAdjudicateClaim:
        return AdjudicateClaim(body.adjudicate_claim());
      case pb::TxBody::kEraseRecord:
        return EraseRecord(body.erase_record());
      case pb::TxBody::kUpdateValidators:
      case pb::TxBody::PAYLOAD_NOT_SET:
        break;
    }
    // DecodeTx rejects both (R3, R21), so a DecodedTx never carries them.
    HC_UNREACHABLE();
  }

  std::string_view SignerKey() const { return tx_->body.signer(); }

  // R6: the signer must be an active org with one of `roles`. Returns the rejection, if any.
  std::optional<Outcome> RequireOrg(std::initializer_list<pb::OrgRole> roles,
                                    std::string_view action) const {
    std::string wanted;
    for (pb::OrgRole r : roles) {
      if (!wanted.empty()) wanted += " or ";
      wanted += RoleName(r);
    }
    if (!signer_.org) {
      if (signer_.patient) {
        return Reject(
            pb::TX_STATUS_UNAUTHORIZED, "R6",
            std::string(action) + " must be signed by a " + wanted + "; the signer is a patient");
      }
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                    "unknown signer " + ShortId(SignerKey()) + ": not a registered org");
    }
    if (signer_.org->suspended()) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                    "org '" + signer_.org->name() + "' is suspended since height " +
                        std::to_string(signer_.org->suspended_height()));
    }
    if (std::find(roles.begin(), roles.end(), signer_.org->role()) == roles.end()) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                    std::string(action) + " must be signed by a " + wanted + "; '" +
                        signer_.org->name() + "' is a " + RoleName(signer_.org->role()));
    }
    return std::nullopt;
  }

  // R6: the signer must be an enrolled patient.
  std::optional<Outcome> RequirePatient(std::string_view action) const {
    if (signer_.patient) return std::nullopt;
    if (signer_.org) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                    std::string(action) + " must be signed by the patient or their guardian; '" +
                        signer_.org->name() + "' is an org");
    }
    return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                  "unknown signer " + ShortId(SignerKey()) + ": not an enrolled patient");
  }

  // ---- R7..R9: membership ----

  Result<Outcome> RegisterOrg(const pb::RegisterOrg& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_COMMISSION}, "RegisterOrg")) return *r;
    HC_ASSIGN_OR_RETURN(bool org_exists, Exists(Cf::kState, keys::Org(p.org_key())));
    if (org_exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R7",
                    "org " + ShortId(p.org_key()) + " is already registered");
    }
    HC_ASSIGN_OR_RETURN(bool patient_exists, Exists(Cf::kState, keys::Patient(p.org_key())));
    if (patient_exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R7",
                    "key " + ShortId(p.org_key()) + " is enrolled as a patient");
    }
    lpb::OrgState org;
    org.set_key(p.org_key());
    org.set_encryption_key(p.encryption_key());
    org.set_role(p.role());
    org.set_name(p.name());
    org.set_fhir_organization(p.fhir_organization());
    org.set_registered_height(block_.height);
    StoreOrg(org);
    return Ok("R7", "registered " + RoleName(p.role()) + " '" + p.name() + "'",
              IdentityId(AsBytes(p.org_key())));
  }

  Result<Outcome> SuspendOrg(const pb::SuspendOrg& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_COMMISSION}, "SuspendOrg")) return *r;
    HC_ASSIGN_OR_RETURN(auto org, Load<lpb::OrgState>(Cf::kState, keys::Org(p.org_key())));
    if (!org) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R8", "org " + ShortId(p.org_key()) + " not found");
    }
    if (org->suspended()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R8",
                    "org '" + org->name() + "' is already suspended since height " +
                        std::to_string(org->suspended_height()));
    }
    if (p.org_key() == SignerKey()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R8", "a commission cannot suspend itself");
    }
    org->set_suspended(true);
    org->set_suspended_height(block_.height);
    org->set_suspend_reason(p.reason());
    org->set_suspended_by(std::string(SignerKey()));
    StoreOrg(*org);
    return Ok("R8", "suspended '" + org->name() + "'", IdentityId(AsBytes(p.org_key())));
  }

  Result<Outcome> RegisterPolicy(const pb::RegisterPolicy& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_COMMISSION}, "RegisterPolicy")) return *r;
    HC_ASSIGN_OR_RETURN(bool exists, Exists(Cf::kState, keys::Policy(p.policy_id())));
    if (exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R9",
                    "policy '" + p.policy_id() + "' is already registered");
    }
    lpb::PolicyState policy;
    policy.set_policy_id(p.policy_id());
    policy.set_uri(p.uri());
    policy.set_document_sha256(p.document_sha256());
    policy.set_registered_height(block_.height);
    policy.set_registered_by(std::string(SignerKey()));
    Store(Cf::kState, keys::Policy(p.policy_id()), policy);
    return Ok("R9", "registered policy '" + p.policy_id() + "'", p.policy_id());
  }

  // ---- R10: patients ----

  Result<Outcome> EnrollPatient(const pb::EnrollPatient& p) {
    const bool self = p.patient_key() == SignerKey();
    if (!self) {
      if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL}, "EnrollPatient")) return *r;
    }
    HC_ASSIGN_OR_RETURN(bool enrolled, Exists(Cf::kState, keys::Patient(p.patient_key())));
    if (enrolled) {
      return Reject(pb::TX_STATUS_CONFLICT, "R10",
                    "patient " + ShortId(p.patient_key()) + " is already enrolled");
    }
    HC_ASSIGN_OR_RETURN(bool is_org, Exists(Cf::kState, keys::Org(p.patient_key())));
    if (is_org) {
      return Reject(pb::TX_STATUS_CONFLICT, "R10",
                    "key " + ShortId(p.patient_key()) + " belongs to a registered org");
    }
    if (!p.guardian_key().empty()) {
      HC_ASSIGN_OR_RETURN(bool guardian, Exists(Cf::kState, keys::Patient(p.guardian_key())));
      if (!guardian) {
        return Reject(pb::TX_STATUS_NOT_FOUND, "R10",
                      "guardian " + ShortId(p.guardian_key()) + " is not an enrolled patient");
      }
    }
    lpb::PatientState patient;
    patient.set_key(p.patient_key());
    patient.set_encryption_key(p.encryption_key());
    patient.set_guardian_key(p.guardian_key());
    patient.set_enrolled_by(std::string(SignerKey()));
    patient.set_enrolled_height(block_.height);
    patient.set_enroll_entry(entry_);
    Store(Cf::kState, keys::Patient(p.patient_key()), patient);
    return Ok("R10", "enrolled patient " + ShortId(p.patient_key()),
              IdentityId(AsBytes(p.patient_key())));
  }

  // The signer acts for `patient`: is the patient or their registered guardian.
  bool ActsFor(const lpb::PatientState& patient) const {
    return SignerKey() == patient.key() ||
           (!patient.guardian_key().empty() && SignerKey() == patient.guardian_key());
  }

  // ---- R11, R12: consent ----

  Result<Outcome> GrantConsent(const pb::GrantConsent& p) {
    if (auto r = RequirePatient("GrantConsent")) return *r;
    HC_ASSIGN_OR_RETURN(auto patient,
                        Load<lpb::PatientState>(Cf::kState, keys::Patient(p.patient_key())));
    if (!patient) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R11",
                    "patient " + ShortId(p.patient_key()) + " is not enrolled");
    }
    if (!ActsFor(*patient)) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R11",
                    "only the patient or their guardian may grant consent for patient " +
                        ShortId(p.patient_key()));
    }
    HC_ASSIGN_OR_RETURN(bool exists, Exists(Cf::kState, keys::Consent(p.consent_id())));
    if (exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R11",
                    "consent id '" + p.consent_id() + "' is already used");
    }
    HC_ASSIGN_OR_RETURN(auto grantee, Load<lpb::OrgState>(Cf::kState, keys::Org(p.grantee_key())));
    if (!grantee) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R11",
                    "grantee org " + ShortId(p.grantee_key()) + " not found");
    }
    if (grantee->suspended()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R11",
                    "grantee '" + grantee->name() + "' is suspended");
    }
    if (grantee->role() != pb::ORG_ROLE_HOSPITAL && grantee->role() != pb::ORG_ROLE_INSURER) {
      return Reject(pb::TX_STATUS_CONFLICT, "R11",
                    "grantee '" + grantee->name() + "' is a " + RoleName(grantee->role()) +
                        "; consent is granted to hospitals and insurers");
    }
    HC_ASSIGN_OR_RETURN(bool policy, Exists(Cf::kState, keys::Policy(p.policy_id())));
    if (!policy) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R11",
                    "policy '" + p.policy_id() + "' is not registered");
    }
    lpb::ConsentState consent;
    *consent.mutable_grant() = p;
    consent.set_granted_by(std::string(SignerKey()));
    consent.set_granted_height(block_.height);
    consent.set_granted_ms(block_.timestamp_ms);
    consent.set_grant_entry(entry_);
    Store(Cf::kState, keys::Consent(p.consent_id()), consent);
    const std::string pair_key = keys::PairConsents(p.patient_key(), p.grantee_key());
    HC_ASSIGN_OR_RETURN(auto pair, Load<lpb::ConsentIds>(Cf::kState, pair_key));
    if (!pair) pair.emplace();
    auto* ids = pair->mutable_consent_ids();
    *ids->Add() = p.consent_id();  // then moved to its place in id order
    std::rotate(std::lower_bound(ids->begin(), ids->end() - 1, p.consent_id()), ids->end() - 1,
                ids->end());
    Store(Cf::kState, pair_key, *pair);
    return Ok("R11", "consent '" + p.consent_id() + "' granted to '" + grantee->name() + "'",
              p.consent_id());
  }

  Result<Outcome> RevokeConsent(const pb::RevokeConsent& p) {
    if (auto r = RequirePatient("RevokeConsent")) return *r;
    HC_ASSIGN_OR_RETURN(auto consent,
                        Load<lpb::ConsentState>(Cf::kState, keys::Consent(p.consent_id())));
    if (!consent) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R12", "consent '" + p.consent_id() + "' not found");
    }
    HC_ASSIGN_OR_RETURN(
        auto patient,
        Load<lpb::PatientState>(Cf::kState, keys::Patient(consent->grant().patient_key())));
    if (!patient) {
      return Corruption(DescribeKey(Cf::kState, keys::Consent(p.consent_id())) +
                        ": the consent's patient is not enrolled");
    }
    if (!ActsFor(*patient)) {
      return Reject(
          pb::TX_STATUS_UNAUTHORIZED, "R12",
          "only the patient or their guardian may revoke consent '" + p.consent_id() + "'");
    }
    if (consent->revoked()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R12",
                    "consent '" + p.consent_id() + "' was already revoked at height " +
                        std::to_string(consent->revoked_height()),
                    p.consent_id());
    }
    if (block_.timestamp_ms >= consent->grant().valid_until_ms()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R12",
                    "consent '" + p.consent_id() +
                        "' has expired; only an active consent can be "
                        "revoked",
                    p.consent_id());
    }
    consent->set_revoked(true);
    consent->set_revoked_height(block_.height);
    consent->set_revoked_ms(block_.timestamp_ms);
    consent->set_revoke_entry(entry_);
    consent->set_revoke_reason(p.reason());
    consent->set_revoked_by(std::string(SignerKey()));
    Store(Cf::kState, keys::Consent(p.consent_id()), *consent);
    return Ok("R12", "consent '" + p.consent_id() + "' revoked", p.consent_id());
  }

  // ---- R13: records ----

  Result<Outcome> AnchorRecord(const pb::AnchorRecord& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL}, "AnchorRecord")) return *r;
    HC_ASSIGN_OR_RETURN(bool exists, Exists(Cf::kState, keys::Record(p.record_id())));
    if (exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R13",
                    "record id '" + p.record_id() + "' is already anchored");
    }
    HC_ASSIGN_OR_RETURN(bool enrolled, Exists(Cf::kState, keys::Patient(p.patient_key())));
    if (!enrolled) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R13",
                    "patient " + ShortId(p.patient_key()) + " is not enrolled");
    }
    lpb::RecordState record;
    record.set_record_id(p.record_id());
    record.set_patient_key(p.patient_key());
    record.set_category(p.category());
    record.set_ciphertext_sha256(p.ciphertext_sha256());
    record.set_ciphertext_size(p.ciphertext_size());
    record.set_description(p.description());
    record.set_content_type(p.content_type());
    record.set_hospital_key(std::string(SignerKey()));
    record.set_anchored_height(block_.height);
    record.set_anchor_entry(entry_);
    Store(Cf::kState, keys::Record(p.record_id()), record);
    return Ok("R13", "record '" + p.record_id() + "' anchored", p.record_id());
  }

  // ---- R14, R15: access under consent ----

  // R15: evaluates one consent for (record, purpose) at block time. The checks run in a fixed
  // order; checks_passed says how far a denied consent got, to report the most specific reason.
  ConsentDecision Evaluate(const lpb::ConsentState& c, const lpb::RecordState& record, int purpose,
                           bool check_scope) const {
    ConsentDecision d;
    if (c.revoked()) {
      d.deny_reason = pb::DENY_REASON_REVOKED;
      return d;
    }
    d.checks_passed = 1;
    if (block_.timestamp_ms < c.grant().valid_from_ms()) {
      d.deny_reason = pb::DENY_REASON_NOT_YET_VALID;
      return d;
    }
    if (block_.timestamp_ms >= c.grant().valid_until_ms()) {
      d.deny_reason = pb::DENY_REASON_EXPIRED;
      return d;
    }
    d.checks_passed = 2;
    if (check_scope) {
      // Coverage is always explicit: by the record's id, or by its category being listed. There
      // is no wildcard, so a sensitive category (mental health, substance use, genetic) is never
      // covered by a consent that does not name it or the record.
      const pb::ConsentScope& scope = c.grant().scope();
      const bool by_id = std::find(scope.record_ids().begin(), scope.record_ids().end(),
                                   record.record_id()) != scope.record_ids().end();
      const bool by_category = std::find(scope.categories().begin(), scope.categories().end(),
                                         record.category()) != scope.categories().end();
      if (!by_id && !by_category) {
        d.deny_reason = pb::DENY_REASON_OUT_OF_SCOPE;
        return d;
      }
    }
    d.checks_passed = 3;
    const auto& purposes = c.grant().purposes();
    if (std::find(purposes.begin(), purposes.end(), purpose) == purposes.end()) {
      d.deny_reason = pb::DENY_REASON_WRONG_PURPOSE;
      return d;
    }
    d.checks_passed = 4;
    d.granted = true;
    return d;
  }

  static std::string DenyText(pb::DenyReason why, const lpb::ConsentState& c, int purpose,
                              const lpb::RecordState* record) {
    const std::string id = "consent '" + c.grant().consent_id() + "'";
    switch (why) {
      case pb::DENY_REASON_REVOKED:
        return id + " was revoked at height " + std::to_string(c.revoked_height());
      case pb::DENY_REASON_NOT_YET_VALID:
        return id + " is not valid before " + std::to_string(c.grant().valid_from_ms()) + " ms";
      case pb::DENY_REASON_EXPIRED:
        return id + " expired at " + std::to_string(c.grant().valid_until_ms()) + " ms";
      case pb::DENY_REASON_OUT_OF_SCOPE: {
        std::string what = record ? "record '" + record->record_id() + "' (" +
                                        CategoryName(record->category()) + ")"
                                  : "the record";
        if (record && IsSensitiveCategory(record->category())) {
          what += ", a sensitive category that must be named explicitly,";
        }
        return what + " is outside the scope of " + id;
      }
      case pb::DENY_REASON_WRONG_PURPOSE:
        return id + " does not allow purpose " + PurposeName(purpose);
      default:
        return id + " does not permit this access";
    }
  }

  struct ConsentSearch {
    std::optional<lpb::ConsentState> granted;  // the first consent that permits, by id order
    std::optional<lpb::ConsentState> best;     // else the one that got furthest
    ConsentDecision best_decision;
  };

  // Searches the consents `patient` gave `grantee` (their ConsentIds, in consent id order).
  Result<ConsentSearch> SearchConsents(std::string_view patient, std::string_view grantee,
                                       const lpb::RecordState& record, int purpose,
                                       bool check_scope) {
    const std::string pair_key = keys::PairConsents(patient, grantee);
    HC_ASSIGN_OR_RETURN(auto pair, Load<lpb::ConsentIds>(Cf::kState, pair_key));
    ConsentSearch out;
    if (!pair) return out;
    for (const std::string& id : pair->consent_ids()) {
      HC_ASSIGN_OR_RETURN(auto c, Load<lpb::ConsentState>(Cf::kState, keys::Consent(id)));
      if (!c) {
        return Corruption(DescribeKey(Cf::kState, pair_key) + ": listed consent '" + id +
                          "' not found");
      }
      ConsentDecision d = Evaluate(*c, record, purpose, check_scope);
      if (d.granted) {
        out.granted = std::move(c);
        return out;
      }
      if (!out.best || d.checks_passed > out.best_decision.checks_passed) {
        out.best = std::move(c);
        out.best_decision = d;
      }
    }
    return out;
  }

  lpb::AuditEvent MakeAudit(lpb::AuditEvent::Kind kind, const lpb::RecordState* record,
                            std::string_view patient_key) const {
    lpb::AuditEvent e;
    e.set_entry(entry_);
    e.set_height(block_.height);
    e.set_time_ms(block_.timestamp_ms);
    e.set_kind(kind);
    e.set_patient_key(std::string(patient_key));
    e.set_actor_key(std::string(SignerKey()));
    if (signer_.org) e.set_actor_name(signer_.org->name());
    if (record) {
      e.set_record_id(record->record_id());
      e.set_record_description(record->description());
      e.set_record_category(record->category());
    }
    e.set_tx_id(tx_->tx_id.data(), tx_->tx_id.size());
    return e;
  }

  void WriteAudit(lpb::AuditEvent& e, const Outcome& o) {
    e.set_status(o.status);
    e.set_deny_reason(o.deny_reason);
    Store(Cf::kIndex, keys::Audit(e.patient_key(), entry_), e);
  }

  Result<Outcome> AccessRecord(const pb::AccessRecord& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL, pb::ORG_ROLE_INSURER}, "AccessRecord")) {
      return *r;
    }
    HC_ASSIGN_OR_RETURN(auto record,
                        Load<lpb::RecordState>(Cf::kState, keys::Record(p.record_id())));
    if (!record) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R14", "record '" + p.record_id() + "' not found");
    }
    lpb::AuditEvent audit =
        MakeAudit(lpb::AuditEvent::KIND_ACCESS, &*record, record->patient_key());
    audit.set_purpose(p.purpose());
    Outcome o;
    if (record->erased()) {
      o = Reject(pb::TX_STATUS_ERASED, "R17",
                 "record '" + p.record_id() + "' was erased at height " +
                     std::to_string(record->erased_height()),
                 p.record_id());
    } else {
      HC_ASSIGN_OR_RETURN(o, DecideAccess(p, *record));
    }
    audit.set_consent_id(o.status == pb::TX_STATUS_OK ? o.related_id : p.consent_id());
    WriteAudit(audit, o);
    if (o.status == pb::TX_STATUS_OK) {
      state_.Put(Cf::kIndex, keys::RecordAccess(p.record_id(), entry_), "");
    }
    return o;
  }

  Result<Outcome> DecideAccess(const pb::AccessRecord& p, const lpb::RecordState& record) {
    const std::string_view accessor = SignerKey();
    const std::string& patient = record.patient_key();
    if (!p.consent_id().empty()) {
      // The hint names one consent; only that one is evaluated.
      HC_ASSIGN_OR_RETURN(auto c,
                          Load<lpb::ConsentState>(Cf::kState, keys::Consent(p.consent_id())));
      if (!c || c->grant().patient_key() != patient || c->grant().grantee_key() != accessor) {
        return Deny(pb::DENY_REASON_NO_CONSENT, "R15",
                    "consent '" + p.consent_id() +
                        "' does not exist or is not a consent of this "
                        "record's patient to '" +
                        signer_.org->name() + "'");
      }
      ConsentDecision d = Evaluate(*c, record, p.purpose(), /*check_scope=*/true);
      if (d.granted) {
        return Ok(
            "R15",
            "access to '" + p.record_id() + "' granted under consent '" + p.consent_id() + "'",
            p.consent_id());
      }
      return Deny(d.deny_reason, "R15", DenyText(d.deny_reason, *c, p.purpose(), &record),
                  p.consent_id());
    }
    HC_ASSIGN_OR_RETURN(ConsentSearch found,
                        SearchConsents(patient, accessor, record, p.purpose(), true));
    if (found.granted) {
      const std::string& id = found.granted->grant().consent_id();
      return Ok("R15", "access to '" + p.record_id() + "' granted under consent '" + id + "'", id);
    }
    if (!found.best) {
      return Deny(pb::DENY_REASON_NO_CONSENT, "R15",
                  "the patient has given '" + signer_.org->name() + "' no consent");
    }
    const pb::DenyReason why = found.best_decision.deny_reason;
    return Deny(why, "R15", DenyText(why, *found.best, p.purpose(), &record),
                found.best->grant().consent_id());
  }

  // ---- R16: break-glass ----

  Result<Outcome> BreakGlass(const pb::BreakGlass& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL}, "BreakGlass")) return *r;
    HC_ASSIGN_OR_RETURN(auto record,
                        Load<lpb::RecordState>(Cf::kState, keys::Record(p.record_id())));
    if (!record) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R16", "record '" + p.record_id() + "' not found");
    }
    lpb::AuditEvent audit =
        MakeAudit(lpb::AuditEvent::KIND_BREAK_GLASS, &*record, record->patient_key());
    audit.set_purpose(p.purpose());
    audit.set_justification(p.justification());
    if (record->erased()) {
      Outcome o = Reject(pb::TX_STATUS_ERASED, "R17",
                         "record '" + p.record_id() + "' was erased at height " +
                             std::to_string(record->erased_height()),
                         p.record_id());
      WriteAudit(audit, o);
      return o;
    }
    Outcome o = Ok("R16",
                   "emergency access to '" + p.record_id() + "' by '" + signer_.org->name() +
                       "' granted without consent; flagged for review",
                   p.record_id());
    o.flagged = true;
    WriteAudit(audit, o);
    Store(Cf::kIndex, keys::Review(entry_), audit);
    state_.Put(Cf::kIndex, keys::RecordAccess(p.record_id(), entry_), "");
    return o;
  }

  // ---- R17: erasure ----

  Result<Outcome> EraseRecord(const pb::EraseRecord& p) {
    if (!signer_.org && !signer_.patient) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R6",
                    "unknown signer " + ShortId(SignerKey()) + ": not an org or enrolled patient");
    }
    if (signer_.org) {
      if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL}, "EraseRecord")) return *r;
    }
    HC_ASSIGN_OR_RETURN(auto record,
                        Load<lpb::RecordState>(Cf::kState, keys::Record(p.record_id())));
    if (!record) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R17", "record '" + p.record_id() + "' not found");
    }
    if (signer_.org) {
      if (record->hospital_key() != SignerKey()) {
        return Reject(
            pb::TX_STATUS_UNAUTHORIZED, "R17",
            "only the patient or the anchoring hospital may erase record '" + p.record_id() + "'");
      }
    } else if (SignerKey() != record->patient_key()) {
      // A guardian signs with their own key; check that the record's patient names them.
      HC_ASSIGN_OR_RETURN(
          auto owner, Load<lpb::PatientState>(Cf::kState, keys::Patient(record->patient_key())));
      if (!owner || !ActsFor(*owner)) {
        return Reject(
            pb::TX_STATUS_UNAUTHORIZED, "R17",
            "only the patient or the anchoring hospital may erase record '" + p.record_id() + "'");
      }
    }
    if (record->erased()) {
      return Reject(pb::TX_STATUS_ERASED, "R17",
                    "record '" + p.record_id() + "' was already erased at height " +
                        std::to_string(record->erased_height()),
                    p.record_id());
    }
    record->set_erased(true);
    record->set_erased_height(block_.height);
    record->set_erased_ms(block_.timestamp_ms);
    record->set_erase_entry(entry_);
    Store(Cf::kState, keys::Record(p.record_id()), *record);
    Outcome o = Ok("R17",
                   "record '" + p.record_id() +
                       "' erased; nodes delete its ciphertext "
                       "and wrapped keys",
                   p.record_id());
    lpb::AuditEvent audit = MakeAudit(lpb::AuditEvent::KIND_ERASE, &*record, record->patient_key());
    WriteAudit(audit, o);
    return o;
  }

  // ---- R18, R19: claims ----

  Result<Outcome> SubmitClaim(const pb::SubmitClaim& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_HOSPITAL}, "SubmitClaim")) return *r;
    HC_ASSIGN_OR_RETURN(bool exists, Exists(Cf::kState, keys::Claim(p.claim_id())));
    if (exists) {
      return Reject(pb::TX_STATUS_CONFLICT, "R18",
                    "claim id '" + p.claim_id() + "' is already used");
    }
    HC_ASSIGN_OR_RETURN(bool enrolled, Exists(Cf::kState, keys::Patient(p.patient_key())));
    if (!enrolled) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R18",
                    "patient " + ShortId(p.patient_key()) + " is not enrolled");
    }
    HC_ASSIGN_OR_RETURN(auto insurer, Load<lpb::OrgState>(Cf::kState, keys::Org(p.insurer_key())));
    if (!insurer) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R18",
                    "insurer " + ShortId(p.insurer_key()) + " not found");
    }
    if (insurer->role() != pb::ORG_ROLE_INSURER) {
      return Reject(
          pb::TX_STATUS_CONFLICT, "R18",
          "'" + insurer->name() + "' is a " + RoleName(insurer->role()) + ", not an insurer");
    }
    if (insurer->suspended()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R18",
                    "insurer '" + insurer->name() + "' is suspended");
    }
    std::optional<lpb::RecordState> first_record;
    for (const std::string& id : p.evidence_record_ids()) {
      HC_ASSIGN_OR_RETURN(auto record, Load<lpb::RecordState>(Cf::kState, keys::Record(id)));
      if (!record) {
        return Reject(pb::TX_STATUS_NOT_FOUND, "R18", "evidence record '" + id + "' not found");
      }
      if (record->hospital_key() != SignerKey()) {
        return Reject(pb::TX_STATUS_CONFLICT, "R18",
                      "evidence record '" + id + "' was not anchored by the submitting hospital");
      }
      if (record->patient_key() != p.patient_key()) {
        return Reject(pb::TX_STATUS_CONFLICT, "R18",
                      "evidence record '" + id + "' belongs to another patient");
      }
      if (record->erased()) {
        return Reject(pb::TX_STATUS_ERASED, "R17",
                      "evidence record '" + id + "' was erased at height " +
                          std::to_string(record->erased_height()),
                      id);
      }
      if (!first_record) first_record = std::move(record);
    }
    lpb::AuditEvent audit = MakeAudit(lpb::AuditEvent::KIND_CLAIM, nullptr, p.patient_key());
    audit.set_purpose(pb::PURPOSE_HPAYMT);
    audit.set_claim_id(p.claim_id());
    // R19: the fingerprint is computed here, never taken from the client.
    const Hash32 fp = ClaimFingerprint(p, AsBytes(SignerKey()));
    std::string first_claim;
    Status s = state_.Get(Cf::kIndex, keys::Fingerprint(fp), &first_claim);
    if (s.ok()) {
      Outcome o = Reject(pb::TX_STATUS_DUPLICATE, "R19",
                         "claim duplicates claim '" + first_claim +
                             "' (same patient, provider, service date, items and invoice)",
                         first_claim);
      WriteAudit(audit, o);
      return o;
    }
    if (s.code() != StatusCode::kNotFound) return s;
    // R18: the patient must have consented to payment (HPAYMT) by this insurer.
    HC_ASSIGN_OR_RETURN(ConsentSearch found,
                        SearchConsents(p.patient_key(), p.insurer_key(), *first_record,
                                       pb::PURPOSE_HPAYMT, /*check_scope=*/false));
    if (!found.granted) {
      Outcome o;
      if (!found.best) {
        o = Deny(pb::DENY_REASON_NO_CONSENT, "R18",
                 "the patient has given insurer '" + insurer->name() + "' no consent");
      } else {
        const pb::DenyReason why = found.best_decision.deny_reason;
        o = Deny(why, "R18", DenyText(why, *found.best, pb::PURPOSE_HPAYMT, nullptr),
                 found.best->grant().consent_id());
      }
      WriteAudit(audit, o);
      return o;
    }
    int64_t total = 0;
    for (const pb::ClaimItem& item : p.items()) {
      total += static_cast<int64_t>(item.quantity()) * item.unit_price_cents();
    }
    lpb::ClaimState claim;
    claim.set_claim_id(p.claim_id());
    claim.set_patient_key(p.patient_key());
    claim.set_hospital_key(std::string(SignerKey()));
    claim.set_insurer_key(p.insurer_key());
    claim.set_fingerprint(fp.data(), fp.size());
    claim.set_total_cents(total);
    claim.set_currency(p.currency());
    claim.set_consent_id(found.granted->grant().consent_id());
    for (const std::string& id : p.evidence_record_ids()) claim.add_evidence_record_ids(id);
    claim.set_submitted_height(block_.height);
    claim.set_submit_entry(entry_);
    Store(Cf::kState, keys::Claim(p.claim_id()), claim);
    state_.Put(Cf::kIndex, keys::Fingerprint(fp), p.claim_id());
    Outcome o = Ok("R18",
                   "claim '" + p.claim_id() + "' submitted to '" + insurer->name() +
                       "' under consent '" + claim.consent_id() + "'",
                   p.claim_id());
    audit.set_consent_id(claim.consent_id());
    WriteAudit(audit, o);
    return o;
  }

  Result<Outcome> AdjudicateClaim(const pb::AdjudicateClaim& p) {
    if (auto r = RequireOrg({pb::ORG_ROLE_INSURER}, "AdjudicateClaim")) return *r;
    HC_ASSIGN_OR_RETURN(auto claim, Load<lpb::ClaimState>(Cf::kState, keys::Claim(p.claim_id())));
    if (!claim) {
      return Reject(pb::TX_STATUS_NOT_FOUND, "R20", "claim '" + p.claim_id() + "' not found");
    }
    if (claim->insurer_key() != SignerKey()) {
      return Reject(pb::TX_STATUS_UNAUTHORIZED, "R20",
                    "only the claim's insurer may adjudicate claim '" + p.claim_id() + "'");
    }
    if (claim->adjudicated()) {
      return Reject(pb::TX_STATUS_CONFLICT, "R20",
                    "claim '" + p.claim_id() + "' was already adjudicated at height " +
                        std::to_string(claim->adjudicated_height()),
                    p.claim_id());
    }
    const int64_t total = claim->total_cents();
    if (p.approved_cents() > total) {
      return Reject(pb::TX_STATUS_INVALID, "R20",
                    "approved " + std::to_string(p.approved_cents()) +
                        " cents exceeds the claimed total of " + std::to_string(total));
    }
    if (p.decision() == pb::CLAIM_DECISION_APPROVED && p.approved_cents() != total) {
      return Reject(pb::TX_STATUS_INVALID, "R20",
                    "an APPROVED claim approves its total of " + std::to_string(total) +
                        " cents; use PARTIAL for less");
    }
    if (p.decision() == pb::CLAIM_DECISION_PARTIAL && p.approved_cents() == total) {
      return Reject(pb::TX_STATUS_INVALID, "R20",
                    "a PARTIAL approval approves less than the claimed total");
    }
    claim->set_adjudicated(true);
    claim->set_decision(p.decision());
    claim->set_approved_cents(p.approved_cents());
    claim->set_adjudicated_height(block_.height);
    claim->set_adjudicate_entry(entry_);
    Store(Cf::kState, keys::Claim(p.claim_id()), *claim);
    Outcome o = Ok(
        "R20", "claim '" + p.claim_id() + "' adjudicated: " + pb::ClaimDecision_Name(p.decision()),
        p.claim_id());
    lpb::AuditEvent audit =
        MakeAudit(lpb::AuditEvent::KIND_ADJUDICATION, nullptr, claim->patient_key());
    audit.set_purpose(pb::PURPOSE_HPAYMT);
    audit.set_claim_id(p.claim_id());
    audit.set_consent_id(claim->consent_id());
    WriteAudit(audit, o);
    return o;
  }

  const ExecutableBlock& block_;
  StateOverlay state_;
  const ReplayContext& replay_;
  const DecodedTx* tx_ = nullptr;
  uint32_t index_ = 0;
  uint64_t entry_ = 0;
  SignerInfo signer_;
  std::map<std::string, std::optional<lpb::OrgState>, std::less<>> orgs_;  // LoadOrg's cache
};

}  // namespace

bool IsSensitiveCategory(pb::RecordCategory category) {
  return category == pb::RECORD_CATEGORY_MENTAL_HEALTH ||
         category == pb::RECORD_CATEGORY_SUBSTANCE_USE || category == pb::RECORD_CATEGORY_GENETIC;
}

Hash32 ClaimFingerprint(const pb::SubmitClaim& claim, ByteView provider_key) {
  std::vector<std::string_view> codes;
  codes.reserve(claim.items_size());
  for (const pb::ClaimItem& item : claim.items()) codes.push_back(item.code());
  std::sort(codes.begin(), codes.end());
  std::string buf;
  auto len8 = [&](std::string_view s) {
    HC_ASSERT_LE(s.size(), 255u);
    buf.push_back(static_cast<char>(s.size()));
    buf.append(s);
  };
  buf.append(claim.patient_key());
  buf.append(AsStringView(provider_key));
  len8(claim.service_date());
  PutU32(&buf, static_cast<uint32_t>(codes.size()));
  for (std::string_view code : codes) len8(code);
  len8(claim.invoice_number());
  return crypto::DomainHash(kClaimFingerprintDomain, AsBytes(buf));
}

ExecutableBlock PrepareBlock(uint64_t height, int64_t timestamp_ms,
                             const std::vector<std::string>& txs, std::string_view chain_id,
                             const crypto::Verifier& verifier) {
  return PrepareBlock(height, timestamp_ms, std::vector<std::string>(txs), chain_id, verifier);
}

ExecutableBlock PrepareBlock(uint64_t height, int64_t timestamp_ms, std::vector<std::string>&& txs,
                             std::string_view chain_id, const crypto::Verifier& verifier) {
  ExecutableBlock block;
  block.height = height;
  block.timestamp_ms = timestamp_ms;
  block.txs.resize(txs.size());
  for (size_t i = 0; i < txs.size(); ++i) {
    BlockTx& tx = block.txs[i];
    tx.bytes = std::move(txs[i]);
    Result<DecodedTx> decoded = DecodeTx(AsBytes(tx.bytes), chain_id, verifier);
    if (decoded.ok()) {
      tx.tx_id = decoded->tx_id;
      tx.decoded = std::move(decoded).value();
    } else {
      tx.tx_id = TxIdOf(AsBytes(tx.bytes));
      tx.decode_status = decoded.status();
    }
  }
  return block;
}

Result<ExecutionResult> Execute(const ExecutableBlock& block, const KvReader& state,
                                const ReplayContext& replay) {
  if (block.txs.size() > kBlockTxsMax) {
    return InvalidArgument("R23: block holds " + std::to_string(block.txs.size()) +
                           " txs, over the limit");
  }
  Executor executor(block, state, replay);
  return executor.Run();
}

// ---- StateOverlay ----

Status StateOverlay::Get(Cf cf, std::string_view key, std::string* value) const {
  // Looked up through a reused buffer: most reads hit the block's writes or earlier reads.
  std::string& composed = key_buf_;
  composed.assign(1, static_cast<char>(cf));
  composed.append(key);
  auto it = writes_.find(composed);
  if (it != writes_.end()) {
    if (!it->second) return NotFound(std::string(CfName(cf)) + " key deleted");
    *value = *it->second;
    return Status::Ok();
  }
  auto cached = read_cache_.find(composed);
  if (cached != read_cache_.end()) {
    if (!cached->second) return NotFound(std::string(CfName(cf)) + " key not found");
    *value = *cached->second;
    return Status::Ok();
  }
  Status s = base_.Get(cf, key, value);
  if (s.ok()) {
    read_cache_.emplace(composed, *value);
  } else if (s.code() == StatusCode::kNotFound) {
    // The tx index is read once per tx id and misses almost always: not worth remembering.
    if (cf != Cf::kTxIndex) read_cache_.emplace(composed, std::nullopt);
  }
  return s;
}

Status StateOverlay::Scan(Cf cf, std::string_view start, std::string_view end,
                          const KvScanFn& fn) const {
  // Merge the base's keys with the overlay's: collect the base range, then apply the overlay.
  // Execution scans only small ranges (one patient's consents to one org).
  std::map<std::string, std::string, std::less<>> merged;
  HC_RETURN_IF_ERROR(base_.Scan(cf, start, end, [&](std::string_view k, std::string_view v) {
    merged.emplace(std::string(k), std::string(v));
    return true;
  }));
  const std::string lo = ComposeKey(cf, start);
  const std::string hi =
      end.empty() ? PrefixEnd(std::string(1, static_cast<char>(cf))) : ComposeKey(cf, end);
  for (auto it = writes_.lower_bound(lo); it != writes_.end() && (hi.empty() || it->first < hi);
       ++it) {
    std::string key = it->first.substr(1);
    if (it->second) {
      merged.insert_or_assign(std::move(key), *it->second);
    } else {
      merged.erase(key);
    }
  }
  for (const auto& [k, v] : merged) {
    if (!fn(k, v)) break;
  }
  return Status::Ok();
}

Status StateOverlay::SeekAtOrBefore(Cf cf, std::string_view key, std::string* found_key,
                                    std::string* value) const {
  // Not needed by execution; the overlay would have to merge deletes. Answer from the base when
  // the overlay holds nothing for this column family.
  const std::string lo(1, static_cast<char>(cf));
  auto it = writes_.lower_bound(lo);
  HC_ASSERT_MSG(it == writes_.end() || it->first[0] != static_cast<char>(cf),
                "SeekAtOrBefore over uncommitted writes is not supported");
  return base_.SeekAtOrBefore(cf, key, found_key, value);
}

Status StateOverlay::Prefetch(Cf cf, const std::vector<std::string_view>& keys) const {
  std::vector<std::string_view> wanted;
  std::vector<std::string> composed;
  wanted.reserve(keys.size());
  composed.reserve(keys.size());
  for (std::string_view key : keys) {
    std::string k = ComposeKey(cf, key);
    if (writes_.count(k) != 0 || read_cache_.count(k) != 0) continue;
    wanted.push_back(key);
    composed.push_back(std::move(k));
  }
  std::vector<std::optional<std::string>> values;
  HC_RETURN_IF_ERROR(base_.GetMany(cf, wanted, &values));
  for (size_t i = 0; i < wanted.size(); ++i) {
    read_cache_.insert_or_assign(std::move(composed[i]), std::move(values[i]));
  }
  return Status::Ok();
}

void StateOverlay::AssumeAbsent(Cf cf, std::string_view key) const {
  std::string k = ComposeKey(cf, key);
  if (writes_.count(k) == 0) read_cache_.insert_or_assign(std::move(k), std::nullopt);
}

void StateOverlay::Put(Cf cf, std::string key, std::string value) {
  writes_.insert_or_assign(ComposeKey(cf, key), std::move(value));
}

void StateOverlay::Delete(Cf cf, std::string key) {
  writes_.insert_or_assign(ComposeKey(cf, key), std::nullopt);
}

KvBatch StateOverlay::TakeWrites() {
  KvBatch batch;
  batch.writes.reserve(writes_.size());
  // The map's nodes are taken apart, so neither keys nor values are copied.
  while (!writes_.empty()) {
    auto node = writes_.extract(writes_.begin());
    std::string& key = node.key();
    const Cf cf = static_cast<Cf>(key[0]);
    key.erase(0, 1);
    batch.writes.push_back({cf, std::move(key), std::move(node.mapped())});
  }
  read_cache_.clear();
  return batch;
}

}  // namespace hc::ledger

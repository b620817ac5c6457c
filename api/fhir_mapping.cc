// How each ledger record becomes an R4 resource; docs/spec/fhir.md lists every field and code.
#include "api/fhir_mapping.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <limits>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "ledger/tx.h"

namespace hc::api::fhir {

namespace json = boost::json;

namespace {

constexpr std::string_view kDicomSystem = "http://dicom.nema.org/resources/ontology/DCM";
constexpr std::string_view kLifecycleSystem =
    "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";
constexpr std::string_view kActReasonSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
constexpr std::string_view kParticipationSystem =
    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
constexpr std::string_view kConfidentialitySystem =
    "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
constexpr std::string_view kClaimTypeSystem = "http://terminology.hl7.org/CodeSystem/claim-type";
constexpr std::string_view kAdjudicationSystem =
    "http://terminology.hl7.org/CodeSystem/adjudication";
constexpr int64_t kUnsignedIntMax = std::numeric_limits<int32_t>::max();

json::object Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  json::object c;
  c["system"] = system;
  c["code"] = code;
  if (!display.empty()) c["display"] = display;
  return c;
}

json::object Concept(json::object coding) {
  json::object cc;
  cc["coding"] = json::array{std::move(coding)};
  return cc;
}

json::object Ref(std::string reference, std::string_view display = {}) {
  json::object r;
  r["reference"] = std::move(reference);
  if (!display.empty()) r["display"] = display;
  return r;
}

json::object OrgReference(const OrgRef& org) {
  return Ref("Organization/" + IdentityId(org.key), org.name);
}

json::object Identifier(std::string_view system, std::string_view value) {
  json::object id;
  id["system"] = system;
  id["value"] = value;
  return id;
}

// An unsignedInt extension value when it fits FHIR's 31-bit range, else the decimal string.
json::object NumberExtension(std::string_view url, uint64_t value) {
  json::object e;
  e["url"] = url;
  if (value <= static_cast<uint64_t>(kUnsignedIntMax)) {
    e["valueUnsignedInt"] = value;
  } else {
    e["valueString"] = std::to_string(value);
  }
  return e;
}

json::object StringExtension(std::string_view url, std::string_view value) {
  json::object e;
  e["url"] = url;
  e["valueString"] = value;
  return e;
}

// The ledger-entry extension: which log entry (event, tx id, height, log index, block time) the
// resource derives from.
json::object LedgerEntryExtension(const LedgerRef& ref) {
  json::array parts;
  {
    json::object e;
    e["url"] = "event";
    e["valueCode"] = ref.event;
    parts.push_back(std::move(e));
  }
  parts.push_back(StringExtension("txId", HexEncode(ref.tx_id)));
  parts.push_back(NumberExtension("height", ref.height));
  parts.push_back(NumberExtension("logIndex", ref.log_index));
  {
    json::object e;
    e["url"] = "blockTime";
    e["valueInstant"] = Instant(ref.time_ms);
    parts.push_back(std::move(e));
  }
  json::object ext;
  ext["url"] = kLedgerEntryUrl;
  ext["extension"] = std::move(parts);
  return ext;
}

json::object Meta(int64_t last_updated_ms, std::string_view version_id = {}) {
  json::object m;
  if (!version_id.empty()) m["versionId"] = version_id;
  m["lastUpdated"] = Instant(last_updated_ms);
  return m;
}

std::string_view PurposeDisplay(pb::Purpose purpose) {
  switch (purpose) {
    case pb::PURPOSE_TREAT:
      return "treatment";
    case pb::PURPOSE_ETREAT:
      return "Emergency Treatment";
    case pb::PURPOSE_HPAYMT:
      return "healthcare payment";
    case pb::PURPOSE_HOPERAT:
      return "healthcare operations";
    case pb::PURPOSE_HRESCH:
      return "healthcare research";
    case pb::PURPOSE_PUBHLTH:
      return "public health";
    case pb::PURPOSE_PATRQT:
      return "patient requested";
    default:
      return "";
  }
}

std::string_view CategoryDisplay(pb::RecordCategory category) {
  switch (category) {
    case pb::RECORD_CATEGORY_CLINICAL_NOTE:
      return "Clinical note";
    case pb::RECORD_CATEGORY_LABORATORY:
      return "Laboratory";
    case pb::RECORD_CATEGORY_IMAGING:
      return "Imaging";
    case pb::RECORD_CATEGORY_MEDICATION:
      return "Medication";
    case pb::RECORD_CATEGORY_DISCHARGE_SUMMARY:
      return "Discharge summary";
    case pb::RECORD_CATEGORY_IMMUNIZATION:
      return "Immunization";
    case pb::RECORD_CATEGORY_MENTAL_HEALTH:
      return "Mental health";
    case pb::RECORD_CATEGORY_SUBSTANCE_USE:
      return "Substance use";
    case pb::RECORD_CATEGORY_GENETIC:
      return "Genetic";
    case pb::RECORD_CATEGORY_BILLING:
      return "Billing";
    default:
      return "Unspecified";
  }
}

bool IsSensitive(pb::RecordCategory category) {
  return category == pb::RECORD_CATEGORY_MENTAL_HEALTH ||
         category == pb::RECORD_CATEGORY_SUBSTANCE_USE || category == pb::RECORD_CATEGORY_GENETIC;
}

json::object CategoryConcept(pb::RecordCategory category) {
  return Concept(
      Coding(kRecordCategorySystem, RecordCategoryCode(category), CategoryDisplay(category)));
}

json::object Money(int64_t cents, std::string_view currency) {
  json::object m;
  // Whole amounts as JSON integers (exact). Boost.JSON writes other doubles in exponent form
  // ("1.2045E2"), which FHIR's decimal grammar allows; cents fit a double exactly up to 2^53.
  if (cents % 100 == 0) {
    m["value"] = cents / 100;
  } else {
    m["value"] = static_cast<double>(cents) / 100.0;
  }
  if (!currency.empty()) m["currency"] = currency;
  return m;
}

json::object AgentWithType(json::object type, json::object who, bool requestor) {
  json::object a;
  a["type"] = std::move(type);
  a["who"] = std::move(who);
  a["requestor"] = requestor;
  return a;
}

}  // namespace

// ---- Helpers ----

std::string Instant(int64_t time_ms) {
  // Howard Hinnant's civil_from_days: proleptic Gregorian date of a day count since 1970-01-01.
  int64_t secs = time_ms / 1000;
  int64_t ms = time_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[96];
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60), static_cast<long long>(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60));
  }
  return buf;
}

bool IsFhirId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string FhirId(std::string_view ledger_id) {
  if (IsFhirId(ledger_id)) return std::string(ledger_id);
  return "sha256-" + HexEncode(crypto::Sha256(AsBytes(ledger_id))).substr(0, 57);
}

std::string IdentityId(ByteView key) { return ledger::IdentityId(key); }

std::string PatientReference(ByteView patient_key) { return "Patient/" + IdentityId(patient_key); }

std::string NiUri(ByteView sha256) {
  std::string b64 = Base64Encode(sha256);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return "ni:///sha-256;" + b64;
}

std::string_view PurposeCode(pb::Purpose purpose) {
  switch (purpose) {
    case pb::PURPOSE_TREAT:
      return "TREAT";
    case pb::PURPOSE_ETREAT:
      return "ETREAT";
    case pb::PURPOSE_HPAYMT:
      return "HPAYMT";
    case pb::PURPOSE_HOPERAT:
      return "HOPERAT";
    case pb::PURPOSE_HRESCH:
      return "HRESCH";
    case pb::PURPOSE_PUBHLTH:
      return "PUBHLTH";
    case pb::PURPOSE_PATRQT:
      return "PATRQT";
    default:
      return "";
  }
}

std::string_view RecordCategoryCode(pb::RecordCategory category) {
  switch (category) {
    case pb::RECORD_CATEGORY_CLINICAL_NOTE:
      return "clinical-note";
    case pb::RECORD_CATEGORY_LABORATORY:
      return "laboratory";
    case pb::RECORD_CATEGORY_IMAGING:
      return "imaging";
    case pb::RECORD_CATEGORY_MEDICATION:
      return "medication";
    case pb::RECORD_CATEGORY_DISCHARGE_SUMMARY:
      return "discharge-summary";
    case pb::RECORD_CATEGORY_IMMUNIZATION:
      return "immunization";
    case pb::RECORD_CATEGORY_MENTAL_HEALTH:
      return "mental-health";
    case pb::RECORD_CATEGORY_SUBSTANCE_USE:
      return "substance-use";
    case pb::RECORD_CATEGORY_GENETIC:
      return "genetic";
    case pb::RECORD_CATEGORY_BILLING:
      return "billing";
    default:
      return "unspecified";
  }
}

json::object OperationOutcome(std::string_view severity, std::string_view code,
                              std::string_view diagnostics) {
  json::object issue;
  issue["severity"] = severity;
  issue["code"] = code;
  if (!diagnostics.empty()) issue["diagnostics"] = diagnostics;
  json::object oo;
  oo["resourceType"] = "OperationOutcome";
  oo["issue"] = json::array{std::move(issue)};
  return oo;
}

json::object SearchBundle(std::vector<json::object> resources, std::string_view self_url) {
  json::object b;
  b["resourceType"] = "Bundle";
  b["type"] = "searchset";
  b["total"] = resources.size();
  json::object self;
  self["relation"] = "self";
  self["url"] = self_url;
  b["link"] = json::array{std::move(self)};
  json::array entries;
  for (auto& r : resources) {
    json::object e;
    e["resource"] = std::move(r);
    json::object search;
    search["mode"] = "match";
    e["search"] = std::move(search);
    entries.push_back(std::move(e));
  }
  if (!entries.empty()) b["entry"] = std::move(entries);
  return b;
}

// ---- Consent (IHE PCF over R4 Consent) ----

json::object ConsentResource(const ConsentInput& in) {
  const lpb::ConsentState& c = in.consent;
  const pb::GrantConsent& g = c.grant();
  const bool inactive = c.revoked() || (in.now_ms != 0 && in.now_ms >= g.valid_until_ms());

  json::object r;
  r["resourceType"] = "Consent";
  r["id"] = FhirId(g.consent_id());
  // A revocation is a new version of the same resource.
  r["meta"] = Meta(in.revoke ? in.revoke->time_ms : in.grant.time_ms, in.revoke ? "2" : "1");
  json::array ext{LedgerEntryExtension(in.grant)};
  if (in.revoke) {
    json::object e = LedgerEntryExtension(*in.revoke);
    if (!c.revoke_reason().empty()) {
      e["extension"].as_array().push_back(StringExtension("reason", c.revoke_reason()));
    }
    ext.push_back(std::move(e));
  }
  r["extension"] = std::move(ext);
  r["identifier"] = json::array{Identifier(kConsentIdSystem, g.consent_id())};
  r["status"] = inactive ? "inactive" : "active";
  r["scope"] = Concept(Coding("http://terminology.hl7.org/CodeSystem/consentscope",
                              "patient-privacy", "Privacy Consent"));
  r["category"] = json::array{Concept(Coding("http://loinc.org", "59284-0", "Patient Consent"))};
  r["patient"] = Ref(PatientReference(AsBytes(g.patient_key())));
  r["dateTime"] = Instant(in.grant.time_ms);
  // The signer: the patient, or the guardian (also an enrolled patient identity).
  r["performer"] = json::array{Ref(PatientReference(AsBytes(c.granted_by())))};
  json::object policy;
  if (!in.policy_uri.empty()) {
    policy["uri"] = in.policy_uri;
  } else {
    policy["uri"] = std::string(kFhirBase) + "/policy/" + g.policy_id();
  }
  r["policy"] = json::array{std::move(policy)};

  json::object provision;
  provision["type"] = "permit";
  json::object period;
  period["start"] = Instant(g.valid_from_ms());
  period["end"] = Instant(g.valid_until_ms());
  provision["period"] = std::move(period);
  json::object actor;
  actor["role"] = Concept(Coding(kParticipationSystem, "IRCP", "information recipient"));
  actor["reference"] = OrgReference(in.grantee);
  provision["actor"] = json::array{std::move(actor)};
  provision["action"] = json::array{
      Concept(Coding("http://terminology.hl7.org/CodeSystem/consentaction", "access", "Access"))};
  json::array purposes;
  for (int p : g.purposes()) {
    const auto purpose = static_cast<pb::Purpose>(p);
    if (PurposeCode(purpose).empty()) continue;
    purposes.push_back(Coding(kActReasonSystem, PurposeCode(purpose), PurposeDisplay(purpose)));
  }
  if (!purposes.empty()) provision["purpose"] = std::move(purposes);
  // Categories in scope: Consent.provision.code ("the content the consent applies to").
  json::array codes;
  for (int cat : g.scope().categories()) {
    codes.push_back(CategoryConcept(static_cast<pb::RecordCategory>(cat)));
  }
  if (!codes.empty()) provision["code"] = std::move(codes);
  json::array data;
  for (const std::string& record_id : g.scope().record_ids()) {
    json::object d;
    d["meaning"] = "instance";
    d["reference"] = Ref("DocumentReference/" + FhirId(record_id));
    data.push_back(std::move(d));
  }
  if (!data.empty()) provision["data"] = std::move(data);
  r["provision"] = std::move(provision);
  return r;
}

// ---- DocumentReference (IHE MHD Minimal) and its Provenance ----

json::object DocumentReferenceResource(const RecordInput& in, const MappingOptions& options) {
  const lpb::RecordState& rec = in.record;
  json::object r;
  r["resourceType"] = "DocumentReference";
  r["id"] = FhirId(rec.record_id());
  json::object meta = Meta(in.erase ? in.erase->time_ms : in.anchor.time_ms, in.erase ? "2" : "1");
  if (in.erase) {
    // Crypto-shredded: the reference and hash stay on the ledger, the content is gone.
    meta["tag"] = json::array{Coding(kRecordStateSystem, "erased", "Content erased")};
  }
  r["meta"] = std::move(meta);
  json::array ext{LedgerEntryExtension(in.anchor)};
  if (in.erase) ext.push_back(LedgerEntryExtension(*in.erase));
  r["extension"] = std::move(ext);
  r["masterIdentifier"] = Identifier(kRecordIdSystem, rec.record_id());
  // Attachment.hash is SHA-1 by definition; the ledger's SHA-256 of the ciphertext goes here.
  r["identifier"] =
      json::array{Identifier("urn:ietf:rfc:6920", NiUri(AsBytes(rec.ciphertext_sha256())))};
  r["status"] = "current";
  r["category"] = json::array{CategoryConcept(rec.category())};
  r["subject"] = Ref(PatientReference(AsBytes(rec.patient_key())));
  r["date"] = Instant(in.anchor.time_ms);
  r["author"] = json::array{OrgReference(in.hospital)};
  r["custodian"] = OrgReference(in.hospital);
  if (!rec.description().empty()) r["description"] = rec.description();
  r["securityLabel"] = json::array{Concept(IsSensitive(rec.category())
                                               ? Coding(kConfidentialitySystem, "R", "restricted")
                                               : Coding(kConfidentialitySystem, "N", "normal"))};
  json::object attachment;
  attachment["contentType"] =
      rec.content_type().empty() ? std::string("application/octet-stream") : rec.content_type();
  // The URL serves the encrypted payload (and the caller's wrapped key) to an authorised caller.
  attachment["url"] = options.api_base_url + "/v1/payloads/" + rec.record_id();
  if (rec.ciphertext_size() <= static_cast<uint64_t>(kUnsignedIntMax)) {
    attachment["size"] = rec.ciphertext_size();
  }
  if (!rec.description().empty()) attachment["title"] = rec.description();
  attachment["creation"] = Instant(in.anchor.time_ms);
  json::object content;
  content["attachment"] = std::move(attachment);
  r["content"] = json::array{std::move(content)};
  return r;
}

json::object ProvenanceResource(const RecordInput& in) {
  json::object r;
  r["resourceType"] = "Provenance";
  r["id"] = HexEncode(in.anchor.tx_id);
  r["extension"] = json::array{LedgerEntryExtension(in.anchor)};
  r["target"] = json::array{Ref("DocumentReference/" + FhirId(in.record.record_id()))};
  r["recorded"] = Instant(in.anchor.time_ms);
  r["activity"] =
      Concept(Coding("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE", "create"));
  json::object agent;
  agent["type"] = Concept(Coding(
      "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author"));
  agent["who"] = OrgReference(in.hospital);
  r["agent"] = json::array{std::move(agent)};
  return r;
}

// ---- AuditEvent (IHE BALP PrivacyDisclosure pattern) ----

std::optional<json::object> AuditEventResource(const AuditInput& in,
                                               const MappingOptions& options) {
  const lpb::AuditEvent& ev = in.event;
  const bool access = ev.kind() == lpb::AuditEvent::KIND_ACCESS;
  const bool break_glass = ev.kind() == lpb::AuditEvent::KIND_BREAK_GLASS;
  const bool erase = ev.kind() == lpb::AuditEvent::KIND_ERASE;
  if (!access && !break_glass && !erase) return std::nullopt;
  const bool success = ev.status() == pb::TX_STATUS_OK;

  LedgerRef ref;
  ref.event = access ? "access" : break_glass ? "break-glass" : "erase";
  ref.log_index = ev.entry();
  ref.height = ev.height();
  ref.time_ms = ev.time_ms();
  if (ev.tx_id().size() == ref.tx_id.size()) ref.tx_id = ToHash32(AsBytes(ev.tx_id()));

  json::object r;
  r["resourceType"] = "AuditEvent";
  r["id"] = HexEncode(ref.tx_id);
  r["extension"] = json::array{LedgerEntryExtension(ref)};
  if (break_glass) {
    r["type"] = Coding(kDicomSystem, "110113", "Security Alert");
    r["subtype"] =
        json::array{Coding(kDicomSystem, "110127", "Emergency Override Started"),
                    Coding(kLifecycleSystem, "disclose", "Disclose Record Lifecycle Event")};
  } else if (access) {
    r["type"] = Coding(kDicomSystem, "110106", "Export");
    r["subtype"] =
        json::array{Coding(kLifecycleSystem, "disclose", "Disclose Record Lifecycle Event")};
  } else {
    r["type"] = Coding(kDicomSystem, "110110", "Patient Record");
    r["subtype"] =
        json::array{Coding(kLifecycleSystem, "destroy", "Destroy/Delete Record Lifecycle Event")};
  }
  r["action"] = erase ? "D" : "R";
  r["recorded"] = Instant(ev.time_ms());
  // 0 success; 4 minor failure: the rules refused the request (a denial is itself evidence).
  r["outcome"] = success ? "0" : "4";
  if (!success) {
    std::string desc = pb::TxStatus_Name(ev.status());
    if (ev.deny_reason() != pb::DENY_REASON_UNSPECIFIED) {
      desc += ": " + pb::DenyReason_Name(ev.deny_reason());
    }
    r["outcomeDesc"] = desc;
  }
  const pb::Purpose purpose = break_glass ? pb::PURPOSE_ETREAT : ev.purpose();
  if (!PurposeCode(purpose).empty()) {
    r["purposeOfEvent"] = json::array{
        Concept(Coding(kActReasonSystem, PurposeCode(purpose), PurposeDisplay(purpose)))};
  }

  json::array agents;
  const bool actor_is_patient = ev.actor_key() == ev.patient_key();
  json::object actor_who =
      actor_is_patient
          ? Ref(PatientReference(AsBytes(ev.actor_key())))
          : Ref("Organization/" + IdentityId(AsBytes(ev.actor_key())), ev.actor_name());
  if (erase) {
    // The erasing identity asked for the destruction.
    agents.push_back(
        AgentWithType(Concept(Coding(kParticipationSystem, "AUT", "author (originator)")),
                      std::move(actor_who), true));
  } else {
    // Source: the custodian whose record was disclosed; recipient: the requesting org.
    if (in.source) {
      agents.push_back(AgentWithType(Concept(Coding(kDicomSystem, "110153", "Source Role ID")),
                                     OrgReference(*in.source), false));
    }
    json::object recipient =
        AgentWithType(Concept(Coding(kParticipationSystem, "IRCP", "information recipient")),
                      std::move(actor_who), true);
    if (!PurposeCode(purpose).empty()) {
      recipient["purposeOfUse"] = json::array{
          Concept(Coding(kActReasonSystem, PurposeCode(purpose), PurposeDisplay(purpose)))};
    }
    agents.push_back(std::move(recipient));
  }
  r["agent"] = std::move(agents);

  json::object source;
  json::object observer;
  observer["identifier"] = Identifier("https://healthchain.example/fhir/sid/chain-id",
                                      options.chain_id.empty() ? "healthchain" : options.chain_id);
  observer["display"] = "Health Chain ledger " + options.chain_id;
  source["observer"] = std::move(observer);
  source["type"] = json::array{Coding("http://terminology.hl7.org/CodeSystem/security-source-type",
                                      "4", "Application Server")};
  r["source"] = std::move(source);

  json::array entities;
  {
    json::object patient;
    patient["what"] = Ref(PatientReference(AsBytes(ev.patient_key())));
    patient["type"] =
        Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person");
    patient["role"] = Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient");
    entities.push_back(std::move(patient));
  }
  if (!ev.record_id().empty()) {
    json::object record;
    record["what"] = Ref("DocumentReference/" + FhirId(ev.record_id()));
    record["type"] =
        Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
    record["role"] = Coding("http://terminology.hl7.org/CodeSystem/object-role", "3", "Report");
    if (!ev.record_description().empty()) record["description"] = ev.record_description();
    json::array details;
    if (!ev.consent_id().empty()) {
      json::object d;
      d["type"] = "consent";
      d["valueString"] = ev.consent_id();
      details.push_back(std::move(d));
    }
    if (!ev.justification().empty()) {
      json::object d;
      d["type"] = "justification";
      d["valueString"] = ev.justification();
      details.push_back(std::move(d));
    }
    if (!details.empty()) record["detail"] = std::move(details);
    entities.push_back(std::move(record));
  }
  r["entity"] = std::move(entities);
  return r;
}

// ---- Claim and ClaimResponse ----

json::object ClaimResource(const ClaimInput& in) {
  const lpb::ClaimState& c = in.claim;
  json::object r;
  r["resourceType"] = "Claim";
  r["id"] = FhirId(c.claim_id());
  r["meta"] = Meta(in.submit.time_ms, "1");
  r["extension"] = json::array{LedgerEntryExtension(in.submit)};
  json::array ids{Identifier(kClaimIdSystem, c.claim_id()),
                  Identifier(kClaimFingerprintSystem, HexEncode(AsBytes(c.fingerprint())))};
  if (!in.submitted.invoice_number().empty()) {
    ids.push_back(Identifier(kInvoiceSystem, in.submitted.invoice_number()));
  }
  r["identifier"] = std::move(ids);
  r["status"] = "active";
  r["type"] = Concept(Coding(kClaimTypeSystem, "institutional", "Institutional"));
  r["use"] = "claim";
  r["patient"] = Ref(PatientReference(AsBytes(c.patient_key())));
  r["created"] = Instant(in.submit.time_ms);
  r["insurer"] = OrgReference(in.insurer);
  r["provider"] = OrgReference(in.hospital);
  r["priority"] =
      Concept(Coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal"));
  // Evidence records as supporting information (attachments).
  json::array info;
  int64_t seq = 1;
  for (const std::string& record_id : c.evidence_record_ids()) {
    json::object s;
    s["sequence"] = seq++;
    s["category"] = Concept(Coding("http://terminology.hl7.org/CodeSystem/claiminformationcategory",
                                   "attachment", "Attachment"));
    s["valueReference"] = Ref("DocumentReference/" + FhirId(record_id));
    info.push_back(std::move(s));
  }
  if (!info.empty()) r["supportingInfo"] = std::move(info);
  // The ledger has no Coverage resource: the coverage is identified by the insurer's identity.
  json::object coverage;
  coverage["type"] = "Coverage";
  coverage["identifier"] = Identifier(kIdentitySystem, IdentityId(AsBytes(c.insurer_key())));
  coverage["display"] =
      in.insurer.name.empty() ? std::string("Coverage") : "Coverage by " + in.insurer.name;
  json::object insurance;
  insurance["sequence"] = 1;
  insurance["focal"] = true;
  insurance["coverage"] = std::move(coverage);
  r["insurance"] = json::array{std::move(insurance)};
  json::array items;
  seq = 1;
  for (const pb::ClaimItem& it : in.submitted.items()) {
    json::object item;
    item["sequence"] = seq++;
    item["productOrService"] = Concept(Coding(kBillingCodeSystem, it.code()));
    if (!in.submitted.service_date().empty()) item["servicedDate"] = in.submitted.service_date();
    json::object qty;
    qty["value"] = it.quantity();
    item["quantity"] = std::move(qty);
    item["unitPrice"] = Money(it.unit_price_cents(), c.currency());
    item["net"] = Money(it.unit_price_cents() * static_cast<int64_t>(it.quantity()), c.currency());
    items.push_back(std::move(item));
  }
  if (!items.empty()) r["item"] = std::move(items);
  r["total"] = Money(c.total_cents(), c.currency());
  return r;
}

json::object ClaimResponseResource(const ClaimResponseInput& in) {
  const lpb::ClaimState& c = in.claim;
  json::object r;
  r["resourceType"] = "ClaimResponse";
  r["id"] = FhirId(c.claim_id());
  r["meta"] = Meta(in.adjudicate.time_ms, "1");
  r["extension"] = json::array{LedgerEntryExtension(in.adjudicate)};
  r["identifier"] = json::array{Identifier(kClaimIdSystem, c.claim_id())};
  r["status"] = "active";
  r["type"] = Concept(Coding(kClaimTypeSystem, "institutional", "Institutional"));
  r["use"] = "claim";
  r["patient"] = Ref(PatientReference(AsBytes(c.patient_key())));
  r["created"] = Instant(in.adjudicate.time_ms);
  r["insurer"] = OrgReference(in.insurer);
  r["request"] = Ref("Claim/" + FhirId(c.claim_id()));
  // The adjudication is complete whatever the decision; the decision is the disposition and the
  // benefit amount (R4 remittance-outcome "partial" means partial processing, not approval).
  r["outcome"] = "complete";
  switch (c.decision()) {
    case pb::CLAIM_DECISION_APPROVED:
      r["disposition"] = "Claim approved";
      break;
    case pb::CLAIM_DECISION_PARTIAL:
      r["disposition"] = "Claim partially approved";
      break;
    case pb::CLAIM_DECISION_REJECTED:
      r["disposition"] = "Claim rejected";
      break;
    default:
      r["disposition"] = "Claim adjudicated";
      break;
  }
  json::object submitted;
  submitted["category"] = Concept(Coding(kAdjudicationSystem, "submitted", "Submitted Amount"));
  submitted["amount"] = Money(c.total_cents(), c.currency());
  json::object benefit;
  benefit["category"] = Concept(Coding(kAdjudicationSystem, "benefit", "Benefit Amount"));
  benefit["amount"] = Money(c.approved_cents(), c.currency());
  r["total"] = json::array{std::move(submitted), std::move(benefit)};
  if (!in.adjudication.note().empty()) {
    json::object note;
    note["number"] = 1;
    note["type"] = "display";
    note["text"] = in.adjudication.note();
    r["processNote"] = json::array{std::move(note)};
  }
  return r;
}

}  // namespace hc::api::fhir

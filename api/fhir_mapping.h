// Ledger records as FHIR R4 (4.0.1) resources (docs/spec/fhir.md; /work/shared FHIR-MAPPING).
//
// A pure mapping: every function takes the ledger's stored records plus the few facts it cannot
// know (block times, tx ids, the policy's URI) and returns a Boost.JSON object. No IO, no clock,
// no store; api/fhir_reader.h gathers the inputs from a Ledger.
//
// Rules every resource follows:
//   - Patients are pseudonymous: only `Patient/<identity id>` references (hex SHA-256 of the key,
//     docs/spec/wire.md W7), never names. Organisations are `Organization/<identity id>` with
//     their public name as `display`.
//   - Ledger facts (tx id, height, log index) go in the `ledger-entry` extension (kLedgerEntryUrl)
//     and, where the resource has one, an `identifier`; never as unknown top-level keys.
//   - Instants carry seconds and `Z` (UTC), with milliseconds when not zero.
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger_state.pb.h"

namespace hc::api::fhir {

namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

// The project's own FHIR URLs (extensions, identifier systems, code systems).
inline constexpr std::string_view kFhirBase = "https://healthchain.example/fhir";
inline constexpr std::string_view kLedgerEntryUrl =
    "https://healthchain.example/fhir/StructureDefinition/ledger-entry";
inline constexpr std::string_view kConsentIdSystem =
    "https://healthchain.example/fhir/sid/consent-id";
inline constexpr std::string_view kRecordIdSystem =
    "https://healthchain.example/fhir/sid/record-id";
inline constexpr std::string_view kClaimIdSystem = "https://healthchain.example/fhir/sid/claim-id";
inline constexpr std::string_view kClaimFingerprintSystem =
    "https://healthchain.example/fhir/sid/claim-fingerprint";
inline constexpr std::string_view kInvoiceSystem = "https://healthchain.example/fhir/sid/invoice";
inline constexpr std::string_view kTxIdSystem = "https://healthchain.example/fhir/sid/tx-id";
inline constexpr std::string_view kIdentitySystem = "https://healthchain.example/fhir/sid/identity";
inline constexpr std::string_view kRecordCategorySystem =
    "https://healthchain.example/fhir/CodeSystem/record-category";
inline constexpr std::string_view kBillingCodeSystem =
    "https://healthchain.example/fhir/CodeSystem/billing-code";
inline constexpr std::string_view kRecordStateSystem =
    "https://healthchain.example/fhir/CodeSystem/record-state";
inline constexpr std::string_view kFhirJsonContentType = "application/fhir+json";
inline constexpr std::string_view kNdjsonContentType = "application/fhir+ndjson";

// One ledger entry a resource derives from.
struct LedgerRef {
  std::string event;       // "grant", "revoke", "anchor", "erase", "access", "break-glass",
                           // "submit", "adjudicate"
  uint64_t log_index = 0;  // leaf index in the entry log
  uint64_t height = 0;
  int64_t time_ms = 0;  // block time
  Hash32 tx_id{};
};

// An organisation as references show it.
struct OrgRef {
  Bytes key;         // Ed25519 public key
  std::string name;  // public name; may be empty
};

struct MappingOptions {
  std::string chain_id;
  // Prefix of attachment URLs for payloads ("https://node.example"); empty gives the relative
  // "/v1/payloads/<record id>".
  std::string api_base_url;
};

// ---- Small helpers (exposed for the routes and tests) ----

// "2026-01-01T00:00:00Z" (".123" before the Z when the milliseconds are not zero).
std::string Instant(int64_t time_ms);
// A FHIR id ([A-Za-z0-9\-\.]{1,64}) for a ledger id: the ledger id itself when it is one, else
// "sha256-" + the first 57 hex digits of its SHA-256 (not resolvable by read; search instead).
std::string FhirId(std::string_view ledger_id);
bool IsFhirId(std::string_view id);
// hex(SHA-256("hc/id/v1" || key)).
std::string IdentityId(ByteView key);
std::string PatientReference(ByteView patient_key);  // "Patient/<identity id>"
// RFC 6920 named information URI of a SHA-256: "ni:///sha-256;<base64url, no padding>".
std::string NiUri(ByteView sha256);
// v3-ActReason code ("TREAT") and display of a purpose; empty code for UNSPECIFIED.
std::string_view PurposeCode(pb::Purpose purpose);
std::string_view RecordCategoryCode(pb::RecordCategory category);  // "laboratory"

// An OperationOutcome with one issue (severity "error"/"fatal"/"warning"/"information"; code
// from the R4 issue-type value set, e.g. "not-found", "forbidden", "invalid", "exception").
boost::json::object OperationOutcome(std::string_view severity, std::string_view code,
                                     std::string_view diagnostics);
// A searchset Bundle with `resources` as matches; `self_url` is the search as asked.
boost::json::object SearchBundle(std::vector<boost::json::object> resources,
                                 std::string_view self_url);

// ---- Resources ----

struct ConsentInput {
  lpb::ConsentState consent;
  LedgerRef grant;
  std::optional<LedgerRef> revoke;
  OrgRef grantee;
  std::string policy_uri;  // the registered policy's URI; empty when unknown
  int64_t now_ms = 0;      // the tip's block time: an expired consent is inactive
};
boost::json::object ConsentResource(const ConsentInput& in);

struct RecordInput {
  lpb::RecordState record;
  LedgerRef anchor;
  std::optional<LedgerRef> erase;
  OrgRef hospital;
};
boost::json::object DocumentReferenceResource(const RecordInput& in, const MappingOptions& options);
// Who created the record and when: target DocumentReference, agent the anchoring hospital.
boost::json::object ProvenanceResource(const RecordInput& in);

struct AuditInput {
  lpb::AuditEvent event;         // KIND_ACCESS, KIND_BREAK_GLASS or KIND_ERASE
  OrgRef actor;                  // the accessing org (for erasure, possibly the patient: key only)
  std::optional<OrgRef> source;  // the record's anchoring hospital (the disclosing custodian)
};
// Nullopt for kinds that have no AuditEvent view (claims and adjudications are Claim and
// ClaimResponse).
std::optional<boost::json::object> AuditEventResource(const AuditInput& in,
                                                      const MappingOptions& options);

struct ClaimInput {
  lpb::ClaimState claim;
  pb::SubmitClaim submitted;  // the payload (items, service date, invoice)
  LedgerRef submit;
  OrgRef hospital;
  OrgRef insurer;
};
boost::json::object ClaimResource(const ClaimInput& in);

struct ClaimResponseInput {
  lpb::ClaimState claim;  // adjudicated
  pb::AdjudicateClaim adjudication;
  LedgerRef adjudicate;
  OrgRef insurer;
};
boost::json::object ClaimResponseResource(const ClaimResponseInput& in);

}  // namespace hc::api::fhir

// Reads the ledger's committed state and maps it to FHIR R4 resources (api/fhir_mapping.h), with
// who took part in each, so the routes can apply the read rules (DESIGN.md §6). No HTTP here: the
// routes (api/fhir_routes.cc) call these inside LedgerView::Read, and tests call them on a Ledger.
//
// Thread-safety: as Ledger's const reads (not concurrently with Commit).
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/fhir_mapping.h"
#include "common/status.h"
#include "ledger/ledger.h"

namespace hc::api::fhir {

// Searches and exports stop with ResourceExhausted past these (no paging yet).
inline constexpr size_t kFhirSearchMax = 1000;
inline constexpr size_t kFhirExportMax = 100'000;

enum class ResourceKind {
  kConsent,
  kDocumentReference,
  kAuditEvent,
  kProvenance,
  kClaim,
  kClaimResponse,
};
std::string_view ResourceKindName(ResourceKind kind);  // "Consent", ...

// What to select. Unset fields do not filter. `ledger_id` is the consent / record / claim id
// (for AuditEvent and Provenance: the hex tx id).
struct FhirFilter {
  std::optional<std::string> ledger_id;
  std::optional<std::string> patient_key;  // raw 32-byte key
  std::optional<std::string> record_id;    // Provenance?target=DocumentReference/<id>
  std::optional<std::string> claim_id;     // ClaimResponse?request=Claim/<id>
};

// One resource and who took part in the event(s) behind it (raw keys).
struct FhirItem {
  boost::json::object resource;
  std::string patient_key;
  std::vector<std::string> org_keys;
};

// Every resource of `kind` matching `filter`, in ledger order (ids / log order). Corruption or
// IoError when the store fails; ResourceExhausted past `max_items`.
Result<std::vector<FhirItem>> Collect(const ledger::Ledger& ledger, ResourceKind kind,
                                      const FhirFilter& filter, const MappingOptions& options,
                                      size_t max_items = kFhirSearchMax);

// Every resource of every kind (the $export), in kind order. ResourceExhausted past `max_items`.
Result<std::vector<FhirItem>> CollectAll(const ledger::Ledger& ledger,
                                         const MappingOptions& options,
                                         size_t max_items = kFhirExportMax);

// The raw key of the enrolled patient whose identity id (hex SHA-256("hc/id/v1" || key), the id
// in `Patient/<id>` references) or whose hex public key (as the /v1 routes take it) is `id`;
// NotFound when none. An identity id scans the enrolled patients (the ledger has no id index).
Result<std::string> PatientKeyOfId(const ledger::Ledger& ledger, std::string_view id);

}  // namespace hc::api::fhir

// Every bound the ledger enforces, in one place (STYLE.md: "put a limit on everything").
//
// The transaction bounds restate the field comments of proto/healthchain/v1/tx.proto; the decoder
// (ledger/tx.h) rejects a transaction that breaks one as INVALID (docs/spec/ledger-rules.md R4).
// The storage and query bounds are the ledger's own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hc::ledger {

// ---- Envelope (R1..R3; docs/spec/wire.md W3, W6) ----
inline constexpr size_t kTxBodyMaxBytes = 64 * 1024;
// A SignedTx is the body, the signature and two field headers (tag + varint length each).
inline constexpr size_t kSignedTxMaxBytes = kTxBodyMaxBytes + 64 + 16;
inline constexpr size_t kKeyBytes = 32;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kHashBytes = 32;
inline constexpr size_t kNonceBytes = 16;
inline constexpr size_t kChainIdMaxChars = 64;

// ---- Identifiers (consent, record, claim, policy ids): 1..64 printable ASCII, no spaces ----
inline constexpr size_t kIdMaxChars = 64;

// ---- Membership ----
inline constexpr size_t kOrgNameMaxBytes = 200;
inline constexpr size_t kFhirOrganizationMaxBytes = 200;
inline constexpr size_t kSuspendReasonMaxBytes = 500;
inline constexpr size_t kPolicyUriMaxBytes = 500;

// ---- Consent ----
inline constexpr size_t kConsentPurposesMax = 8;
inline constexpr size_t kScopeCategoriesMax = 16;
inline constexpr size_t kScopeRecordIdsMax = 256;
inline constexpr size_t kRevokeReasonMaxBytes = 500;

// ---- Records ----
inline constexpr uint64_t kCiphertextMaxBytes = uint64_t{256} * 1024 * 1024;
inline constexpr size_t kRecordDescriptionMaxBytes = 200;
inline constexpr size_t kContentTypeMaxBytes = 100;
inline constexpr size_t kJustificationMaxBytes = 1000;
inline constexpr size_t kEraseReasonMaxBytes = 500;

// ---- Claims ----
inline constexpr size_t kClaimItemsMax = 64;
inline constexpr size_t kClaimCodeMaxChars = 32;
inline constexpr size_t kInvoiceNumberMaxChars = 64;
inline constexpr size_t kClaimEvidenceMax = 32;
inline constexpr size_t kCurrencyChars = 3;  // ISO 4217 alphabetic code
inline constexpr size_t kAdjudicationNoteMaxBytes = 500;
// Per-item money bounds keep every claim total far from int64 overflow: 64 items of at most 10^6
// units at 10^10 cents each stay below 2^63.
inline constexpr int64_t kUnitPriceMaxCents = 10'000'000'000;  // 100 million currency units
inline constexpr uint32_t kItemQuantityMax = 1'000'000;

// ---- Blocks ----
inline constexpr size_t kBlockTxsMax = 10'000;
inline constexpr size_t kBlockHeaderMaxBytes = 1024;
inline constexpr size_t kBlockMaxBytes = 64 * 1024 * 1024;
inline constexpr size_t kCertificateMaxBytes = 64 * 1024;
inline constexpr size_t kCertificateSignaturesMax = 1024;

// ---- Queries ----
inline constexpr size_t kQueryPageMax = 1000;
inline constexpr size_t kQueryPageDefault = 100;
// A claim's provenance bundle: its evidence records, their anchors and accesses, the consent, the
// claim and the adjudication. Accesses beyond this bound are left out and the bundle says so.
inline constexpr size_t kProvenanceEntriesMax = 4096;

// ---- Genesis ----
inline constexpr size_t kGenesisFileMaxBytes = 1024 * 1024;
inline constexpr size_t kGenesisValidatorsMax = 256;
inline constexpr size_t kGenesisCommissionsMax = 256;
inline constexpr size_t kAddressMaxBytes = 255;

// ---- How the bounds relate ----
static_assert(kSignedTxMaxBytes > kTxBodyMaxBytes + kSignatureBytes,
              "a SignedTx must fit the largest body and its signature");
static_assert(kBlockMaxBytes >= kBlockTxsMax * 1024,
              "a full block of typical (<= 1 KiB) txs must fit the block byte cap");
static_assert(kBlockTxsMax <= UINT32_MAX, "a tx's index in its block is a uint32 (LogEntry.index)");
static_assert(static_cast<unsigned __int128>(kClaimItemsMax) * kItemQuantityMax *
                      static_cast<uint64_t>(kUnitPriceMaxCents) <
                  static_cast<unsigned __int128>(INT64_MAX),
              "a claim total can never overflow int64");
static_assert(kScopeRecordIdsMax * (kIdMaxChars + 2) + kScopeCategoriesMax * 2 < kTxBodyMaxBytes,
              "the largest consent scope fits in one tx body");
static_assert(kClaimEvidenceMax <= kScopeRecordIdsMax,
              "every evidence record of a claim can be named in one consent scope");
static_assert(kQueryPageDefault <= kQueryPageMax);
static_assert(kGenesisValidatorsMax <= kCertificateSignaturesMax,
              "a certificate can carry a signature from every validator");

}  // namespace hc::ledger

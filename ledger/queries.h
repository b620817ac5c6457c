// The questions users come with (issue 3, "Queries"), answered from a Ledger's store.
//
// Every answer is read from committed state only. Proofs are inclusion proofs against the latest
// certified log root: the (log_size, log_root) in the tip block's header, which the tip's commit
// certificate signs. An entry newer than that root is returned without a proof (certified = false)
// until a later header covers it (DESIGN.md §2). Authorisation (who may ask what) is the API's job.
//
// Thread-safety: as Ledger's const reads (not concurrently with Commit).
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
#include "ledger/ledger.h"
#include "ledger_state.pb.h"

namespace hc::ledger {

// A page of events and the cursor for the next page (nullopt when this is the last page).
struct AuditPage {
  std::vector<::healthchain::ledger::v1::AuditEvent> events;
  std::optional<uint64_t> next_after;  // pass as `after_entry` to get the next page
};

// A patient's audit trail (the HIPAA §164.528 accounting of disclosures): every access attempt,
// break-glass, claim, adjudication and erasure touching the patient's records, oldest first. Each
// event carries the date (block time), the accessor org, the record's description, the purpose
// and the outcome. `after_entry` is exclusive (nullopt: from the start); `limit` is capped at
// kQueryPageMax (0 means kQueryPageDefault).
Result<AuditPage> PatientAuditTrail(const Ledger& ledger, ByteView patient_key,
                                    std::optional<uint64_t> after_entry, size_t limit);

// The commission review queue: every break-glass event, oldest first, paginated as above.
Result<AuditPage> BreakGlassReviewQueue(const Ledger& ledger, std::optional<uint64_t> after_entry,
                                        size_t limit);

enum class ConsentStatus {
  kNotGranted,  // the consent did not exist yet at that height/time
  kActive,
  kNotYetValid,  // before valid_from
  kExpired,      // at or after valid_until
  kRevoked,
};
std::string_view ConsentStatusName(ConsentStatus status);

struct ConsentStatusAnswer {
  ::healthchain::ledger::v1::ConsentState consent;
  ConsentStatus status = ConsentStatus::kNotGranted;
  uint64_t height = 0;  // the height asked about (0 when asked by time)
  int64_t time_ms = 0;  // the time the status was evaluated at
};

// The status of a consent as of block `height` (its timestamp is the time). NotFound for an
// unknown consent id; FailedPrecondition for a height past the tip.
Result<ConsentStatusAnswer> ConsentStatusAtHeight(const Ledger& ledger, std::string_view consent_id,
                                                  uint64_t height);
// The status of a consent at block time `time_ms` (granted and revoked by then, by block times).
Result<ConsentStatusAnswer> ConsentStatusAtTime(const Ledger& ledger, std::string_view consent_id,
                                                int64_t time_ms);

// All consents a patient has given, ordered by (grantee key, consent id), with their status now
// (at the tip's time). At most `limit` (capped at kQueryPageMax); `after_consent_key` is the
// `next_after` of the previous page.
struct ConsentPage {
  std::vector<ConsentStatusAnswer> consents;
  std::optional<std::string> next_after;
};
Result<ConsentPage> ConsentsOfPatient(const Ledger& ledger, ByteView patient_key,
                                      std::optional<std::string> after_consent_key, size_t limit);

// The root entries are proved against: the tip header's log claim, signed by its certificate.
struct CertifiedRoot {
  uint64_t height = 0;  // the certified block (0: nothing certified yet)
  std::string header;   // its header bytes
  ::healthchain::v1::CommitCertificate certificate;
  uint64_t log_size = 0;
  Hash32 log_root{};
};
Result<CertifiedRoot> LatestCertifiedRoot(const Ledger& ledger);

// One log entry with its RFC 9162 inclusion proof.
struct ProvedEntry {
  uint64_t index = 0;  // leaf index in the log
  uint64_t height = 0;
  uint32_t index_in_block = 0;
  std::string entry;  // the exact entry bytes (the leaf input)
  ::healthchain::v1::LogEntry parsed;
  Hash32 leaf_hash{};
  bool certified = false;     // false: newer than the certified root; no proof yet
  uint64_t tree_size = 0;     // the certified root's size when certified
  std::vector<Hash32> proof;  // audit path, lowest level first
};
Result<ProvedEntry> ProveEntry(const Ledger& ledger, uint64_t index, const CertifiedRoot& root);

// A tx by id: its entry, receipt and inclusion proof. NotFound for an id never committed (or only
// committed as an unauthenticated tx, which the tx index does not hold; R5).
struct TxAnswer {
  ProvedEntry entry;
  ::healthchain::v1::Receipt receipt;
  CertifiedRoot root;
};
Result<TxAnswer> TxById(const Ledger& ledger, const Hash32& tx_id);

// Where a committed tx is and its receipt, without a proof (GET /v1/tx/{id}): NotFound as TxById.
struct TxLocation {
  uint64_t height = 0;
  uint32_t index_in_block = 0;
  ::healthchain::v1::Receipt receipt;
};
Result<TxLocation> LocateTx(const Ledger& ledger, const Hash32& tx_id);

// A block by height with its certificate.
struct BlockAnswer {
  ::healthchain::v1::Block block;
  ::healthchain::v1::BlockHeader header;
  ::healthchain::v1::CommitCertificate certificate;
  Hash32 block_hash{};
};
Result<BlockAnswer> BlockByHeight(const Ledger& ledger, uint64_t height);

// A claim's provenance (DESIGN.md §2): the ordered entries it depends on — the evidence records'
// anchors, the payment consent's grant (and revocation, if any), the granted accesses and
// break-glass uses of the evidence records, the claim and its adjudication — each with its
// inclusion proof against `root`, plus the root's certified header. A verifier needs only the
// genesis validator keys to check it.
struct ProvenanceItem {
  enum class Kind { kRecordAnchor, kConsentGrant, kConsentRevoke, kAccess, kClaim, kAdjudication };
  Kind kind;
  std::string subject;  // the record, consent or claim id
  ProvedEntry entry;
};
std::string_view ProvenanceKindName(ProvenanceItem::Kind kind);
struct ClaimProvenance {
  ::healthchain::ledger::v1::ClaimState claim;
  CertifiedRoot root;
  std::vector<ProvenanceItem> items;  // ordered by log index
  bool truncated = false;             // accesses beyond kProvenanceEntriesMax were left out
};
Result<ClaimProvenance> ClaimProvenanceOf(const Ledger& ledger, std::string_view claim_id);

}  // namespace hc::ledger

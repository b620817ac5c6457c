// Provenance bundles (docs/spec/provenance.md, DESIGN.md §2): a self-contained JSON document that
// proves a claim's story (or one tx) against a certified log root, and its offline verifier.
//
// The builder reads a Ledger (under the caller's lock); the verifier needs only the genesis (its
// chain id, its hash and the validator keys) and trusts nothing else in the bundle: it hashes the
// header and entry bytes as carried, never re-encodes them (wire.md W1), and ignores the human
// summaries.
//
// Thread-safety: the builders as Ledger's const reads; the verifier is pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "crypto/signer.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"

namespace hc::ledger {

inline constexpr std::string_view kProvenanceFormat = "hc-provenance/v1";
// Bundles larger than this are refused before parsing (P1). kProvenanceEntriesMax accesses plus
// the anchors, consent, claim and adjudication fit with room to spare.
inline constexpr size_t kProvenanceBundleBytesMax = 8 * 1024 * 1024;

// The earlier root a client names (`?since_size=M[&since_root=B64]`): the bundle then carries a
// consistency proof from it to the certified root. Without `root` the builder uses its own
// RootAt(size) (the client compares it with what it kept).
struct SinceRoot {
  uint64_t size = 0;
  std::optional<Hash32> root;
};

// The bundle of claim `claim_id` (ClaimProvenanceOf). NotFound for an unknown claim;
// FailedPrecondition when an entry is newer than the certified root (retry after the next block);
// InvalidArgument when `since` is larger than the certified log.
Result<std::string> BuildClaimProvenanceBundle(const Ledger& ledger, std::string_view claim_id,
                                               const std::optional<SinceRoot>& since);
// The bundle of one tx (TxById); the same errors.
Result<std::string> BuildTxProofBundle(const Ledger& ledger, const Hash32& tx_id,
                                       const std::optional<SinceRoot>& since);

// What a verified bundle proves, in the order of the log.
struct ProvenanceStoryLine {
  std::string kind;  // record_anchor, consent_grant, consent_revoke, access, break_glass, claim,
                     // adjudication, tx
  uint64_t index = 0;
  uint64_t height = 0;
  std::string text;  // one human-readable sentence, derived from the verified entry bytes
};
struct ProvenanceVerdict {
  enum class Outcome { kVerified, kInvalid, kUnreadable };
  Outcome outcome = Outcome::kUnreadable;
  std::string reason;        // kInvalid / kUnreadable: what is wrong
  std::string subject_kind;  // "claim" or "tx"
  std::string subject;
  uint64_t certified_height = 0;
  uint64_t log_size = 0;
  Hash32 log_root{};
  bool consistency_checked = false;
  uint64_t since_size = 0;
  std::vector<ProvenanceStoryLine> story;
};

// Verifies a bundle (rules P1..P12 of docs/spec/provenance.md) with only `genesis` and `verifier`
// (real Ed25519 in hcctl). kUnreadable when the text is not a JSON object of format
// "hc-provenance/v1"; kInvalid with the first failed check otherwise.
ProvenanceVerdict VerifyProvenanceBundle(std::string_view bundle_json, const Genesis& genesis,
                                         const crypto::Verifier& verifier);

// The story as printed by `hcctl verify provenance`, ending in "verified\n".
std::string FormatProvenanceStory(const ProvenanceVerdict& verdict);

}  // namespace hc::ledger

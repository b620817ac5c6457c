#include "ledger/queries.h"

#include <algorithm>
#include <cstring>

#include "common/encoding.h"
#include "consensus/signing.h"
#include "crypto/merkle.h"
#include "ledger/limits.h"

namespace hc::ledger {
namespace {

size_t PageLimit(size_t limit) {
  if (limit == 0) return kQueryPageDefault;
  return std::min(limit, kQueryPageMax);
}

Hash32 ToHash(const std::string& s) {
  Hash32 h{};
  if (s.size() == h.size()) std::memcpy(h.data(), s.data(), h.size());
  return h;
}

// Reads AuditEvents under `prefix`, whose keys end in a u64 entry index, after `after`.
Result<AuditPage> ReadAuditRange(const Ledger& ledger, const std::string& prefix,
                                 std::optional<uint64_t> after, size_t limit) {
  limit = PageLimit(limit);
  std::string start = prefix;
  if (after) {
    if (*after == UINT64_MAX) return AuditPage{};
    PutU64(&start, *after + 1);
  }
  AuditPage page;
  Status parse_error;
  bool more = false;
  HC_RETURN_IF_ERROR(ledger.reader().Scan(Cf::kIndex, start, PrefixEnd(prefix),
                                          [&](std::string_view k, std::string_view v) {
                                            if (page.events.size() == limit) {
                                              more = true;
                                              return false;
                                            }
                                            lpb::AuditEvent e;
                                            parse_error = ParseStored(v, &e, Cf::kIndex, k);
                                            if (!parse_error.ok()) return false;
                                            page.events.push_back(std::move(e));
                                            return true;
                                          }));
  HC_RETURN_IF_ERROR(parse_error);
  if (more) page.next_after = page.events.back().entry();
  return page;
}

Result<lpb::ConsentState> LoadConsent(const Ledger& ledger, std::string_view consent_id) {
  const std::string key = keys::Consent(consent_id);
  std::string v;
  Status s = ledger.reader().Get(Cf::kState, key, &v);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("consent '" + std::string(consent_id) + "' not found");
  }
  HC_RETURN_IF_ERROR(s);
  lpb::ConsentState c;
  HC_RETURN_IF_ERROR(ParseStored(v, &c, Cf::kState, key));
  return c;
}

ConsentStatus TimeStatus(const lpb::ConsentState& c, int64_t time_ms) {
  if (time_ms < c.grant().valid_from_ms()) return ConsentStatus::kNotYetValid;
  if (time_ms >= c.grant().valid_until_ms()) return ConsentStatus::kExpired;
  return ConsentStatus::kActive;
}

}  // namespace

Result<AuditPage> PatientAuditTrail(const Ledger& ledger, ByteView patient_key,
                                    std::optional<uint64_t> after_entry, size_t limit) {
  if (patient_key.size() != kKeyBytes) return InvalidArgument("a patient key is 32 bytes");
  return ReadAuditRange(ledger, keys::AuditPrefix(AsStr(patient_key)), after_entry, limit);
}

Result<AuditPage> BreakGlassReviewQueue(const Ledger& ledger, std::optional<uint64_t> after_entry,
                                        size_t limit) {
  return ReadAuditRange(ledger, std::string(keys::kReviewPrefix), after_entry, limit);
}

std::string_view ConsentStatusName(ConsentStatus status) {
  switch (status) {
    case ConsentStatus::kNotGranted:
      return "NOT_GRANTED";
    case ConsentStatus::kActive:
      return "ACTIVE";
    case ConsentStatus::kNotYetValid:
      return "NOT_YET_VALID";
    case ConsentStatus::kExpired:
      return "EXPIRED";
    case ConsentStatus::kRevoked:
      return "REVOKED";
  }
  return "UNKNOWN";
}

Result<ConsentStatusAnswer> ConsentStatusAtHeight(const Ledger& ledger, std::string_view consent_id,
                                                  uint64_t height) {
  if (height > ledger.height()) {
    return FailedPrecondition("height " + std::to_string(height) + " is past the tip " +
                              std::to_string(ledger.height()));
  }
  ConsentStatusAnswer a;
  HC_ASSIGN_OR_RETURN(a.consent, LoadConsent(ledger, consent_id));
  a.height = height;
  if (height == 0) {
    a.time_ms = ledger.genesis().genesis_time_ms;
  } else {
    HC_ASSIGN_OR_RETURN(lpb::BlockInfo info, ledger.InfoAt(height));
    a.time_ms = info.timestamp_ms();
  }
  if (height < a.consent.granted_height()) {
    a.status = ConsentStatus::kNotGranted;
  } else if (a.consent.revoked() && a.consent.revoked_height() <= height) {
    a.status = ConsentStatus::kRevoked;
  } else {
    a.status = TimeStatus(a.consent, a.time_ms);
  }
  return a;
}

Result<ConsentStatusAnswer> ConsentStatusAtTime(const Ledger& ledger, std::string_view consent_id,
                                                int64_t time_ms) {
  ConsentStatusAnswer a;
  HC_ASSIGN_OR_RETURN(a.consent, LoadConsent(ledger, consent_id));
  a.time_ms = time_ms;
  if (time_ms < a.consent.granted_ms()) {
    a.status = ConsentStatus::kNotGranted;
  } else if (a.consent.revoked() && a.consent.revoked_ms() <= time_ms) {
    a.status = ConsentStatus::kRevoked;
  } else {
    a.status = TimeStatus(a.consent, time_ms);
  }
  return a;
}

Result<ConsentPage> ConsentsOfPatient(const Ledger& ledger, ByteView patient_key,
                                      std::optional<std::string> after_consent_key, size_t limit) {
  if (patient_key.size() != kKeyBytes) return InvalidArgument("a patient key is 32 bytes");
  limit = PageLimit(limit);
  // The patient's consents, listed per grantee by the pair records ("g" patient grantee ->
  // ConsentIds, ids ascending), so in (grantee, id) order. A page's cursor names its last
  // consent as keys::PatientConsent does ("c" patient grantee id), the consent index key that
  // named it before state format 3, so cursors handed out by earlier versions still work.
  const std::string cursor_prefix = keys::PatientConsentPrefix(AsStr(patient_key));
  const std::string pairs = keys::PairConsents(AsStr(patient_key), "");
  std::string start = pairs;
  std::string_view after_grantee, after_id;
  if (after_consent_key) {
    const std::string_view c = *after_consent_key;
    if (!c.starts_with(cursor_prefix) || c.size() <= cursor_prefix.size() + kKeyBytes) {
      return InvalidArgument("cursor is not for this patient");
    }
    after_grantee = c.substr(cursor_prefix.size(), kKeyBytes);
    after_id = c.substr(cursor_prefix.size() + kKeyBytes);
    start.append(after_grantee);
  }
  std::vector<std::string> ids;
  std::optional<std::string> next;
  std::string last_grantee, last_id;
  std::string bad_key;
  lpb::ConsentIds pair;
  HC_RETURN_IF_ERROR(ledger.reader().Scan(
      Cf::kState, start, PrefixEnd(pairs), [&](std::string_view k, std::string_view v) {
        const std::optional<keys::PairKey> key = keys::ParsePairConsents(k);
        if (!key || !pair.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          bad_key = DescribeKey(Cf::kState, k);
          return false;
        }
        const std::string_view grantee = key->grantee;
        for (const std::string& id : pair.consent_ids()) {
          if (grantee == after_grantee && id <= after_id) continue;  // on the cursor's page
          if (ids.size() == limit) {
            next = keys::PatientConsent(AsStr(patient_key), last_grantee, last_id);
            return false;
          }
          ids.push_back(id);
          last_grantee.assign(grantee);
          last_id = id;
        }
        return true;
      }));
  if (!bad_key.empty()) return Corruption("ledger store: " + bad_key + ": malformed consent pair");
  ConsentPage page;
  for (const std::string& id : ids) {
    ConsentStatusAnswer a;
    HC_ASSIGN_OR_RETURN(a, ConsentStatusAtHeight(ledger, id, ledger.height()));
    page.consents.push_back(std::move(a));
  }
  page.next_after = std::move(next);
  return page;
}

Result<CertifiedRoot> LatestCertifiedRoot(const Ledger& ledger) {
  CertifiedRoot root;
  root.log_root = crypto::EmptyRoot();
  if (ledger.height() == 0) return root;
  HC_ASSIGN_OR_RETURN(pb::Block block, ledger.BlockAt(ledger.height()));
  pb::BlockHeader header;
  if (!header.ParseFromString(block.header())) {
    return Corruption("ledger store: the tip block's header does not parse");
  }
  root.height = ledger.height();
  root.header = block.header();
  HC_ASSIGN_OR_RETURN(root.certificate, ledger.CertificateAt(ledger.height()));
  root.log_size = header.log_size();
  root.log_root = ToHash(header.log_root());
  return root;
}

Result<ProvedEntry> ProveEntry(const Ledger& ledger, uint64_t index, const CertifiedRoot& root) {
  ProvedEntry p;
  p.index = index;
  HC_ASSIGN_OR_RETURN(auto pos, ledger.EntryPosition(index));
  p.height = pos.first;
  p.index_in_block = pos.second;
  HC_ASSIGN_OR_RETURN(p.entry, ledger.EntryAt(index));
  if (!p.parsed.ParseFromString(p.entry)) {
    return Corruption("ledger store: log entry " + std::to_string(index) + " does not parse");
  }
  p.leaf_hash = crypto::LeafHash(AsBytes(p.entry));
  if (index < root.log_size) {
    p.certified = true;
    p.tree_size = root.log_size;
    HC_ASSIGN_OR_RETURN(p.proof, crypto::InclusionProof(ledger.log_nodes(), index, root.log_size));
  }
  return p;
}

namespace {

// The tx index record of `tx_id`: (height, index in block).
Result<std::pair<uint64_t, uint32_t>> TxPosition(const Ledger& ledger, const Hash32& tx_id) {
  std::string where;
  Status s = ledger.reader().Get(Cf::kTxIndex, AsStr(tx_id), &where);
  if (s.code() == StatusCode::kNotFound) {
    return NotFound("tx " + HexEncode(tx_id) + " is not committed");
  }
  HC_RETURN_IF_ERROR(s);
  if (where.size() != 12) {
    return Corruption("ledger store: " + DescribeKey(Cf::kTxIndex, AsStr(tx_id)) +
                      ": not a (height, index) pair");
  }
  return std::make_pair(GetU64(where), GetU32(where, 8));
}

}  // namespace

Result<TxLocation> LocateTx(const Ledger& ledger, const Hash32& tx_id) {
  HC_ASSIGN_OR_RETURN(auto pos, TxPosition(ledger, tx_id));
  HC_ASSIGN_OR_RETURN(lpb::BlockInfo info, ledger.InfoAt(pos.first));
  const uint64_t entry_index = info.first_entry() + pos.second;
  HC_ASSIGN_OR_RETURN(std::string entry, ledger.EntryAt(entry_index));
  ::healthchain::v1::LogEntry parsed;
  if (!parsed.ParseFromString(entry)) {
    return Corruption("ledger store: log entry " + std::to_string(entry_index) + " does not parse");
  }
  TxLocation l;
  l.height = pos.first;
  l.index_in_block = pos.second;
  l.receipt = parsed.receipt();
  return l;
}

Result<TxAnswer> TxById(const Ledger& ledger, const Hash32& tx_id) {
  HC_ASSIGN_OR_RETURN(auto pos, TxPosition(ledger, tx_id));
  const uint64_t height = pos.first;
  const uint32_t index = pos.second;
  HC_ASSIGN_OR_RETURN(lpb::BlockInfo info, ledger.InfoAt(height));
  TxAnswer a;
  HC_ASSIGN_OR_RETURN(a.root, LatestCertifiedRoot(ledger));
  HC_ASSIGN_OR_RETURN(a.entry, ProveEntry(ledger, info.first_entry() + index, a.root));
  a.receipt = a.entry.parsed.receipt();
  return a;
}

Result<BlockAnswer> BlockByHeight(const Ledger& ledger, uint64_t height) {
  BlockAnswer a;
  HC_ASSIGN_OR_RETURN(a.block, ledger.BlockAt(height));
  if (!a.header.ParseFromString(a.block.header())) {
    return Corruption("ledger store: the header of block " + std::to_string(height) +
                      " does not parse");
  }
  HC_ASSIGN_OR_RETURN(a.certificate, ledger.CertificateAt(height));
  a.block_hash = consensus::BlockHash(AsBytes(a.block.header()));
  return a;
}

std::string_view ProvenanceKindName(ProvenanceItem::Kind kind) {
  switch (kind) {
    case ProvenanceItem::Kind::kRecordAnchor:
      return "record_anchor";
    case ProvenanceItem::Kind::kConsentGrant:
      return "consent_grant";
    case ProvenanceItem::Kind::kConsentRevoke:
      return "consent_revoke";
    case ProvenanceItem::Kind::kAccess:
      return "access";
    case ProvenanceItem::Kind::kClaim:
      return "claim";
    case ProvenanceItem::Kind::kAdjudication:
      return "adjudication";
  }
  return "unknown";
}

Result<ClaimProvenance> ClaimProvenanceOf(const Ledger& ledger, std::string_view claim_id) {
  ClaimProvenance out;
  {
    const std::string key = keys::Claim(claim_id);
    std::string v;
    Status s = ledger.reader().Get(Cf::kState, key, &v);
    if (s.code() == StatusCode::kNotFound) {
      return NotFound("claim '" + std::string(claim_id) + "' not found");
    }
    HC_RETURN_IF_ERROR(s);
    HC_RETURN_IF_ERROR(ParseStored(v, &out.claim, Cf::kState, key));
  }
  HC_ASSIGN_OR_RETURN(out.root, LatestCertifiedRoot(ledger));
  using Kind = ProvenanceItem::Kind;
  std::vector<std::tuple<uint64_t, Kind, std::string>> wanted;
  size_t accesses = 0;
  std::string bad_key;
  for (const std::string& record_id : out.claim.evidence_record_ids()) {
    const std::string key = keys::Record(record_id);
    std::string v;
    HC_RETURN_IF_ERROR(ledger.reader().Get(Cf::kState, key, &v));
    lpb::RecordState record;
    HC_RETURN_IF_ERROR(ParseStored(v, &record, Cf::kState, key));
    wanted.emplace_back(record.anchor_entry(), Kind::kRecordAnchor, record_id);
    const std::string prefix = keys::RecordAccessPrefix(record_id);
    HC_RETURN_IF_ERROR(
        ledger.reader().ScanPrefix(Cf::kIndex, prefix, [&](std::string_view k, std::string_view) {
          if (accesses == kProvenanceEntriesMax) {
            out.truncated = true;
            return false;
          }
          if (k.size() != prefix.size() + 8) {
            bad_key = DescribeKey(Cf::kIndex, k);
            return false;
          }
          ++accesses;
          wanted.emplace_back(GetU64(k, prefix.size()), Kind::kAccess, record_id);
          return true;
        }));
    if (!bad_key.empty()) return Corruption("ledger store: " + bad_key + ": malformed index key");
  }
  if (!out.claim.consent_id().empty()) {
    HC_ASSIGN_OR_RETURN(lpb::ConsentState consent, LoadConsent(ledger, out.claim.consent_id()));
    wanted.emplace_back(consent.grant_entry(), Kind::kConsentGrant, out.claim.consent_id());
    if (consent.revoked()) {
      wanted.emplace_back(consent.revoke_entry(), Kind::kConsentRevoke, out.claim.consent_id());
    }
  }
  wanted.emplace_back(out.claim.submit_entry(), Kind::kClaim, out.claim.claim_id());
  if (out.claim.adjudicated()) {
    wanted.emplace_back(out.claim.adjudicate_entry(), Kind::kAdjudication, out.claim.claim_id());
  }
  std::sort(wanted.begin(), wanted.end());
  for (auto& [index, kind, subject] : wanted) {
    ProvenanceItem item{kind, std::move(subject), {}};
    HC_ASSIGN_OR_RETURN(item.entry, ProveEntry(ledger, index, out.root));
    out.items.push_back(std::move(item));
  }
  return out;
}

}  // namespace hc::ledger

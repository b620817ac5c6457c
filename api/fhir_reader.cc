// Gathers each mapping's inputs from the committed state: the stored record, the log entries it
// derives from (tx id, height, block time), the org names and, for claims, the tx payload.
#include "api/fhir_reader.h"

#include <map>
#include <utility>

#include "common/encoding.h"
#include "ledger/codec.h"
#include "ledger/tx.h"

namespace hc::api::fhir {

namespace {

using ledger::Cf;
namespace keys = ledger::keys;

// Per-call caches over one consistent read of the ledger.
class Gatherer {
 public:
  Gatherer(const ledger::Ledger& ledger, const MappingOptions& options, size_t max_items)
      : ledger_(ledger), options_(options), max_items_(max_items) {}

  Status Consents(const FhirFilter& f, std::vector<FhirItem>* out);
  Status Records(const FhirFilter& f, bool provenance, std::vector<FhirItem>* out);
  Status Audits(const FhirFilter& f, std::vector<FhirItem>* out);
  Status Claims(const FhirFilter& f, bool responses, std::vector<FhirItem>* out);

 private:
  Status Add(std::vector<FhirItem>* out, FhirItem item) {
    if (out->size() >= max_items_) {
      return ResourceExhausted("more than " + std::to_string(max_items_) +
                               " resources match; narrow the search");
    }
    out->push_back(std::move(item));
    return Status::Ok();
  }

  // Calls fn(value) for each value under `prefix` in `cf`.
  template <typename Fn>
  Status ScanValues(Cf cf, std::string_view prefix, Fn fn) const {
    Status inner;
    Status s = ledger_.reader().ScanPrefix(cf, prefix, [&](std::string_view, std::string_view v) {
      inner = fn(v);
      return inner.ok();
    });
    HC_RETURN_IF_ERROR(s);
    return inner;
  }

  template <typename Msg>
  Result<std::optional<Msg>> GetState(const std::string& key) const {
    std::string v;
    Status s = ledger_.reader().Get(Cf::kState, key, &v);
    if (s.code() == StatusCode::kNotFound) return std::optional<Msg>();
    HC_RETURN_IF_ERROR(s);
    Msg m;
    HC_RETURN_IF_ERROR(ledger::ParseStored(v, &m, Cf::kState, key));
    return std::optional<Msg>(std::move(m));
  }

  Result<OrgRef> Org(const std::string& key) {
    auto it = orgs_.find(key);
    if (it != orgs_.end()) return it->second;
    OrgRef ref{ToBytes(key), ""};
    HC_ASSIGN_OR_RETURN(auto org, GetState<lpb::OrgState>(keys::Org(key)));
    if (org) ref.name = org->name();
    orgs_.emplace(key, ref);
    return ref;
  }

  Result<int64_t> BlockTime(uint64_t height) {
    auto it = times_.find(height);
    if (it != times_.end()) return it->second;
    HC_ASSIGN_OR_RETURN(auto info, ledger_.InfoAt(height));
    times_.emplace(height, info.timestamp_ms());
    return info.timestamp_ms();
  }

  // The log entry at `index` as a LedgerRef, and its tx body when `body` is set.
  Result<LedgerRef> Entry(std::string_view event, uint64_t index, pb::TxBody* body = nullptr) {
    HC_ASSIGN_OR_RETURN(std::string bytes, ledger_.EntryAt(index));
    pb::LogEntry entry;
    if (!entry.ParseFromString(bytes)) {
      return Corruption("log entry " + std::to_string(index) + " does not parse");
    }
    LedgerRef ref;
    ref.event = std::string(event);
    ref.log_index = index;
    ref.height = entry.height();
    if (entry.receipt().tx_id().size() == ref.tx_id.size()) {
      ref.tx_id = ToHash32(AsBytes(entry.receipt().tx_id()));
    }
    HC_ASSIGN_OR_RETURN(ref.time_ms, BlockTime(entry.height()));
    if (body != nullptr) {
      // A committed tx: its bytes passed R1..R4 at execution, so parsing is enough here.
      pb::SignedTx signed_tx;
      if (!signed_tx.ParseFromString(entry.tx()) || !body->ParseFromString(signed_tx.body())) {
        return Corruption("the tx of log entry " + std::to_string(index) + " does not parse");
      }
    }
    return ref;
  }

  Status OneConsent(const lpb::ConsentState& c, std::vector<FhirItem>* out);
  Status OneRecord(const lpb::RecordState& r, bool provenance, std::vector<FhirItem>* out);
  Status OneClaim(const lpb::ClaimState& c, bool response, std::vector<FhirItem>* out);

  const ledger::Ledger& ledger_;
  const MappingOptions& options_;
  size_t max_items_;
  std::map<std::string, OrgRef> orgs_;
  std::map<uint64_t, int64_t> times_;
};

Status Gatherer::OneConsent(const lpb::ConsentState& c, std::vector<FhirItem>* out) {
  ConsentInput in;
  in.consent = c;
  HC_ASSIGN_OR_RETURN(in.grant, Entry("grant", c.grant_entry()));
  if (c.revoked()) {
    HC_ASSIGN_OR_RETURN(LedgerRef revoke, Entry("revoke", c.revoke_entry()));
    in.revoke = std::move(revoke);
  }
  HC_ASSIGN_OR_RETURN(in.grantee, Org(c.grant().grantee_key()));
  HC_ASSIGN_OR_RETURN(auto policy, GetState<lpb::PolicyState>(keys::Policy(c.grant().policy_id())));
  if (policy) in.policy_uri = policy->uri();
  in.now_ms = ledger_.tip_timestamp_ms();
  return Add(out, {ConsentResource(in), c.grant().patient_key(), {c.grant().grantee_key()}});
}

Status Gatherer::Consents(const FhirFilter& f, std::vector<FhirItem>* out) {
  if (f.ledger_id) {
    HC_ASSIGN_OR_RETURN(auto c, GetState<lpb::ConsentState>(keys::Consent(*f.ledger_id)));
    if (!c || (f.patient_key && c->grant().patient_key() != *f.patient_key)) return Status::Ok();
    return OneConsent(*c, out);
  }
  if (f.patient_key) {
    // The patient's consent pairs ("g" patient grantee -> ConsentIds), in (grantee, id) order.
    std::vector<std::string> ids;
    lpb::ConsentIds pair;
    bool bad = false;
    HC_RETURN_IF_ERROR(ledger_.reader().ScanPrefix(
        Cf::kState, keys::PairConsents(*f.patient_key, ""),
        [&](std::string_view, std::string_view v) {
          if (!pair.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            bad = true;
            return false;
          }
          ids.insert(ids.end(), pair.consent_ids().begin(), pair.consent_ids().end());
          return true;
        }));
    if (bad) return Corruption("a stored consent pair does not parse");
    for (const std::string& id : ids) {
      HC_ASSIGN_OR_RETURN(auto c, GetState<lpb::ConsentState>(keys::Consent(id)));
      if (c) HC_RETURN_IF_ERROR(OneConsent(*c, out));
    }
    return Status::Ok();
  }
  return ScanValues(Cf::kState, keys::Consent(""), [&](std::string_view v) -> Status {
    lpb::ConsentState c;
    if (!c.ParseFromString(std::string(v))) return Corruption("a stored consent does not parse");
    return OneConsent(c, out);
  });
}

Status Gatherer::OneRecord(const lpb::RecordState& r, bool provenance, std::vector<FhirItem>* out) {
  RecordInput in;
  in.record = r;
  HC_ASSIGN_OR_RETURN(in.anchor, Entry("anchor", r.anchor_entry()));
  if (r.erased()) {
    HC_ASSIGN_OR_RETURN(LedgerRef erase, Entry("erase", r.erase_entry()));
    in.erase = std::move(erase);
  }
  HC_ASSIGN_OR_RETURN(in.hospital, Org(r.hospital_key()));
  boost::json::object resource =
      provenance ? ProvenanceResource(in) : DocumentReferenceResource(in, options_);
  return Add(out, {std::move(resource), r.patient_key(), {r.hospital_key()}});
}

Status Gatherer::Records(const FhirFilter& f, bool provenance, std::vector<FhirItem>* out) {
  auto keep = [&](const lpb::RecordState& r) {
    return (!f.patient_key || r.patient_key() == *f.patient_key) &&
           (!f.record_id || r.record_id() == *f.record_id);
  };
  std::optional<std::string> id = provenance ? f.record_id : f.ledger_id;
  if (id) {
    HC_ASSIGN_OR_RETURN(auto r, GetState<lpb::RecordState>(keys::Record(*id)));
    if (!r || !keep(*r)) return Status::Ok();
    if (provenance && f.ledger_id) {
      // Provenance by id: the anchor tx id.
      HC_ASSIGN_OR_RETURN(LedgerRef anchor, Entry("anchor", r->anchor_entry()));
      if (HexEncode(anchor.tx_id) != *f.ledger_id) return Status::Ok();
    }
    return OneRecord(*r, provenance, out);
  }
  // No index of records by patient: scan the records (bounded by the store's size).
  return ScanValues(Cf::kState, keys::Record(""), [&](std::string_view v) -> Status {
    lpb::RecordState r;
    if (!r.ParseFromString(std::string(v))) return Corruption("a stored record does not parse");
    if (!keep(r)) return Status::Ok();
    if (provenance && f.ledger_id) {
      HC_ASSIGN_OR_RETURN(LedgerRef anchor, Entry("anchor", r.anchor_entry()));
      if (HexEncode(anchor.tx_id) != *f.ledger_id) return Status::Ok();
    }
    return OneRecord(r, provenance, out);
  });
}

Status Gatherer::Audits(const FhirFilter& f, std::vector<FhirItem>* out) {
  const std::string prefix =
      f.patient_key ? keys::AuditPrefix(*f.patient_key) : keys::AuditPrefix("");
  return ScanValues(Cf::kIndex, prefix, [&](std::string_view v) -> Status {
    lpb::AuditEvent ev;
    if (!ev.ParseFromString(std::string(v)))
      return Corruption("a stored audit event does not parse");
    if (f.record_id && ev.record_id() != *f.record_id) return Status::Ok();
    if (f.ledger_id && HexEncode(AsBytes(ev.tx_id())) != *f.ledger_id) return Status::Ok();
    AuditInput in;
    in.event = ev;
    HC_ASSIGN_OR_RETURN(in.actor, Org(ev.actor_key()));
    FhirItem item;
    item.patient_key = ev.patient_key();
    item.org_keys.push_back(ev.actor_key());
    if (!ev.record_id().empty()) {
      HC_ASSIGN_OR_RETURN(auto rec, GetState<lpb::RecordState>(keys::Record(ev.record_id())));
      if (rec) {
        HC_ASSIGN_OR_RETURN(OrgRef source, Org(rec->hospital_key()));
        in.source = std::move(source);
        item.org_keys.push_back(rec->hospital_key());
      }
    }
    std::optional<boost::json::object> resource = AuditEventResource(in, options_);
    if (!resource) return Status::Ok();  // claims and adjudications: Claim / ClaimResponse
    item.resource = std::move(*resource);
    return Add(out, std::move(item));
  });
}

Status Gatherer::OneClaim(const lpb::ClaimState& c, bool response, std::vector<FhirItem>* out) {
  std::vector<std::string> orgs{c.hospital_key(), c.insurer_key()};
  if (!response) {
    ClaimInput in;
    in.claim = c;
    pb::TxBody body;
    HC_ASSIGN_OR_RETURN(in.submit, Entry("submit", c.submit_entry(), &body));
    in.submitted = body.submit_claim();
    HC_ASSIGN_OR_RETURN(in.hospital, Org(c.hospital_key()));
    HC_ASSIGN_OR_RETURN(in.insurer, Org(c.insurer_key()));
    return Add(out, {ClaimResource(in), c.patient_key(), std::move(orgs)});
  }
  if (!c.adjudicated()) return Status::Ok();
  ClaimResponseInput in;
  in.claim = c;
  pb::TxBody body;
  HC_ASSIGN_OR_RETURN(in.adjudicate, Entry("adjudicate", c.adjudicate_entry(), &body));
  in.adjudication = body.adjudicate_claim();
  HC_ASSIGN_OR_RETURN(in.insurer, Org(c.insurer_key()));
  return Add(out, {ClaimResponseResource(in), c.patient_key(), std::move(orgs)});
}

Status Gatherer::Claims(const FhirFilter& f, bool responses, std::vector<FhirItem>* out) {
  auto keep = [&](const lpb::ClaimState& c) {
    return !f.patient_key || c.patient_key() == *f.patient_key;
  };
  std::optional<std::string> id = f.claim_id ? f.claim_id : f.ledger_id;
  if (id) {
    HC_ASSIGN_OR_RETURN(auto c, GetState<lpb::ClaimState>(keys::Claim(*id)));
    if (!c || !keep(*c)) return Status::Ok();
    return OneClaim(*c, responses, out);
  }
  return ScanValues(Cf::kState, keys::Claim(""), [&](std::string_view v) -> Status {
    lpb::ClaimState c;
    if (!c.ParseFromString(std::string(v))) return Corruption("a stored claim does not parse");
    if (!keep(c)) return Status::Ok();
    return OneClaim(c, responses, out);
  });
}

}  // namespace

std::string_view ResourceKindName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kConsent:
      return "Consent";
    case ResourceKind::kDocumentReference:
      return "DocumentReference";
    case ResourceKind::kAuditEvent:
      return "AuditEvent";
    case ResourceKind::kProvenance:
      return "Provenance";
    case ResourceKind::kClaim:
      return "Claim";
    case ResourceKind::kClaimResponse:
      return "ClaimResponse";
  }
  HC_UNREACHABLE();
}

Result<std::vector<FhirItem>> Collect(const ledger::Ledger& ledger, ResourceKind kind,
                                      const FhirFilter& filter, const MappingOptions& options,
                                      size_t max_items) {
  Gatherer g(ledger, options, max_items);
  std::vector<FhirItem> out;
  switch (kind) {
    case ResourceKind::kConsent:
      HC_RETURN_IF_ERROR(g.Consents(filter, &out));
      break;
    case ResourceKind::kDocumentReference:
      HC_RETURN_IF_ERROR(g.Records(filter, false, &out));
      break;
    case ResourceKind::kProvenance:
      HC_RETURN_IF_ERROR(g.Records(filter, true, &out));
      break;
    case ResourceKind::kAuditEvent:
      HC_RETURN_IF_ERROR(g.Audits(filter, &out));
      break;
    case ResourceKind::kClaim:
      HC_RETURN_IF_ERROR(g.Claims(filter, false, &out));
      break;
    case ResourceKind::kClaimResponse:
      HC_RETURN_IF_ERROR(g.Claims(filter, true, &out));
      break;
  }
  return out;
}

Result<std::vector<FhirItem>> CollectAll(const ledger::Ledger& ledger,
                                         const MappingOptions& options, size_t max_items) {
  std::vector<FhirItem> all;
  for (ResourceKind kind :
       {ResourceKind::kConsent, ResourceKind::kDocumentReference, ResourceKind::kProvenance,
        ResourceKind::kAuditEvent, ResourceKind::kClaim, ResourceKind::kClaimResponse}) {
    HC_ASSIGN_OR_RETURN(std::vector<FhirItem> items,
                        Collect(ledger, kind, {}, options, max_items - all.size()));
    for (auto& item : items) all.push_back(std::move(item));
  }
  return all;
}

Result<std::string> PatientKeyOfId(const ledger::Ledger& ledger, std::string_view id) {
  // The /v1 routes name a patient by the hex of their public key: accept that too (a key and an
  // identity id cannot be confused short of a SHA-256 preimage).
  if (Result<Bytes> raw = HexDecode(id); raw.ok() && raw->size() == 32) {
    const std::string key = ToString(*raw);
    std::string v;
    Status s = ledger.reader().Get(Cf::kState, keys::Patient(key), &v);
    if (s.ok()) return key;
    if (s.code() != StatusCode::kNotFound) return s;
  }
  const std::string prefix = keys::Patient("");
  std::optional<std::string> found;
  HC_RETURN_IF_ERROR(
      ledger.reader().ScanPrefix(Cf::kState, prefix, [&](std::string_view k, std::string_view) {
        const std::string_view key = k.substr(prefix.size());
        if (ledger::IdentityId(AsBytes(key)) == id) {
          found = std::string(key);
          return false;
        }
        return true;
      }));
  if (!found) return NotFound("no enrolled patient has id " + std::string(id));
  return *found;
}

}  // namespace hc::api::fhir

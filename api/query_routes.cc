// The exchange's read routes (issue 6, DESIGN.md §2, §6): blocks, validators, consents, records,
// claims, a patient's audit trail (accounting of disclosures) and the break-glass review queue.
//
// Authorisation. Blocks and validators are public. Everything else is a signed request
// (api/auth.h; missing or bad signature, unknown identity or suspended org: 401 unauthenticated)
// and then:
//   - a commission sees everything;
//   - a patient (or their guardian) sees their own consents, records, claims and audit trail;
//   - an org sees what it took part in: consents granted to it, records it anchored, claims it
//     submitted or must adjudicate, and the audit events it is the actor of;
//   - anything else is 403 forbidden. To a caller who may not see it, a thing that does not exist
//     looks the same as one they may not see (403), so ids cannot be probed; a commission gets 404.
//
// Patients are named in paths by the lower-case hex of their Ed25519 public key (64 characters).
//
// Handlers run on the API's io_context thread: each takes the ledger's shared lock once for a few
// point reads or one bounded page (kQueryPageMax), builds its JSON under it and answers after.
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "api/exchange_routes.h"
#include "common/encoding.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/queries.h"
#include "ledger/tx.h"

namespace hc::api {
namespace {

namespace json = boost::json;
namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

std::string HexOf(const std::string& bytes) { return HexEncode(AsBytes(bytes)); }
std::string KeyStr(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

// "TX_STATUS_OK" → "OK": enum names without their type prefix.
std::string Strip(const std::string& name, std::string_view prefix) {
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}
std::string PurposeName(int p) { return Strip(pb::Purpose_Name(p), "PURPOSE_"); }
std::string CategoryName(int c) { return Strip(pb::RecordCategory_Name(c), "RECORD_CATEGORY_"); }
std::string StatusName(int s) { return Strip(pb::TxStatus_Name(s), "TX_STATUS_"); }
std::string DenyName(int d) {
  return d == pb::DENY_REASON_UNSPECIFIED ? "" : Strip(pb::DenyReason_Name(d), "DENY_REASON_");
}
std::string DecisionName(int d) { return Strip(pb::ClaimDecision_Name(d), "CLAIM_DECISION_"); }
std::string KindName(int k) { return Strip(lpb::AuditEvent::Kind_Name(k), "KIND_"); }

// RFC 3339 UTC with milliseconds ("2026-01-01T00:00:00.000Z").
std::string Rfc3339(int64_t ms) {
  const int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int64_t milli = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const int64_t rem = secs - days * 86400;
  // Howard Hinnant's civil_from_days.
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60), static_cast<long long>(milli));
  return buf;
}

// ---- Request parsing ----

// The whole of `s` as an integer of type T; `expected` says what was wanted, for the error.
template <typename T>
Result<T> ParseInteger(std::string_view s, std::string_view what, std::string_view expected) {
  T v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return InvalidArgument(std::string(what) + ": expected " + std::string(expected));
  }
  return v;
}

Result<uint64_t> ParseU64(std::string_view s, std::string_view what) {
  return ParseInteger<uint64_t>(s, what, "a non-negative integer");
}

Result<int64_t> ParseI64(std::string_view s, std::string_view what) {
  return ParseInteger<int64_t>(s, what, "an integer (Unix ms)");
}

// The patient key of path parameter {patient}: 64 hex characters.
Result<std::string> PatientKeyParam(const Request& r) {
  const std::string_view hex = r.PathParam("patient").value_or("");
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != crypto::kEd25519PublicKeySize) {
    return InvalidArgument("patient: expected the hex of the patient's 32-byte public key");
  }
  return ToString(bytes.value());
}

struct PageParams {
  std::optional<uint64_t> after;
  size_t limit = ledger::kQueryPageDefault;
};
Result<PageParams> ParsePage(const Request& r) {
  PageParams p;
  if (auto a = r.Query("after")) {
    HC_ASSIGN_OR_RETURN(p.after, ParseU64(*a, "query 'after'"));
  }
  if (auto l = r.Query("limit")) {
    HC_ASSIGN_OR_RETURN(uint64_t v, ParseU64(*l, "query 'limit'"));
    if (v == 0 || v > ledger::kQueryPageMax) {
      return InvalidArgument("query 'limit': expected 1.." + std::to_string(ledger::kQueryPageMax));
    }
    p.limit = static_cast<size_t>(v);
  }
  return p;
}

// ---- Authorisation ----

bool IsOrg(const Caller& c) { return c.role != CallerRole::kPatient; }

// Whether `caller` is `patient_key` or that patient's guardian.
bool IsPatientOrGuardian(const ledger::Ledger& ledger, const Caller& caller,
                         const std::string& patient_key) {
  const std::string me = KeyStr(caller.key);
  if (me == patient_key) return true;
  std::string value;
  if (!ledger.reader().Get(ledger::Cf::kState, ledger::keys::Patient(patient_key), &value).ok()) {
    return false;
  }
  lpb::PatientState p;
  return p.ParseFromString(value) && !p.guardian_key().empty() && p.guardian_key() == me;
}

// The answer to a caller who may not see `what` (or it does not exist): 404 for a commission,
// 403 for anyone else.
Problem Hidden(const Caller& caller, bool exists, const std::string& what) {
  if (caller.role == CallerRole::kCommission && !exists) {
    return Problem(ProblemCode::kNotFound, what + " does not exist");
  }
  return Problem(ProblemCode::kForbidden, "no " + what + " that this caller may see");
}

// ---- JSON ----

json::object AuditEventJson(const lpb::AuditEvent& e) {
  json::object o;
  o["entry"] = e.entry();
  o["height"] = e.height();
  o["time"] = Rfc3339(e.time_ms());
  o["time_ms"] = e.time_ms();
  o["kind"] = KindName(e.kind());
  o["patient"] = HexOf(e.patient_key());
  o["recipient"] = HexOf(e.actor_key());
  o["recipient_name"] = e.actor_name();
  o["record_id"] = e.record_id();
  o["record_description"] = e.record_description();
  o["record_category"] = CategoryName(e.record_category());
  o["purpose"] = e.purpose() == pb::PURPOSE_UNSPECIFIED ? "" : PurposeName(e.purpose());
  o["status"] = StatusName(e.status());
  // The accounting-of-disclosures outcome: GRANTED / DENIED for accesses, the receipt otherwise.
  std::string outcome = StatusName(e.status());
  if ((e.kind() == lpb::AuditEvent::KIND_ACCESS || e.kind() == lpb::AuditEvent::KIND_BREAK_GLASS) &&
      e.status() == pb::TX_STATUS_OK) {
    outcome = "GRANTED";
  }
  o["outcome"] = outcome;
  o["deny_reason"] = DenyName(e.deny_reason());
  o["consent_id"] = e.consent_id();
  o["claim_id"] = e.claim_id();
  o["justification"] = e.justification();
  o["tx_id"] = HexOf(e.tx_id());
  return o;
}

json::object PageJson(const ledger::AuditPage& page,
                      const std::function<bool(const lpb::AuditEvent&)>& visible) {
  json::array events;
  for (const auto& e : page.events) {
    if (visible(e)) events.push_back(AuditEventJson(e));
  }
  json::object o;
  o["events"] = std::move(events);
  if (page.next_after) {
    o["next_after"] = *page.next_after;
  } else {
    o["next_after"] = nullptr;
  }
  return o;
}

json::object ConsentJson(const ledger::ConsentStatusAnswer& a) {
  const lpb::ConsentState& c = a.consent;
  const pb::GrantConsent& g = c.grant();
  json::object o;
  o["consent_id"] = g.consent_id();
  o["patient"] = HexOf(g.patient_key());
  o["grantee"] = HexOf(g.grantee_key());
  json::array purposes;
  for (int p : g.purposes()) purposes.push_back(json::value(PurposeName(p)));
  o["purposes"] = std::move(purposes);
  json::object scope;
  json::array cats;
  for (int cat : g.scope().categories()) cats.push_back(json::value(CategoryName(cat)));
  scope["categories"] = std::move(cats);
  json::array rids;
  for (const auto& r : g.scope().record_ids()) rids.push_back(json::value(r));
  scope["record_ids"] = std::move(rids);
  o["scope"] = std::move(scope);
  o["valid_from_ms"] = g.valid_from_ms();
  o["valid_until_ms"] = g.valid_until_ms();
  o["policy_id"] = g.policy_id();
  o["granted_by"] = HexOf(c.granted_by());
  o["granted_height"] = c.granted_height();
  o["granted_time"] = Rfc3339(c.granted_ms());
  o["grant_entry"] = c.grant_entry();
  o["revoked"] = c.revoked();
  if (c.revoked()) {
    o["revoked_height"] = c.revoked_height();
    o["revoked_time"] = Rfc3339(c.revoked_ms());
    o["revoke_entry"] = c.revoke_entry();
    o["revoke_reason"] = c.revoke_reason();
    o["revoked_by"] = HexOf(c.revoked_by());
  }
  o["status"] = std::string(ledger::ConsentStatusName(a.status));
  json::object at;
  if (a.height != 0) {
    at["height"] = a.height;
  } else {
    at["height"] = nullptr;
  }
  at["time_ms"] = a.time_ms;
  o["status_at"] = std::move(at);
  return o;
}

json::object RecordJson(const lpb::RecordState& r) {
  json::object o;
  o["record_id"] = r.record_id();
  o["patient"] = HexOf(r.patient_key());
  o["category"] = CategoryName(r.category());
  o["ciphertext_sha256"] = HexOf(r.ciphertext_sha256());
  o["ciphertext_size"] = r.ciphertext_size();
  o["description"] = r.description();
  o["content_type"] = r.content_type();
  o["hospital"] = HexOf(r.hospital_key());
  o["anchored_height"] = r.anchored_height();
  o["anchor_entry"] = r.anchor_entry();
  o["erased"] = r.erased();
  if (r.erased()) {
    o["erased_height"] = r.erased_height();
    o["erased_time"] = Rfc3339(r.erased_ms());
    o["erase_entry"] = r.erase_entry();
  }
  return o;
}

json::object ClaimJson(const lpb::ClaimState& c) {
  json::object o;
  o["claim_id"] = c.claim_id();
  o["patient"] = HexOf(c.patient_key());
  o["hospital"] = HexOf(c.hospital_key());
  o["insurer"] = HexOf(c.insurer_key());
  o["fingerprint"] = HexOf(c.fingerprint());
  o["total_cents"] = c.total_cents();
  o["currency"] = c.currency();
  o["consent_id"] = c.consent_id();
  json::array ev;
  for (const auto& r : c.evidence_record_ids()) ev.push_back(json::value(r));
  o["evidence_record_ids"] = std::move(ev);
  o["submitted_height"] = c.submitted_height();
  o["submit_entry"] = c.submit_entry();
  o["adjudicated"] = c.adjudicated();
  if (c.adjudicated()) {
    o["decision"] = DecisionName(c.decision());
    o["approved_cents"] = c.approved_cents();
    o["adjudicated_height"] = c.adjudicated_height();
    o["adjudicate_entry"] = c.adjudicate_entry();
  }
  return o;
}

json::object BlockJson(const ledger::BlockAnswer& b) {
  const pb::BlockHeader& h = b.header;
  json::object header;
  header["chain_id"] = h.chain_id();
  header["height"] = h.height();
  header["prev_block_hash"] = HexOf(h.prev_block_hash());
  header["timestamp_ms"] = h.timestamp_ms();
  header["time"] = Rfc3339(h.timestamp_ms());
  header["view"] = h.view();
  header["proposer"] = h.proposer();
  header["txs_root"] = HexOf(h.txs_root());
  header["tx_count"] = h.tx_count();
  header["exec_height"] = h.exec_height();
  header["log_size"] = h.log_size();
  header["log_root"] = HexOf(h.log_root());
  json::object o;
  o["height"] = h.height();
  o["block_hash"] = HexEncode(b.block_hash);
  o["header"] = std::move(header);
  json::array ids;
  for (const auto& tx : b.block.txs())
    ids.push_back(json::value(HexEncode(ledger::TxIdOf(AsBytes(tx)))));
  o["tx_ids"] = std::move(ids);
  o["certificate"] = CertificateJson(b.certificate);
  return o;
}

// Reads one stored state message; NotFound when absent.
template <typename M>
Result<M> ReadState(const ledger::Ledger& ledger, const std::string& key) {
  std::string value;
  HC_RETURN_IF_ERROR(ledger.reader().Get(ledger::Cf::kState, key, &value));
  M m;
  HC_RETURN_IF_ERROR(ledger::ParseStored(value, &m, ledger::Cf::kState, key));
  return m;
}

// The answer of a handler computed under the ledger lock.
using Answer = ProblemOr<json::value>;
constexpr std::string_view kClosed = "the node is shutting down";

void SendAnswer(Responder& responder, std::optional<Answer>& answer) {
  if (!answer) {
    responder.SendProblem(ProblemCode::kUnavailable, std::string(kClosed));
  } else if (!answer->ok()) {
    responder.SendProblem(answer->problem());
  } else {
    responder.SendJson(http::status::ok, answer->value());
  }
}

// ---- Handlers ----

void GetBlock(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto height = ParseU64(r.PathParam("height").value_or(""), "height");
  if (!height.ok()) {
    res.SendStatus(height.status());
    return;
  }
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    if (height.value() == 0 || height.value() > ledger.height()) {
      answer =
          Problem(ProblemCode::kNotFound, "no block at height " + std::to_string(height.value()) +
                                              " (tip " + std::to_string(ledger.height()) + ")");
      return;
    }
    auto b = ledger::BlockByHeight(ledger, height.value());
    answer =
        b.ok() ? Answer(json::value(BlockJson(b.value()))) : Answer(ProblemFromStatus(b.status()));
  });
  SendAnswer(res, answer);
}

void GetValidators(const ExchangeContext& ctx, const Request&, Responder res) {
  const ledger::Genesis& g = ctx.view->genesis();
  json::array vs;
  for (size_t i = 0; i < g.validators.size(); ++i) {
    const auto& v = g.validators[i];
    json::object o;
    o["index"] = i;
    o["id"] = v.id;
    o["key"] = HexEncode(v.key);
    o["address"] = v.address;
    o["tls_key_pin"] = HexEncode(v.tls_key_pin);
    vs.push_back(std::move(o));
  }
  json::object o;
  o["chain_id"] = g.chain_id;
  o["quorum"] = g.Quorum();
  o["validators"] = std::move(vs);
  res.SendJson(http::status::ok, o);
}

void GetConsent(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  const std::string id(r.PathParam("id").value_or(""));
  std::optional<uint64_t> at_height;
  std::optional<int64_t> at_time;
  if (auto h = r.Query("at_height")) {
    auto v = ParseU64(*h, "query 'at_height'");
    if (!v.ok()) {
      res.SendStatus(v.status());
      return;
    }
    at_height = v.value();
  }
  if (auto t = r.Query("at_time")) {
    auto v = ParseI64(*t, "query 'at_time'");
    if (!v.ok()) {
      res.SendStatus(v.status());
      return;
    }
    at_time = v.value();
  }
  if (at_height && at_time) {
    res.SendProblem(ProblemCode::kBadRequest, "give at most one of 'at_height' and 'at_time'");
    return;
  }
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    // Authorise on the consent as it is now, before evaluating it anywhere in the past.
    auto now = ledger::ConsentStatusAtHeight(ledger, id, ledger.height());
    if (!now.ok()) {
      answer = now.status().code() == StatusCode::kNotFound
                   ? Hidden(*caller, false, "consent " + id)
                   : ProblemFromStatus(now.status());
      return;
    }
    const pb::GrantConsent& g = now->consent.grant();
    const std::string me = KeyStr(caller->key);
    const bool party = caller->role == CallerRole::kCommission || g.grantee_key() == me ||
                       now->consent.granted_by() == me ||
                       IsPatientOrGuardian(ledger, *caller, g.patient_key());
    if (!party) {
      answer = Hidden(*caller, true, "consent " + id);
      return;
    }
    Result<ledger::ConsentStatusAnswer> a = now;
    if (at_height) {
      if (*at_height > ledger.height()) {
        answer = Problem(ProblemCode::kBadRequest, "at_height " + std::to_string(*at_height) +
                                                       " is past the tip " +
                                                       std::to_string(ledger.height()));
        return;
      }
      a = ledger::ConsentStatusAtHeight(ledger, id, *at_height);
    } else if (at_time) {
      a = ledger::ConsentStatusAtTime(ledger, id, *at_time);
    }
    answer = a.ok() ? Answer(json::value(ConsentJson(a.value())))
                    : Answer(ProblemFromStatus(a.status()));
  });
  SendAnswer(res, answer);
}

void GetPatientConsents(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  auto patient = PatientKeyParam(r);
  if (!patient.ok()) {
    res.SendStatus(patient.status());
    return;
  }
  std::optional<std::string> after;
  if (auto a = r.Query("after")) {
    auto bytes = HexDecode(*a);
    if (!bytes.ok() || bytes->empty()) {
      res.SendProblem(ProblemCode::kBadRequest, "query 'after': expected the hex cursor of a page");
      return;
    }
    after = ToString(bytes.value());
  }
  size_t limit = ledger::kQueryPageDefault;
  if (auto l = r.Query("limit")) {
    auto v = ParseU64(*l, "query 'limit'");
    if (!v.ok() || v.value() == 0 || v.value() > ledger::kQueryPageMax) {
      res.SendProblem(ProblemCode::kBadRequest,
                      "query 'limit': expected 1.." + std::to_string(ledger::kQueryPageMax));
      return;
    }
    limit = static_cast<size_t>(v.value());
  }
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    const bool all = caller->role == CallerRole::kCommission ||
                     IsPatientOrGuardian(ledger, *caller, patient.value());
    if (!all && !IsOrg(*caller)) {
      answer = Problem(ProblemCode::kForbidden, "a patient sees only their own consents");
      return;
    }
    auto page = ledger::ConsentsOfPatient(ledger, AsBytes(patient.value()), after, limit);
    if (!page.ok()) {
      answer = ProblemFromStatus(page.status());
      return;
    }
    // An org sees the consents granted to it.
    const std::string me = KeyStr(caller->key);
    json::array consents;
    for (const auto& c : page->consents) {
      if (all || c.consent.grant().grantee_key() == me) consents.push_back(ConsentJson(c));
    }
    json::object o;
    o["patient"] = HexOf(patient.value());
    o["consents"] = std::move(consents);
    if (page->next_after) {
      o["next_after"] = HexOf(*page->next_after);
    } else {
      o["next_after"] = nullptr;
    }
    answer = Answer(json::value(std::move(o)));
  });
  SendAnswer(res, answer);
}

// GET of one stored object by id, shown to its parties only: reads `State` under `key(id)`, asks
// `is_party` whether the caller may see it, and answers `to_json` of it, or the same Hidden answer
// whether the object is missing or not the caller's (ids cannot be probed).
template <typename State, typename KeyFn, typename PartyFn, typename JsonFn>
void GetPartyObject(const ExchangeContext& ctx, const Request& r, Responder res,
                    std::string_view what, KeyFn key, PartyFn is_party, JsonFn to_json) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  const std::string id(r.PathParam("id").value_or(""));
  const std::string label = std::string(what) + " " + id;
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    auto state = ReadState<State>(ledger, key(id));
    if (!state.ok()) {
      answer = state.status().code() == StatusCode::kNotFound ? Hidden(*caller, false, label)
                                                              : ProblemFromStatus(state.status());
      return;
    }
    const bool party =
        caller->role == CallerRole::kCommission || is_party(ledger, *caller, state.value());
    answer =
        party ? Answer(json::value(to_json(state.value()))) : Answer(Hidden(*caller, true, label));
  });
  SendAnswer(res, answer);
}

void GetRecord(const ExchangeContext& ctx, const Request& r, Responder res) {
  GetPartyObject<lpb::RecordState>(
      ctx, r, std::move(res), "record",
      [](const std::string& id) { return ledger::keys::Record(id); },
      [](const ledger::Ledger& ledger, const Caller& caller, const lpb::RecordState& rec) {
        return rec.hospital_key() == KeyStr(caller.key) ||
               IsPatientOrGuardian(ledger, caller, rec.patient_key());
      },
      [](const lpb::RecordState& rec) { return RecordJson(rec); });
}

void GetClaim(const ExchangeContext& ctx, const Request& r, Responder res) {
  GetPartyObject<lpb::ClaimState>(
      ctx, r, std::move(res), "claim",
      [](const std::string& id) { return ledger::keys::Claim(id); },
      [](const ledger::Ledger& ledger, const Caller& caller, const lpb::ClaimState& claim) {
        const std::string me = KeyStr(caller.key);
        return claim.hospital_key() == me || claim.insurer_key() == me ||
               IsPatientOrGuardian(ledger, caller, claim.patient_key());
      },
      [](const lpb::ClaimState& claim) { return ClaimJson(claim); });
}

void GetAuditTrail(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  auto patient = PatientKeyParam(r);
  if (!patient.ok()) {
    res.SendStatus(patient.status());
    return;
  }
  auto page_params = ParsePage(r);
  if (!page_params.ok()) {
    res.SendStatus(page_params.status());
    return;
  }
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    const bool all = caller->role == CallerRole::kCommission ||
                     IsPatientOrGuardian(ledger, *caller, patient.value());
    if (!all && !IsOrg(*caller)) {
      answer = Problem(ProblemCode::kForbidden, "a patient sees only their own audit trail");
      return;
    }
    auto page = ledger::PatientAuditTrail(ledger, AsBytes(patient.value()), page_params->after,
                                          page_params->limit);
    if (!page.ok()) {
      answer = ProblemFromStatus(page.status());
      return;
    }
    // An org sees the events it is the actor of; pages keep their cursor, so a page may hold
    // fewer events than `limit` (or none) and still have a next page.
    const std::string me = KeyStr(caller->key);
    json::object o = PageJson(page.value(),
                              [&](const lpb::AuditEvent& e) { return all || e.actor_key() == me; });
    o["patient"] = HexOf(patient.value());
    answer = Answer(json::value(std::move(o)));
  });
  SendAnswer(res, answer);
}

void GetBreakGlassQueue(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  if (caller->role != CallerRole::kCommission) {
    res.SendProblem(ProblemCode::kForbidden, "only a commission reviews break-glass events");
    return;
  }
  auto page_params = ParsePage(r);
  if (!page_params.ok()) {
    res.SendStatus(page_params.status());
    return;
  }
  std::optional<Answer> answer;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    auto page = ledger::BreakGlassReviewQueue(ledger, page_params->after, page_params->limit);
    answer = page.ok()
                 ? Answer(json::value(PageJson(page.value(), [](const auto&) { return true; })))
                 : Answer(ProblemFromStatus(page.status()));
  });
  SendAnswer(res, answer);
}

}  // namespace

std::optional<Caller> AuthenticateOrAnswer(const ExchangeContext& ctx, const Request& request,
                                           Responder& responder) {
  if (!ctx.auth) {
    responder.SendProblem(ProblemCode::kUnavailable, "request authentication is not configured");
    return std::nullopt;
  }
  Result<Caller> caller = ctx.auth->Authenticate(request, *ctx.view);
  if (!caller.ok()) {
    responder.SendStatus(caller.status());
    return std::nullopt;
  }
  return std::move(caller).value();
}

json::object CertificateJson(const pb::CommitCertificate& cert) {
  json::object c;
  c["height"] = cert.height();
  c["view"] = cert.view();
  c["block_hash"] = HexOf(cert.block_hash());
  json::array sigs;
  sigs.reserve(static_cast<size_t>(cert.signatures_size()));
  for (const auto& s : cert.signatures()) {
    json::object so;
    so["replica"] = s.replica();
    so["signature"] = Base64Encode(AsBytes(s.signature()));
    sigs.push_back(std::move(so));
  }
  c["signatures"] = std::move(sigs);
  return c;
}

void RegisterQueryRoutes(Router& router, const ExchangeContext& ctx) {
  HC_ASSERT(ctx.view != nullptr && ctx.auth != nullptr);
  auto route = [&ctx](void (*fn)(const ExchangeContext&, const Request&, Responder)) {
    return [ctx, fn](const Request& r, Responder res) { fn(ctx, r, std::move(res)); };
  };
  router.Get("/v1/blocks/{height}", route(&GetBlock));
  router.Get("/v1/validators", route(&GetValidators));
  router.Get("/v1/consents/{id}", route(&GetConsent));
  router.Get("/v1/patients/{patient}/consents", route(&GetPatientConsents));
  router.Get("/v1/patients/{patient}/audit", route(&GetAuditTrail));
  router.Get("/v1/records/{id}", route(&GetRecord));
  router.Get("/v1/claims/{id}", route(&GetClaim));
  router.Get("/v1/review/break-glass", route(&GetBreakGlassQueue));
}

}  // namespace hc::api

// WebSocket /v1/events (issue 6): committed transactions as they happen, one JSON text message per
// tx, filtered by patient, org and payload type (combined with AND) under the read routes'
// authorisation (api/query_routes.cc):
//   - a commission sees every tx;
//   - a patient sees the txs naming them as the patient (directly, or through the record, consent
//     or claim the tx refers to) and the txs they signed; a guardian subscribing with
//     ?patient=<ward> sees the ward's txs too;
//   - an org sees the txs it took part in: signed by it, or naming it (a consent's grantee, a
//     claim's insurer, the org registered or suspended, the hospital of an adjudicated claim).
// Txs whose receipt is INVALID (their signature was never verified) are shown to a commission
// only.
//
// Refusals happen before the upgrade, as problem+json: 401 for a missing or bad signature (the
// upgrade request is signed like any read), 400 for a malformed filter, 403 for a filter the caller
// may not use (a patient naming another patient who is not their ward, an org naming another
// org), 503 too_many_subscribers past the server's WebSocket limit (api/server.h).
//
// Threading: the ledger's commit callback only copies the block and posts it to the socket's
// strand (WebSocketChannel::Post, bounded); decoding, one shared-lock ledger read for the
// referenced records, consents and claims, and the JSON happen there. A subscriber that falls
// behind by more than limits.websocket_queue_max messages is closed with 1008 "subscriber too
// slow"; the others and the executor never wait for it.
#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/exchange_routes.h"
#include "api/server.h"
#include "common/encoding.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/tx.h"

namespace hc::api {
namespace {

namespace json = boost::json;
namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

static_assert(kWebSocketQueueDefault >= ledger::kBlockTxsMax,
              "a subscriber that keeps up must not be dropped for one full block of events");

std::string KeyStr(const crypto::Ed25519PublicKey& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}
std::string HexOf(const std::string& bytes) { return HexEncode(AsBytes(bytes)); }

std::string StatusName(int s) {
  const std::string& n = pb::TxStatus_Name(s);
  constexpr std::string_view kPrefix = "TX_STATUS_";
  return n.starts_with(kPrefix) ? n.substr(kPrefix.size()) : n;
}

// The payload's name as the `type` filter and messages spell it ("access_record"); "" for none.
std::string PayloadName(const pb::TxBody& body) {
  if (body.payload_case() == pb::TxBody::PAYLOAD_NOT_SET) return "";
  const auto* f = pb::TxBody::descriptor()->FindFieldByNumber(body.payload_case());
  return f == nullptr ? "" : std::string(f->name());
}

// The payload case named `name`, or nullopt when no payload has that name.
std::optional<int> PayloadCaseOf(std::string_view name) {
  const auto* f = pb::TxBody::descriptor()->FindFieldByName(std::string(name));
  if (f == nullptr || f->containing_oneof() == nullptr ||
      f->containing_oneof()->name() != "payload") {
    return std::nullopt;
  }
  return f->number();
}

Result<std::string> KeyParam(std::string_view hex, std::string_view what) {
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != crypto::kEd25519PublicKeySize) {
    return InvalidArgument("query '" + std::string(what) +
                           "': expected the hex of a 32-byte public key");
  }
  return ToString(bytes.value());
}

template <typename M>
std::optional<M> ReadState(const ledger::Ledger& ledger, const std::string& key) {
  std::string value;
  if (!ledger.reader().Get(ledger::Cf::kState, key, &value).ok()) return std::nullopt;
  M m;
  if (!ledger::ParseStored(value, &m, ledger::Cf::kState, key).ok()) return std::nullopt;
  return m;
}

bool IsPatientOrGuardian(const ledger::Ledger& ledger, const Caller& caller,
                         const std::string& patient_key) {
  const std::string me = KeyStr(caller.key);
  if (me == patient_key) return true;
  auto p = ReadState<lpb::PatientState>(ledger, ledger::keys::Patient(patient_key));
  return p && !p->guardian_key().empty() && p->guardian_key() == me;
}

// Who one committed tx concerns.
struct TxFacts {
  bool parsed = false;
  pb::TxBody body;
  std::string signer;
  std::string patient;               // "" when the tx concerns no patient
  std::vector<std::string> parties;  // org keys: the signer and the orgs it names
};

// What a tx refers to by id, resolved under one ledger read.
void ResolveReferences(const ledger::Ledger& ledger, TxFacts& t) {
  const pb::TxBody& b = t.body;
  auto from_record = [&](const std::string& id) {
    if (auto r = ReadState<lpb::RecordState>(ledger, ledger::keys::Record(id))) {
      t.patient = r->patient_key();
    }
  };
  switch (b.payload_case()) {
    case pb::TxBody::kRevokeConsent:
      if (auto c = ReadState<lpb::ConsentState>(
              ledger, ledger::keys::Consent(b.revoke_consent().consent_id()))) {
        t.patient = c->grant().patient_key();
        t.parties.push_back(c->grant().grantee_key());
      }
      break;
    case pb::TxBody::kAccessRecord:
      from_record(b.access_record().record_id());
      break;
    case pb::TxBody::kBreakGlass:
      from_record(b.break_glass().record_id());
      break;
    case pb::TxBody::kEraseRecord:
      from_record(b.erase_record().record_id());
      break;
    case pb::TxBody::kAdjudicateClaim:
      if (auto c = ReadState<lpb::ClaimState>(
              ledger, ledger::keys::Claim(b.adjudicate_claim().claim_id()))) {
        t.patient = c->patient_key();
        t.parties.push_back(c->hospital_key());
      }
      break;
    default:
      break;
  }
}

bool NeedsLookup(const pb::TxBody& b) {
  switch (b.payload_case()) {
    case pb::TxBody::kRevokeConsent:
    case pb::TxBody::kAccessRecord:
    case pb::TxBody::kBreakGlass:
    case pb::TxBody::kEraseRecord:
    case pb::TxBody::kAdjudicateClaim:
      return true;
    default:
      return false;
  }
}

TxFacts FactsOf(ByteView signed_tx) {
  TxFacts t;
  pb::SignedTx st;
  if (!st.ParseFromArray(signed_tx.data(), static_cast<int>(signed_tx.size())) ||
      !t.body.ParseFromString(st.body())) {
    return t;
  }
  t.parsed = true;
  const pb::TxBody& b = t.body;
  t.signer = b.signer();
  t.parties.push_back(b.signer());
  switch (b.payload_case()) {
    case pb::TxBody::kRegisterOrg:
      t.parties.push_back(b.register_org().org_key());
      break;
    case pb::TxBody::kSuspendOrg:
      t.parties.push_back(b.suspend_org().org_key());
      break;
    case pb::TxBody::kEnrollPatient:
      t.patient = b.enroll_patient().patient_key();
      break;
    case pb::TxBody::kGrantConsent:
      t.patient = b.grant_consent().patient_key();
      t.parties.push_back(b.grant_consent().grantee_key());
      break;
    case pb::TxBody::kAnchorRecord:
      t.patient = b.anchor_record().patient_key();
      break;
    case pb::TxBody::kSubmitClaim:
      t.patient = b.submit_claim().patient_key();
      t.parties.push_back(b.submit_claim().insurer_key());
      break;
    default:
      break;
  }
  return t;
}

// One subscriber: who it is and what it asked for. Immutable after the upgrade.
struct Subscriber {
  Caller caller;
  std::string me;                   // the caller's key bytes
  std::optional<std::string> ward;  // ?patient= of a guardian: that patient's txs are visible
  std::optional<std::string> patient;
  std::optional<std::string> org;
  std::optional<int> type;

  bool Contains(const std::vector<std::string>& v, const std::string& k) const {
    for (const auto& x : v) {
      if (x == k) return true;
    }
    return false;
  }

  bool Visible(const TxFacts& t, int status) const {
    if (caller.role == CallerRole::kCommission) return true;
    if (!t.parsed || status == pb::TX_STATUS_INVALID) return false;
    if (caller.role == CallerRole::kPatient) {
      return t.signer == me || (!t.patient.empty() && (t.patient == me || t.patient == ward));
    }
    return Contains(t.parties, me);
  }

  bool Matches(const TxFacts& t) const {
    if (patient && t.patient != *patient) return false;
    if (org && !Contains(t.parties, *org)) return false;
    if (type && (!t.parsed || static_cast<int>(t.body.payload_case()) != *type)) return false;
    return true;
  }
};

// Sends `sub` the messages of one block, on the channel's strand.
void SendBlock(const ExchangeContext& ctx, const Subscriber& sub, WebSocketChannel& channel,
               const CommittedBlockEvent& ev) {
  const std::vector<Bytes>& txs = *ev.txs;
  std::vector<TxFacts> facts;
  facts.reserve(txs.size());
  bool lookup = false;
  for (const Bytes& tx : txs) {
    facts.push_back(FactsOf(tx));
    lookup = lookup || (facts.back().parsed && NeedsLookup(facts.back().body));
  }
  if (lookup) {
    ctx.view->Read([&](const ledger::Ledger& ledger) {
      for (auto& t : facts) {
        if (t.parsed && NeedsLookup(t.body)) ResolveReferences(ledger, t);
      }
    });
  }
  for (size_t i = 0; i < facts.size(); ++i) {
    pb::Receipt receipt;
    if (i < ev.receipts.size()) (void)receipt.ParseFromString(ev.receipts[i]);
    const TxFacts& t = facts[i];
    if (!sub.Visible(t, receipt.status()) || !sub.Matches(t)) continue;
    json::object o;
    o["height"] = ev.height;
    o["index"] = i;
    o["tx_id"] = HexEncode(ledger::TxIdOf(txs[i]));
    o["type"] = t.parsed ? PayloadName(t.body) : "";
    o["signer"] = HexOf(t.signer);
    o["status"] = StatusName(receipt.status());
    o["reason"] = receipt.reason();
    o["related_id"] = receipt.related_id();
    o["flagged"] = receipt.flagged();
    o["timestamp_ms"] = ev.timestamp_ms;
    if (!channel.SendText(json::serialize(o))) return;  // closed (too slow, or going away)
  }
}

// The subscription a socket keeps while open.
struct Subscription {
  std::unique_ptr<LedgerView::Subscription> handle;
};

ProblemOr<WebSocketOpen> OpenEvents(const ExchangeContext& ctx, const Request& r) {
  auto caller = ctx.auth->Authenticate(r, *ctx.view);
  if (!caller.ok()) return ProblemFromStatus(caller.status());
  auto sub = std::make_shared<Subscriber>();
  sub->caller = caller.value();
  sub->me = KeyStr(sub->caller.key);
  if (auto p = r.Query("patient")) {
    auto k = KeyParam(*p, "patient");
    if (!k.ok()) return ProblemFromStatus(k.status());
    sub->patient = k.value();
  }
  if (auto o = r.Query("org")) {
    auto k = KeyParam(*o, "org");
    if (!k.ok()) return ProblemFromStatus(k.status());
    sub->org = k.value();
  }
  if (auto t = r.Query("type")) {
    sub->type = PayloadCaseOf(*t);
    if (!sub->type) {
      return Problem(ProblemCode::kBadRequest,
                     "query 'type': '" + std::string(*t) +
                         "' names no payload (e.g. grant_consent, access_record, break_glass)");
    }
  }
  const CallerRole role = sub->caller.role;
  if (role != CallerRole::kCommission) {
    if (role == CallerRole::kPatient && sub->patient && *sub->patient != sub->me) {
      bool ward = false;
      ctx.view->Read([&](const ledger::Ledger& ledger) {
        ward = IsPatientOrGuardian(ledger, sub->caller, *sub->patient);
      });
      if (!ward) {
        return Problem(ProblemCode::kForbidden,
                       "a patient subscribes only to their own events (or their ward's)");
      }
      sub->ward = sub->patient;
    }
    if (role != CallerRole::kPatient && sub->org && *sub->org != sub->me) {
      return Problem(ProblemCode::kForbidden,
                     "an org subscribes only to the events it took part in (org=<its own key>)");
    }
  }
  std::shared_ptr<const Subscriber> s = std::move(sub);
  return WebSocketOpen([ctx, s](const std::shared_ptr<WebSocketChannel>& channel) {
    auto keep = std::make_shared<Subscription>();
    std::weak_ptr<WebSocketChannel> weak = channel;
    keep->handle = ctx.view->SubscribeCommits([ctx, s, weak](const CommittedBlockEvent& ev) {
      // The executor's thread: copy and hand over, never wait.
      auto ch = weak.lock();
      if (ch == nullptr || ch->closed()) return;
      auto block = std::make_shared<const CommittedBlockEvent>(ev);
      WebSocketChannel* raw = ch.get();
      raw->Post([ctx, s, weak, block] {
        if (auto c = weak.lock()) SendBlock(ctx, *s, *c, *block);
      });
    });
    return std::shared_ptr<void>(std::move(keep));
  });
}

}  // namespace

void RegisterEventRoutes(Router& router, const ExchangeContext& ctx) {
  HC_ASSERT(ctx.view != nullptr && ctx.auth != nullptr);
  AddWebSocketRoute(router, "/v1/events", [ctx](const Request& r) { return OpenEvents(ctx, r); });
}

}  // namespace hc::api

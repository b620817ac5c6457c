// GET /v1/claims/{id}/provenance and GET /v1/tx/{id}/proof: provenance bundles
// (docs/spec/provenance.md), built by ledger/provenance.h under the ledger's shared lock.
//
// Both reveal who accessed whose data, so both need a signed request (api/auth.h). A claim's
// bundle is for the claim's hospital, its insurer, its patient (or guardian) and commissions; a
// tx's for its signer, the identities its payload names and commissions. Anyone else gets 403,
// whether or not the thing exists (a commission gets 404 for what does not exist), so nothing
// leaks.
#include <cstdint>
#include <optional>
#include <string>

#include "api/exchange_routes.h"
#include "common/encoding.h"
#include "healthchain/v1/tx.pb.h"
#include "ledger/codec.h"
#include "ledger/provenance.h"
#include "ledger/queries.h"
#include "ledger_state.pb.h"

namespace hc::api {
namespace {

namespace pb = ::healthchain::v1;
namespace lpb = ::healthchain::ledger::v1;

std::string KeyString(const crypto::Ed25519PublicKey& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

// `?since_size=M[&since_root=B64]` (P9). nullopt without since_size.
Result<std::optional<ledger::SinceRoot>> ParseSince(const Request& r) {
  const auto size = r.Query("since_size");
  const auto root = r.Query("since_root");
  if (!size) {
    if (root) return InvalidArgument("query 'since_root' needs 'since_size'");
    return std::optional<ledger::SinceRoot>();
  }
  ledger::SinceRoot since;
  if (size->empty() || size->size() > 20 ||
      size->find_first_not_of("0123456789") != std::string_view::npos) {
    return InvalidArgument("query 'since_size': expected a non-negative integer");
  }
  for (char c : *size) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (since.size > (UINT64_MAX - digit) / 10) {
      return InvalidArgument("query 'since_size': out of range");
    }
    since.size = since.size * 10 + digit;
  }
  if (root) {
    HC_ASSIGN_OR_RETURN(Bytes b, Base64DecodeSized(*root, 32, "query 'since_root'"));
    since.root = ToHash32(b);
  }
  return std::optional<ledger::SinceRoot>(since);
}

bool IsPatientOrGuardian(const ledger::Ledger& ledger, const std::string& me,
                         const std::string& patient_key) {
  if (me == patient_key) return true;
  std::string value;
  if (!ledger.reader().Get(ledger::Cf::kState, ledger::keys::Patient(patient_key), &value).ok()) {
    return false;
  }
  lpb::PatientState p;
  return p.ParseFromString(value) && !p.guardian_key().empty() && p.guardian_key() == me;
}

// The answer for what the caller may not see or what does not exist (see the file comment).
Problem Hidden(const Caller& caller, std::string what) {
  if (caller.role == CallerRole::kCommission) return Problem(ProblemCode::kNotFound, what);
  return Problem(ProblemCode::kForbidden, "not allowed to see " + what);
}

void SendResult(Responder& res, const std::optional<Problem>& problem, std::string body) {
  if (problem) {
    res.SendProblem(*problem);
    return;
  }
  res.SendText(http::status::ok, "application/json", std::move(body));
}

void GetClaimProvenance(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  auto since = ParseSince(r);
  if (!since.ok()) {
    res.SendStatus(since.status());
    return;
  }
  const std::string id(r.PathParam("id").value_or(""));
  const std::string me = KeyString(caller->key);
  std::optional<Problem> problem;
  std::string body;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    std::string value;
    Status s = ledger.reader().Get(ledger::Cf::kState, ledger::keys::Claim(id), &value);
    lpb::ClaimState claim;
    if (s.code() == StatusCode::kNotFound) {
      problem = Hidden(*caller, "claim '" + id + "'");
      return;
    }
    if (!s.ok() || !claim.ParseFromString(value)) {
      problem = ProblemFromStatus(s.ok() ? Corruption("claim state does not parse") : s);
      return;
    }
    const bool allowed = caller->role == CallerRole::kCommission || me == claim.hospital_key() ||
                         me == claim.insurer_key() ||
                         IsPatientOrGuardian(ledger, me, claim.patient_key());
    if (!allowed) {
      problem = Hidden(*caller, "claim '" + id + "'");
      return;
    }
    auto bundle = ledger::BuildClaimProvenanceBundle(ledger, id, *since);
    if (!bundle.ok()) {
      problem = ProblemFromStatus(bundle.status());
      return;
    }
    body = std::move(bundle).value();
  });
  SendResult(res, problem, std::move(body));
}

// The identities a tx names: its signer and the keys in its payload.
bool TxNames(const ledger::Ledger& ledger, const pb::TxBody& body, const std::string& me) {
  if (body.signer() == me) return true;
  switch (body.payload_case()) {
    case pb::TxBody::kGrantConsent:
      return body.grant_consent().grantee_key() == me ||
             IsPatientOrGuardian(ledger, me, body.grant_consent().patient_key());
    case pb::TxBody::kAnchorRecord:
      return IsPatientOrGuardian(ledger, me, body.anchor_record().patient_key());
    case pb::TxBody::kSubmitClaim:
      return body.submit_claim().insurer_key() == me ||
             IsPatientOrGuardian(ledger, me, body.submit_claim().patient_key());
    case pb::TxBody::kEnrollPatient:
      return body.enroll_patient().patient_key() == me;
    case pb::TxBody::kRegisterOrg:
      return body.register_org().org_key() == me;
    default:
      return false;
  }
}

void GetTxProof(const ExchangeContext& ctx, const Request& r, Responder res) {
  auto caller = AuthenticateOrAnswer(ctx, r, res);
  if (!caller) return;
  auto since = ParseSince(r);
  if (!since.ok()) {
    res.SendStatus(since.status());
    return;
  }
  const std::string_view id_hex = r.PathParam("id").value_or("");
  auto id = HexDecode(id_hex);
  if (!id.ok() || id->size() != 32) {
    res.SendProblem(ProblemCode::kBadRequest, "tx id: expected 64 hex digits");
    return;
  }
  const Hash32 tx_id = ToHash32(*id);
  const std::string me = KeyString(caller->key);
  std::optional<Problem> problem;
  std::string body;
  ctx.view->Read([&](const ledger::Ledger& ledger) {
    auto answer = ledger::TxById(ledger, tx_id);
    if (!answer.ok()) {
      problem = answer.status().code() == StatusCode::kNotFound
                    ? Hidden(*caller, "tx " + std::string(id_hex))
                    : ProblemFromStatus(answer.status());
      return;
    }
    pb::SignedTx signed_tx;
    pb::TxBody tx;
    const bool parsed = signed_tx.ParseFromString(answer->entry.parsed.tx()) &&
                        tx.ParseFromString(signed_tx.body());
    if (caller->role != CallerRole::kCommission && !(parsed && TxNames(ledger, tx, me))) {
      problem = Hidden(*caller, "tx " + std::string(id_hex));
      return;
    }
    auto bundle = ledger::BuildTxProofBundle(ledger, tx_id, *since);
    if (!bundle.ok()) {
      problem = ProblemFromStatus(bundle.status());
      return;
    }
    body = std::move(bundle).value();
  });
  SendResult(res, problem, std::move(body));
}

}  // namespace

void RegisterProvenanceRoutes(Router& router, const ExchangeContext& ctx) {
  router.Get("/v1/claims/{id}/provenance",
             [ctx](const Request& r, Responder res) { GetClaimProvenance(ctx, r, res); });
  router.Get("/v1/tx/{id}/proof",
             [ctx](const Request& r, Responder res) { GetTxProof(ctx, r, res); });
}

}  // namespace hc::api

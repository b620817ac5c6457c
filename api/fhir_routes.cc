// Read-only FHIR R4 views of the ledger under /fhir (docs/spec/fhir.md).
//
// Every route needs a signed request (api/auth.h) and applies the API's read rules: a patient
// sees resources about themself, an org the events it took part in (grantee, anchoring or
// accessing hospital, insurer), a commission everything; anything else is 403.
//
// Errors under /fhir are FHIR OperationOutcome resources (application/fhir+json) with the HTTP
// status, not problem+json: FHIR clients parse OperationOutcome (R4 http.html), and a generic
// FHIR client has no use for our problem codes. The router's own failures (unknown path, wrong
// method, limits) stay problem+json, as on every route.
#include <boost/json/serialize.hpp>
#include <string>
#include <utility>

#include "api/exchange_routes.h"
#include "api/fhir_mapping.h"
#include "api/fhir_reader.h"

namespace hc::api {

namespace {

namespace json = boost::json;
using fhir::FhirFilter;
using fhir::FhirItem;
using fhir::ResourceKind;

HttpResponse FhirJson(http::status status, const json::object& body) {
  return MakeTextResponse(status, fhir::kFhirJsonContentType, json::serialize(body));
}

HttpResponse Outcome(http::status status, std::string_view code, std::string_view diagnostics) {
  return FhirJson(status, fhir::OperationOutcome(
                              status >= http::status::internal_server_error ? "fatal" : "error",
                              code, diagnostics));
}

// The OperationOutcome for an expected failure from below.
HttpResponse OutcomeOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return Outcome(http::status::bad_request, "invalid", s.message());
    case StatusCode::kNotFound:
      return Outcome(http::status::not_found, "not-found", s.message());
    case StatusCode::kPermissionDenied:
      return Outcome(http::status::forbidden, "forbidden", s.message());
    case StatusCode::kUnauthenticated:
      return Outcome(http::status::unauthorized, "login", s.message());
    case StatusCode::kResourceExhausted:
      return Outcome(http::status::bad_request, "too-costly", s.message());
    case StatusCode::kUnavailable:
      return Outcome(http::status::service_unavailable, "transient", s.message());
    default:
      // Store failures: the message may name keys or files; the client gets none of it.
      return Outcome(http::status::internal_server_error, "exception", "internal error");
  }
}

std::string KeyString(const Caller& caller) {
  return std::string(reinterpret_cast<const char*>(caller.key.data()), caller.key.size());
}

bool Visible(const Caller& caller, const FhirItem& item) {
  if (caller.role == CallerRole::kCommission) return true;
  const std::string key = KeyString(caller);
  if (caller.role == CallerRole::kPatient) return item.patient_key == key;
  for (const std::string& org : item.org_keys) {
    if (org == key) return true;
  }
  return false;
}

// "Patient/<id>" or "<id>" -> the id part; the same for other types.
std::string_view StripType(std::string_view value, std::string_view type) {
  if (value.size() > type.size() + 1 && value.starts_with(type) && value[type.size()] == '/') {
    value.remove_prefix(type.size() + 1);
  }
  return value;
}

// Turns the ?patient= parameter into a raw key. A patient may only name themself.
Status ResolvePatient(const ledger::Ledger& ledger, const Caller& caller, std::string_view param,
                      FhirFilter* filter) {
  const std::string id(StripType(param, "Patient"));
  if (id.empty()) return InvalidArgument("patient: expected Patient/<id>");
  if (fhir::IdentityId(AsBytes(KeyString(caller))) == id) {
    filter->patient_key = KeyString(caller);
    return Status::Ok();
  }
  if (caller.role == CallerRole::kPatient) {
    return PermissionDenied("a patient may read only their own resources");
  }
  Result<std::string> key = fhir::PatientKeyOfId(ledger, id);
  if (!key.ok()) {
    if (key.status().code() != StatusCode::kNotFound) return key.status();
    // Unknown patient: nothing matches (a search, not a read).
    filter->patient_key = std::string(32, '\0');
    return Status::Ok();
  }
  filter->patient_key = std::move(key).value();
  return Status::Ok();
}

struct Routes {
  ExchangeContext ctx;

  fhir::MappingOptions Options() const {
    fhir::MappingOptions o;
    o.chain_id = ctx.view->genesis().chain_id;
    return o;
  }

  // Authenticates and runs `fn(ledger, caller)` under the ledger's read lock.
  template <typename Fn>
  void Serve(const Request& request, Responder& responder, Fn fn) const {
    if (!ctx.view || !ctx.auth) {
      responder.Send(
          Outcome(http::status::service_unavailable, "transient", "the ledger is not available"));
      return;
    }
    Result<Caller> caller = ctx.auth->Authenticate(request, *ctx.view);
    if (!caller.ok()) {
      responder.Send(Outcome(http::status::unauthorized, "login", caller.status().message()));
      return;
    }
    HttpResponse response;
    ctx.view->Read([&](const ledger::Ledger& ledger) { response = fn(ledger, *caller); });
    responder.Send(std::move(response));
  }

  void Read(const Request& request, Responder responder, ResourceKind kind) const {
    Serve(request, responder, [&](const ledger::Ledger& ledger, const Caller& caller) {
      const std::string id(request.PathParam("id").value_or(""));
      FhirFilter filter;
      filter.ledger_id = id;
      Result<std::vector<FhirItem>> items = fhir::Collect(ledger, kind, filter, Options());
      if (!items.ok()) return OutcomeOf(items.status());
      if (items->empty()) {
        return Outcome(
            http::status::not_found, "not-found",
            std::string(fhir::ResourceKindName(kind)) + "/" + id + " is not on the ledger");
      }
      if (!Visible(caller, items->front())) {
        return Outcome(
            http::status::forbidden, "forbidden",
            "the caller took no part in " + std::string(fhir::ResourceKindName(kind)) + "/" + id);
      }
      return FhirJson(http::status::ok, items->front().resource);
    });
  }

  void Search(const Request& request, Responder responder, ResourceKind kind) const {
    Serve(request, responder, [&](const ledger::Ledger& ledger, const Caller& caller) {
      FhirFilter filter;
      for (const Param& p : request.query()) {
        if (p.name == "patient") {
          Status s = ResolvePatient(ledger, caller, p.value, &filter);
          if (!s.ok()) return OutcomeOf(s);
        } else if (p.name == "target" && kind == ResourceKind::kProvenance) {
          filter.record_id = std::string(StripType(p.value, "DocumentReference"));
        } else if (p.name == "request" && kind == ResourceKind::kClaimResponse) {
          filter.claim_id = std::string(StripType(p.value, "Claim"));
        } else if (p.name == "_id") {
          filter.ledger_id = p.value;
        } else if (p.name == "_format" || p.name == "_count") {
          // Accepted and ignored: JSON is the only format; no paging yet.
        } else {
          return Outcome(http::status::bad_request, "not-supported",
                         "unsupported search parameter '" + p.name + "'");
        }
      }
      Result<std::vector<FhirItem>> items = fhir::Collect(ledger, kind, filter, Options());
      if (!items.ok()) return OutcomeOf(items.status());
      std::vector<json::object> visible;
      for (FhirItem& item : *items) {
        if (Visible(caller, item)) visible.push_back(std::move(item.resource));
      }
      return FhirJson(http::status::ok, fhir::SearchBundle(std::move(visible), request.target()));
    });
  }

  void Export(const Request& request, Responder responder) const {
    Serve(request, responder, [&](const ledger::Ledger& ledger, const Caller& caller) {
      if (caller.role != CallerRole::kCommission) {
        return Outcome(http::status::forbidden, "forbidden", "only a commission may export");
      }
      Result<std::vector<FhirItem>> items = fhir::CollectAll(ledger, Options());
      if (!items.ok()) return OutcomeOf(items.status());
      std::string body;
      for (const FhirItem& item : *items) {
        body += json::serialize(item.resource);
        body += '\n';
      }
      return MakeTextResponse(http::status::ok, fhir::kNdjsonContentType, std::move(body));
    });
  }
};

}  // namespace

void RegisterFhirRoutes(Router& router, const ExchangeContext& ctx) {
  auto routes = std::make_shared<Routes>(Routes{ctx});
  auto read = [routes](ResourceKind kind) {
    return
        [routes, kind](const Request& rq, Responder rs) { routes->Read(rq, std::move(rs), kind); };
  };
  auto search = [routes](ResourceKind kind) {
    return [routes, kind](const Request& rq, Responder rs) {
      routes->Search(rq, std::move(rs), kind);
    };
  };
  router.Get("/fhir/Consent", search(ResourceKind::kConsent));
  router.Get("/fhir/Consent/{id}", read(ResourceKind::kConsent));
  router.Get("/fhir/DocumentReference", search(ResourceKind::kDocumentReference));
  router.Get("/fhir/DocumentReference/{id}", read(ResourceKind::kDocumentReference));
  router.Get("/fhir/AuditEvent", search(ResourceKind::kAuditEvent));
  router.Get("/fhir/AuditEvent/{id}", read(ResourceKind::kAuditEvent));
  router.Get("/fhir/Provenance", search(ResourceKind::kProvenance));
  router.Get("/fhir/Provenance/{id}", read(ResourceKind::kProvenance));
  router.Get("/fhir/Claim", search(ResourceKind::kClaim));
  router.Get("/fhir/Claim/{id}", read(ResourceKind::kClaim));
  router.Get("/fhir/ClaimResponse", search(ResourceKind::kClaimResponse));
  router.Get("/fhir/ClaimResponse/{id}", read(ResourceKind::kClaimResponse));
  router.Get("/fhir/$export",
             [routes](const Request& rq, Responder rs) { routes->Export(rq, std::move(rs)); });
}

}  // namespace hc::api

// The exchange API (issue 6): everything beyond the node's minimal tx/status routes. Each area
// registers its routes from its own file; the node calls RegisterExchangeRoutes once.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <optional>

#include "api/auth.h"
#include "api/ledger_view.h"
#include "api/metrics.h"
#include "api/router.h"
#include "healthchain/v1/block.pb.h"

namespace hc::api {

struct ExchangeContext {
  std::shared_ptr<LedgerView> view;
  std::shared_ptr<RequestAuthenticator> auth;
  std::shared_ptr<MetricsRegistry> metrics;
  bool observer =
      false;  // observers serve reads; payload uploads go to validators or observers alike
};

// api/query_routes.cc: blocks, txs with proofs, consents, records, claims, the patient audit trail,
// the break-glass review queue, validators.
void RegisterQueryRoutes(Router& router, const ExchangeContext& ctx);
// api/events_routes.cc: WebSocket /v1/events (committed txs as they happen).
void RegisterEventRoutes(Router& router, const ExchangeContext& ctx);
// api/payload_routes.cc: PUT/GET /v1/payloads (encrypted records and wrapped keys).
void RegisterPayloadRoutes(Router& router, const ExchangeContext& ctx);
// api/provenance_routes.cc: GET /v1/claims/{id}/provenance, GET /v1/tx/{id}/proof.
void RegisterProvenanceRoutes(Router& router, const ExchangeContext& ctx);
// api/fhir_routes.cc: read-only FHIR R4 views under /fhir and GET /fhir/$export.
void RegisterFhirRoutes(Router& router, const ExchangeContext& ctx);

// Authenticates a signed request (api/auth.h); on failure answers it (problem+json) and returns
// nullopt. Routes that answer otherwise (FHIR, WebSocket) call the authenticator themselves.
std::optional<Caller> AuthenticateOrAnswer(const ExchangeContext& ctx, const Request& request,
                                           Responder& responder);

// A commit certificate as every route shows it ({height, view, block_hash, signatures}).
boost::json::object CertificateJson(const ::healthchain::v1::CommitCertificate& certificate);

inline void RegisterExchangeRoutes(Router& router, const ExchangeContext& ctx) {
  RegisterQueryRoutes(router, ctx);
  RegisterEventRoutes(router, ctx);
  RegisterPayloadRoutes(router, ctx);
  RegisterProvenanceRoutes(router, ctx);
  RegisterFhirRoutes(router, ctx);
}

}  // namespace hc::api

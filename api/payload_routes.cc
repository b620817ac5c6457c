// PUT/GET /v1/payloads: the encrypted payload store over HTTP (DESIGN.md §5). The rules live in
// api/payload_service.h (P1..P4); this file authenticates each request (api/auth.h), hands the
// decoded pieces to the service and renders its answer.
//
//   PUT /v1/payloads/{record_id}                    body: the ciphertext (Sealed::Encode bytes)
//       201 {"record_id", "ciphertext_sha256" (hex), "size", "state": "anchored" | "pending"}
//   PUT /v1/payloads/{record_id}/keys/{recipient}   body: an 80-byte sealed box
//       201 {"record_id", "recipient"}
//   GET /v1/payloads/{record_id}
//       200 application/octet-stream: the ciphertext, with
//           X-HC-Ciphertext-SHA256: hex of the anchored SHA-256 (the body was checked against it)
//           X-HC-Wrapped-Key:       base64 of the data key wrapped for the caller (absent when
//                                   none was stored for them yet)
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <memory>

#include "api/exchange_routes.h"
#include "api/payload_service.h"
#include "common/encoding.h"

namespace hc::api {
namespace {

// What the routes share: the service, and the commit subscription that applies erasures. The
// subscription's callback holds the service weakly, so dropping the routes ends both.
struct PayloadRoutesState {
  std::shared_ptr<PayloadService> service;
  std::unique_ptr<LedgerView::Subscription> subscription;
};

}  // namespace

void RegisterPayloadRoutes(Router& router, const ExchangeContext& ctx) {
  if (!ctx.view) return;  // no ledger behind this router (unit tests of other areas)
  auto state = std::make_shared<PayloadRoutesState>();
  state->service = std::make_shared<PayloadService>(ctx.view);
  std::weak_ptr<PayloadService> weak = state->service;
  // P4: erasures committed from now on are applied as their blocks commit; the first callback
  // also sweeps erasures committed while this node was not subscribed (e.g. down). This runs on
  // the executor: the deletion is one small synced batch per erased record.
  auto swept = std::make_shared<bool>(false);
  state->subscription = ctx.view->SubscribeCommits([weak, swept](const CommittedBlockEvent& b) {
    std::shared_ptr<PayloadService> service = weak.lock();
    if (!service) return;
    if (!*swept) {
      *swept = true;
      if (Status s = service->SweepErased(); !s.ok()) {
        spdlog::error("payload store: sweeping erased records: {}", s.ToString());
      }
    }
    service->OnCommittedBlock(b);
  });

  RouteOptions upload;
  upload.body_bytes_max = kPayloadBytesMax;

  router.Put(
      "/v1/payloads/{record_id}",
      [state, ctx](const Request& request, Responder responder) {
        std::optional<Caller> caller = AuthenticateOrAnswer(ctx, request, responder);
        if (!caller) return;
        const std::string record_id(request.PathParam("record_id").value_or(""));
        ProblemOr<PayloadUploaded> r =
            state->service->PutCiphertext(*caller, record_id, request.body());
        if (!r.ok()) {
          responder.SendProblem(r.problem());
          return;
        }
        boost::json::object o;
        o["record_id"] = record_id;
        o["ciphertext_sha256"] = HexEncode(r.value().sha256);
        o["size"] = request.body().size();
        o["state"] = r.value().pending ? "pending" : "anchored";
        responder.SendJson(http::status::created, o);
      },
      upload);

  router.Put("/v1/payloads/{record_id}/keys/{recipient}",
             [state, ctx](const Request& request, Responder responder) {
               std::optional<Caller> caller = AuthenticateOrAnswer(ctx, request, responder);
               if (!caller) return;
               const std::string record_id(request.PathParam("record_id").value_or(""));
               const std::string recipient(request.PathParam("recipient").value_or(""));
               ProblemOr<Done> r =
                   state->service->PutWrappedKey(*caller, record_id, recipient, request.body());
               if (!r.ok()) {
                 responder.SendProblem(r.problem());
                 return;
               }
               boost::json::object o;
               o["record_id"] = record_id;
               o["recipient"] = recipient;
               responder.SendJson(http::status::created, o);
             });

  router.Get("/v1/payloads/{record_id}", [state, ctx](const Request& request, Responder responder) {
    std::optional<Caller> caller = AuthenticateOrAnswer(ctx, request, responder);
    if (!caller) return;
    const std::string record_id(request.PathParam("record_id").value_or(""));
    ProblemOr<PayloadDownload> r = state->service->Get(*caller, record_id);
    if (!r.ok()) {
      responder.SendProblem(r.problem());
      return;
    }
    PayloadDownload& d = r.value();
    HttpResponse res =
        MakeTextResponse(http::status::ok, "application/octet-stream", std::move(d.ciphertext));
    res.set("X-HC-Ciphertext-SHA256", HexEncode(d.sha256));
    if (d.wrapped_key) res.set("X-HC-Wrapped-Key", Base64Encode(AsBytes(*d.wrapped_key)));
    responder.Send(std::move(res));
  });
}

}  // namespace hc::api

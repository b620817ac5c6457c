// The node's HTTP routes (docs/api/openapi.yaml): POST /v1/tx, GET /v1/tx/{id}, GET /v1/status,
// GET /metrics. Handlers run on the API's io_context thread and never block: reads take the
// ledger's shared lock for a few point lookups; submissions are answered from a verify worker;
// `?wait=commit` is answered by the executor (or the follower) when the tx's block executes.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/exchange_routes.h"
#include "api/json.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "consensus/signing.h"
#include "ledger/queries.h"
#include "ledger/tx.h"
#include "node/node_impl.h"

namespace hc::node {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
namespace pb = ::healthchain::v1;

std::string_view DenyReasonName(pb::DenyReason r) {
  switch (r) {
    case pb::DENY_REASON_NO_CONSENT:
      return "NO_CONSENT";
    case pb::DENY_REASON_REVOKED:
      return "REVOKED";
    case pb::DENY_REASON_EXPIRED:
      return "EXPIRED";
    case pb::DENY_REASON_NOT_YET_VALID:
      return "NOT_YET_VALID";
    case pb::DENY_REASON_OUT_OF_SCOPE:
      return "OUT_OF_SCOPE";
    case pb::DENY_REASON_WRONG_PURPOSE:
      return "WRONG_PURPOSE";
    default:
      return "";
  }
}

std::string HexOfBytes(const std::string& b) { return HexEncode(AsBytes(b)); }

json::object PendingJson(const TxId& id) {
  json::object o;
  o["tx_id"] = HexEncode(id);
  o["status"] = "pending";
  return o;
}

// A committed tx as POST /v1/tx?wait=commit and GET /v1/tx/{id} answer it.
json::object CommittedJson(const TxId& id, uint64_t height, uint32_t index,
                           std::string block_hash_hex, const pb::Receipt& r,
                           json::object certificate) {
  json::object o;
  o["tx_id"] = HexEncode(id);
  o["status"] = "committed";
  o["height"] = height;
  o["index"] = index;
  o["block_hash"] = std::move(block_hash_hex);
  json::object receipt;
  receipt["status"] = TxStatusName(r.status());
  receipt["reason"] = r.reason();
  receipt["rule"] = r.rule();
  receipt["deny_reason"] = DenyReasonName(r.deny_reason());
  receipt["related_id"] = r.related_id();
  receipt["flagged"] = r.flagged();
  o["receipt"] = std::move(receipt);
  o["certificate"] = std::move(certificate);
  return o;
}

}  // namespace

std::string_view TxStatusName(pb::TxStatus s) {
  switch (s) {
    case pb::TX_STATUS_OK:
      return "OK";
    case pb::TX_STATUS_DENIED:
      return "DENIED";
    case pb::TX_STATUS_DUPLICATE:
      return "DUPLICATE";
    case pb::TX_STATUS_UNAUTHORIZED:
      return "UNAUTHORIZED";
    case pb::TX_STATUS_NOT_FOUND:
      return "NOT_FOUND";
    case pb::TX_STATUS_INVALID:
      return "INVALID";
    case pb::TX_STATUS_CONFLICT:
      return "CONFLICT";
    case pb::TX_STATUS_ERASED:
      return "ERASED";
    default:
      return "UNSPECIFIED";
  }
}

std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

api::Router NodeImpl::BuildRouter() {
  api::Router router;
  api::RouteOptions submit;
  submit.handler_deadline = api::Millis(kWaitCommitRouteDeadlineMs);
  router.Post(
      "/v1/tx", [this](const api::Request& r, api::Responder res) { HandleSubmitTx(r, res); },
      submit);
  router.Get("/v1/tx/{id}",
             [this](const api::Request& r, api::Responder res) { HandleGetTx(r, res); });
  router.Get("/v1/status",
             [this](const api::Request& r, api::Responder res) { HandleStatus(r, res); });
  AddBatchRoute(router);
  api::AddMetricsRoute(router, metrics_);
  api::ExchangeContext ctx;
  ctx.view = ledger_view_;
  ctx.auth = request_auth_;
  ctx.metrics = metrics_;
  ctx.observer = !validator_;
  api::RegisterExchangeRoutes(router, ctx);
  return router;
}

std::optional<bool> NodeImpl::SubmissionWait(const api::Request& request,
                                             api::Responder& responder) const {
  bool wait = false;
  if (auto w = request.Query("wait")) {
    if (*w != "commit") {
      responder.SendProblem(api::ProblemCode::kBadRequest,
                            "query 'wait': expected \"commit\", got \"" + std::string(*w) + "\"");
      return std::nullopt;
    }
    wait = true;
  }
  if (!validator_) {
    responder.SendProblem(api::ProblemCode::kUnavailable,
                          "this node is an observer; submit transactions to a validator");
    return std::nullopt;
  }
  return wait;
}

void NodeImpl::HandleSubmitTx(const api::Request& request, api::Responder responder) {
  // The body: raw SignedTx bytes, or {"tx": "<base64 SignedTx>"}.
  Bytes tx;
  const std::string type = MediaType(request.Header(http::field::content_type));
  if (type == "application/x-protobuf" || type == "application/octet-stream") {
    tx = ToBytes(request.body());
  } else if (type == "application/json") {
    auto body = api::ParseJsonObjectBody(request);
    if (!body.ok()) {
      responder.SendProblem(body.problem());
      return;
    }
    auto b64 = api::GetString(body.value(), "tx");
    if (!b64.ok()) {
      responder.SendStatus(b64.status());
      return;
    }
    auto decoded = Base64Decode(b64.value());
    if (!decoded.ok()) {
      responder.SendProblem(api::ProblemCode::kBadRequest,
                            "field 'tx': " + decoded.status().message());
      return;
    }
    tx = std::move(decoded).value();
  } else {
    responder.SendProblem(api::ProblemCode::kUnsupportedMediaType,
                          "send application/x-protobuf (SignedTx bytes) or application/json "
                          "({\"tx\": \"<base64>\"})");
    return;
  }
  const std::optional<bool> wait_opt = SubmissionWait(request, responder);
  if (!wait_opt) return;
  const bool wait = *wait_opt;
  if (tx.empty()) {
    responder.SendProblem(api::ProblemCode::kInvalidTx, "R1: empty transaction");
    return;
  }
  const TxId id = ledger::TxIdOf(tx);
  uint64_t token = 0;
  if (wait) {
    // Registered before admission so that a commit racing the 202 path cannot be missed.
    token = AddWaiter(id, [responder, id](WaitEnd end, const CommitNotice* n) mutable {
      switch (end) {
        case WaitEnd::kCommitted:
          responder.SendJson(http::status::ok,
                             CommittedJson(id, n->height, n->index, HexEncode(*n->block_hash),
                                           *n->receipt, *n->certificate));
          break;
        case WaitEnd::kExpired:
          responder.SendProblem(api::ProblemCode::kDeadlineExceeded,
                                "not committed within " + std::to_string(kWaitCommitMs / 1000) +
                                    " s; the transaction may still commit (GET /v1/tx/{id})");
          break;
        case WaitEnd::kCancelled:  // the admission callback answers
        case WaitEnd::kStopping:   // the last Responder copy answers, if the server still runs
          break;
      }
    });
    if (token == 0) {
      responder.SendProblem(api::ProblemCode::kUnavailable,
                            "too many requests waiting for a "
                            "commit; retry later");
      return;
    }
  }
  AdmissionJob job;
  job.tx = std::move(tx);
  job.relayer = self_id_;
  job.done = [this, responder, wait, token](const AdmitResult& r) mutable {
    m_->Admission(AdmitCodeName(r.code)).Inc();
    const std::string hex = HexEncode(r.tx_id);
    switch (r.code) {
      case AdmitCode::kAdmitted:
        if (!wait) responder.SendJson(http::status::accepted, PendingJson(r.tx_id));
        return;  // with wait=commit the executor answers
      case AdmitCode::kInvalid:
        break;
      case AdmitCode::kDuplicatePending:
      case AdmitCode::kDuplicateCommitted:
      case AdmitCode::kFull:
        break;
    }
    if (wait) CancelWaiter(r.tx_id, token);
    switch (r.code) {
      case AdmitCode::kInvalid:
        spdlog::info("refused tx {}: {}", hex, r.detail);
        responder.SendProblem(api::ProblemCode::kInvalidTx, "tx " + hex + ": " + r.detail);
        break;
      case AdmitCode::kDuplicatePending:
        responder.SendProblem(api::ProblemCode::kConflict,
                              "tx " + hex + " is a duplicate of a pending transaction");
        break;
      case AdmitCode::kDuplicateCommitted:
        responder.SendProblem(api::ProblemCode::kConflict,
                              "tx " + hex + " is a duplicate of a committed transaction");
        break;
      case AdmitCode::kFull:
        spdlog::warn("refused tx {}: mempool full ({} txs, {} bytes)", hex, mempool_->size(),
                     mempool_->bytes());
        responder.SendProblem(api::ProblemCode::kMempoolFull, "the mempool is full; retry later");
        break;
      case AdmitCode::kAdmitted:
        break;
    }
  };
  if (!admission_->Submit(std::move(job))) {
    if (wait) CancelWaiter(id, token);
    m_->Admission("queue_full").Inc();
    responder.SendProblem(api::ProblemCode::kMempoolFull,
                          "the admission queue is full; retry later");
  }
}

void NodeImpl::HandleGetTx(const api::Request& request, api::Responder responder) {
  const std::string_view hex = request.PathParam("id").value_or("");
  auto bytes = HexDecode(hex);
  if (!bytes.ok() || bytes->size() != 32) {
    responder.SendProblem(api::ProblemCode::kBadRequest,
                          "tx id: expected 64 hex characters (SHA-256)");
    return;
  }
  const TxId id = ToHash32(bytes.value());
  auto committed = CommittedTxJson(id);
  if (committed.ok()) {
    responder.SendJson(http::status::ok, committed.value());
    return;
  }
  if (committed.status().code() != StatusCode::kNotFound) {
    spdlog::error("GET /v1/tx/{}: {}", hex, committed.status().ToString());
    responder.SendStatus(committed.status());
    return;
  }
  if (mempool_->Contains(id)) {
    responder.SendJson(http::status::ok, PendingJson(id));
    return;
  }
  responder.SendProblem(api::ProblemCode::kNotFound,
                        "tx " + HexEncode(id) + " is neither pending here nor committed");
}

Result<json::object> NodeImpl::CommittedTxJson(const TxId& id) const {
  std::shared_lock lock(ledger_mu_);
  if (!ledger_) return Unavailable("shutting down");
  HC_ASSIGN_OR_RETURN(ledger::TxLocation at, ledger::LocateTx(*ledger_, id));
  HC_ASSIGN_OR_RETURN(auto info, ledger_->InfoAt(at.height));
  HC_ASSIGN_OR_RETURN(auto cert, ledger_->CertificateAt(at.height));
  return CommittedJson(id, at.height, at.index_in_block, HexOfBytes(info.block_hash()), at.receipt,
                       api::CertificateJson(cert));
}

void NodeImpl::HandleStatus(const api::Request&, api::Responder responder) {
  json::object o;
  o["node"] = config_.name;
  o["mode"] = validator_ ? "validator" : "observer";
  if (validator_) {
    o["replica"] = self_id_;
  } else {
    o["replica"] = nullptr;
    o["observer_id"] = self_id_;
  }
  o["chain_id"] = genesis_.chain_id;
  o["genesis_hash"] = HexEncode(genesis_hash_);
  {
    std::shared_lock lock(ledger_mu_);
    if (!ledger_) {
      responder.SendProblem(api::ProblemCode::kUnavailable, "shutting down");
      return;
    }
    o["height"] = ledger_->height();
    o["head_hash"] = HexEncode(ledger_->tip_hash());
    o["log_size"] = ledger_->log_size();
    o["log_root"] = HexEncode(ledger_->log_root());
  }
  if (validator_) {
    ConsensusSnapshot s;
    {
      std::lock_guard lock(snapshot_mu_);
      s = snapshot_;
    }
    o["view"] = s.view;
    o["primary"] = s.primary;
    o["view_active"] = s.view_active;
    o["committed_height"] = s.committed_height;
    o["state_transfer"] = s.state_transfer;
    o["low_watermark"] = s.low_watermark;
  } else {
    o["view"] = nullptr;
    o["primary"] = nullptr;
    o["view_active"] = nullptr;
  }
  json::object mp;
  mp["txs"] = mempool_->size();
  mp["bytes"] = mempool_->bytes();
  o["mempool"] = std::move(mp);
  json::array peers;
  std::map<uint32_t, PeerInfo> infos;
  {
    std::lock_guard lock(peers_mu_);
    infos = peers_;
  }
  for (const PeerStatus& st : transport_->PeerStatuses()) {
    json::object p;
    p["id"] = st.id;
    auto it = infos.find(st.id);
    if (it != infos.end()) {
      p["name"] = it->second.name;
      p["role"] = st.id < n_ ? "validator" : "observer";
      p["hello"] = it->second.hello_ok;
      p["refused"] = it->second.refused;
      p["height"] = it->second.height;
    }
    p["up"] = st.up;
    p["outbound_up"] = st.outbound_up;
    p["inbound_up"] = st.inbound_up;
    p["queued_frames"] = st.queued_frames;
    p["frames_sent"] = st.frames_sent;
    p["frames_received"] = st.frames_received;
    p["dropped"] = st.dropped_queue_full;
    peers.push_back(std::move(p));
  }
  o["peers"] = std::move(peers);
  responder.SendJson(http::status::ok, o);
}

// ---- Commit waiters ----

uint64_t NodeImpl::AddWaiter(const TxId& id,
                             std::function<void(WaitEnd, const CommitNotice*)> done) {
  std::lock_guard lock(waiters_mu_);
  if (waiter_count_ >= kCommitWaitersMax || stopped_) return 0;
  const uint64_t token = next_waiter_token_++;
  waiters_[id].push_back(
      CommitWaiter{token, SystemClock().NowMs() + kWaitCommitMs, std::move(done)});
  ++waiter_count_;
  return token;
}

void NodeImpl::CancelWaiter(const TxId& id, uint64_t token) {
  std::function<void(WaitEnd, const CommitNotice*)> done;
  {
    std::lock_guard lock(waiters_mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    auto& v = it->second;
    for (auto w = v.begin(); w != v.end(); ++w) {
      if (w->token == token) {
        done = std::move(w->done);
        v.erase(w);
        --waiter_count_;
        break;
      }
    }
    if (v.empty()) waiters_.erase(it);
  }
  if (done) done(WaitEnd::kCancelled, nullptr);
}

void NodeImpl::NotifyWaiters(const std::vector<TxId>& ids, const ledger::CommittedBlock& committed,
                             const pb::CommitCertificate& certificate) {
  struct Ready {
    uint32_t index;
    std::vector<CommitWaiter> waiters;
  };
  std::vector<Ready> ready;
  {
    std::lock_guard lock(waiters_mu_);
    if (waiters_.empty()) return;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = waiters_.find(ids[i]);
      if (it == waiters_.end()) continue;
      waiter_count_ -= it->second.size();
      ready.push_back(Ready{static_cast<uint32_t>(i), std::move(it->second)});
      waiters_.erase(it);
    }
  }
  if (ready.empty()) return;
  const json::object cert = api::CertificateJson(certificate);
  const auto& receipts = committed.execution.receipts;
  for (Ready& r : ready) {
    HC_ASSERT_LT(r.index, receipts.size());
    CommitNotice notice;
    notice.height = committed.height;
    notice.index = r.index;
    notice.block_hash = &committed.block_hash;
    notice.receipt = &receipts[r.index];
    notice.certificate = &cert;
    for (CommitWaiter& w : r.waiters) w.done(WaitEnd::kCommitted, &notice);
  }
}

void NodeImpl::SweepWaiters() {
  const int64_t now = SystemClock().NowMs();
  std::vector<CommitWaiter> expired;
  {
    std::lock_guard lock(waiters_mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto& v = it->second;
      for (auto w = v.begin(); w != v.end();) {
        if (w->deadline_ms <= now) {
          expired.push_back(std::move(*w));
          w = v.erase(w);
          --waiter_count_;
        } else {
          ++w;
        }
      }
      it = v.empty() ? waiters_.erase(it) : std::next(it);
    }
  }
  for (CommitWaiter& w : expired) w.done(WaitEnd::kExpired, nullptr);
}

void NodeImpl::DropAllWaiters() {
  std::unordered_map<TxId, std::vector<CommitWaiter>, consensus::Hash32Hasher> all;
  {
    std::lock_guard lock(waiters_mu_);
    all.swap(waiters_);
    waiter_count_ = 0;
  }
  for (auto& [id, waiters] : all) {
    for (CommitWaiter& w : waiters) w.done(WaitEnd::kStopping, nullptr);
  }
}

}  // namespace hc::node

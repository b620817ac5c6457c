// POST /v1/txs: batch submission (docs/api/openapi.yaml). Every tx of the batch goes through the
// same admission path as POST /v1/tx (the mempool's verify workers: size cap, duplicates, R1..R4
// and the signature, checked once per node), and the answer lists one result per tx, in order.
//
// With `?wait=commit` the answer waits until every admitted tx of the batch has executed (or the
// commit wait of kWaitCommitMs has passed). Each admitted tx registers an ordinary commit waiter
// (AddWaiter) that reports into the batch; every waiter ends exactly once (committed, cancelled,
// expired or stopping), so the count always reaches zero and the batch is answered. A committed
// tx's result carries its height, index and receipt status (the inclusion proof is served by
// GET /v1/tx/{id}), and `commit_ms`: when the node saw the tx's block execute, counted from the
// arrival of the request; a client subtracts it from its own round trip to learn each tx's commit
// latency without asking about every tx.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>

#include "api/json.h"
#include "common/encoding.h"
#include "ledger/tx.h"
#include "node/node_impl.h"

namespace hc::node {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;

static_assert(kBatchBodyBytesMax <= api::kBodyBytesCeiling);

enum class BatchTxStatus { kPending, kDuplicate, kInvalid, kMempoolFull };

std::string_view BatchTxStatusName(BatchTxStatus s) {
  switch (s) {
    case BatchTxStatus::kPending:
      return "pending";
    case BatchTxStatus::kDuplicate:
      return "duplicate";
    case BatchTxStatus::kInvalid:
      return "invalid";
    case BatchTxStatus::kMempoolFull:
      return "mempool_full";
  }
  return "invalid";
}

// Splits a length-delimited sequence (each entry a base-128 varint length, then that many bytes;
// protobuf's writeDelimitedTo framing). Fails on a truncated entry or an over-long varint.
Status SplitDelimited(std::string_view body, std::vector<Bytes>* out) {
  size_t pos = 0;
  while (pos < body.size()) {
    uint64_t len = 0;
    int shift = 0;
    while (true) {
      if (pos >= body.size()) return InvalidArgument("truncated length prefix");
      if (shift > 28) return InvalidArgument("length prefix too long");
      const auto b = static_cast<uint8_t>(body[pos++]);
      len |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if (len > body.size() - pos) {
      return InvalidArgument("entry " + std::to_string(out->size()) + " is truncated");
    }
    if (out->size() >= kBatchTxsMax) {
      return InvalidArgument("more than " + std::to_string(kBatchTxsMax) + " txs");
    }
    out->push_back(ToBytes(body.substr(pos, len)));
    pos += len;
  }
  return Status::Ok();
}

using SteadyClock = std::chrono::steady_clock;

// The state of one batch request, shared by its admission callbacks and its commit waiters.
class BatchState final : public std::enable_shared_from_this<BatchState> {
 public:
  BatchState(api::Responder responder, size_t n, bool wait)
      : responder_(std::move(responder)), wait_(wait), results_(n), start_(SteadyClock::now()) {}

  struct TxResult {
    TxId id{};
    BatchTxStatus status = BatchTxStatus::kInvalid;
    std::string detail;
    bool waiting = false;    // a commit waiter is registered
    bool committed = false;  // its waiter reported the commit
    int64_t commit_ms = -1;
    uint64_t height = 0;
    uint32_t index = 0;
    std::string_view receipt_status;
  };

  // Sets the outstanding count (admissions + waiters) and keeps this state alive until it drains.
  void Arm(size_t outstanding) {
    outstanding_ = outstanding;
    self_ = shared_from_this();
  }
  TxResult& at(size_t i) { return results_[i]; }
  std::mutex& mu() { return mu_; }
  bool wait() const { return wait_; }

  // One admission or waiter finished; answers the request after the last one.
  void Done() {
    std::shared_ptr<BatchState> keep;
    {
      std::lock_guard lock(mu_);
      HC_ASSERT_GT(outstanding_, size_t{0});
      if (--outstanding_ != 0) return;
      keep = std::move(self_);
    }
    Answer();
  }

  // The end of tx `i`'s commit wait.
  void WaitEnded(size_t i, WaitEnd end, const CommitNotice* notice) {
    {
      std::lock_guard lock(mu_);
      TxResult& r = results_[i];
      if (end == WaitEnd::kCommitted) {
        r.committed = true;
        r.commit_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start_)
                .count();
        r.height = notice->height;
        r.index = notice->index;
        r.receipt_status = TxStatusName(notice->receipt->status());
      }
    }
    Done();
  }

 private:
  void Answer() {
    json::array arr;
    arr.reserve(results_.size());
    size_t pending = 0;
    size_t committed = 0;
    {
      std::lock_guard lock(mu_);
      for (const TxResult& r : results_) {
        json::object o;
        o["tx_id"] = HexEncode(r.id);
        o["status"] = BatchTxStatusName(r.status);
        if (!r.detail.empty()) o["detail"] = r.detail;
        if (r.status == BatchTxStatus::kPending) ++pending;
        if (wait_ && r.status == BatchTxStatus::kPending) {
          o["committed"] = r.committed;
          if (r.committed) {
            o["commit_ms"] = r.commit_ms;
            o["height"] = r.height;
            o["index"] = r.index;
            o["receipt_status"] = r.receipt_status;
            ++committed;
          }
        }
        arr.push_back(std::move(o));
      }
    }
    json::object body;
    body["results"] = std::move(arr);
    body["accepted"] = pending;
    if (wait_) body["committed"] = committed;
    body["elapsed_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start_).count();
    responder_.SendJson(http::status::ok, body);
  }

  api::Responder responder_;
  const bool wait_;
  std::mutex mu_;
  std::vector<TxResult> results_;
  size_t outstanding_ = 0;
  std::shared_ptr<BatchState> self_;
  const SteadyClock::time_point start_;
};

}  // namespace

void NodeImpl::AddBatchRoute(api::Router& router) {
  api::RouteOptions options;
  options.body_bytes_max = kBatchBodyBytesMax;
  options.handler_deadline = api::Millis(kWaitCommitRouteDeadlineMs);
  router.Post(
      "/v1/txs", [this](const api::Request& r, api::Responder res) { HandleSubmitBatch(r, res); },
      options);
}

void NodeImpl::HandleSubmitBatch(const api::Request& request, api::Responder responder) {
  std::vector<Bytes> txs;
  const std::string type = MediaType(request.Header(http::field::content_type));
  if (type == "application/x-protobuf" || type == "application/octet-stream") {
    if (Status s = SplitDelimited(request.body(), &txs); !s.ok()) {
      responder.SendProblem(api::ProblemCode::kBadRequest,
                            "length-delimited SignedTx sequence: " + s.message());
      return;
    }
  } else if (type == "application/json") {
    auto body = api::ParseJsonObjectBody(request);
    if (!body.ok()) {
      responder.SendProblem(body.problem());
      return;
    }
    const json::value* v = body.value().if_contains("txs");
    if (v == nullptr || !v->is_array()) {
      responder.SendProblem(api::ProblemCode::kBadRequest,
                            "field 'txs': expected an array of base64 strings");
      return;
    }
    if (v->as_array().size() > kBatchTxsMax) {
      responder.SendProblem(api::ProblemCode::kBadRequest,
                            "field 'txs': more than " + std::to_string(kBatchTxsMax) + " txs");
      return;
    }
    for (const json::value& e : v->as_array()) {
      // A bad entry is that tx's problem, not the batch's: it is answered `invalid` below.
      Bytes tx;
      if (e.is_string()) {
        auto decoded = Base64Decode(std::string_view(e.as_string()));
        if (decoded.ok()) tx = std::move(decoded).value();
      }
      txs.push_back(std::move(tx));
    }
  } else {
    responder.SendProblem(api::ProblemCode::kUnsupportedMediaType,
                          "send application/x-protobuf (length-delimited SignedTx bytes) or "
                          "application/json ({\"txs\": [\"<base64>\", ...]})");
    return;
  }
  const std::optional<bool> wait_opt = SubmissionWait(request, responder);
  if (!wait_opt) return;
  const bool wait = *wait_opt;

  const size_t n = txs.size();
  auto state = std::make_shared<BatchState>(responder, n, wait);
  // Commit waiters first (as POST /v1/tx does), so that a commit racing admission is not missed.
  std::vector<uint64_t> tokens(n, 0);
  size_t waiters = 0;
  for (size_t i = 0; i < n; ++i) {
    BatchState::TxResult& r = state->at(i);
    if (txs[i].empty()) continue;
    r.id = ledger::TxIdOf(txs[i]);
    if (!wait) continue;
    tokens[i] = AddWaiter(r.id, [state, i](WaitEnd end, const CommitNotice* notice) {
      state->WaitEnded(i, end, notice);
    });
    if (tokens[i] != 0) {
      r.waiting = true;
      ++waiters;
    }
  }
  // Every admission reports once; every registered waiter delivers once. The extra 1 is released
  // after the loop below, so the batch cannot be answered while jobs are still being queued.
  state->Arm(n + waiters + 1);

  for (size_t i = 0; i < n; ++i) {
    BatchState::TxResult& slot = state->at(i);
    if (txs[i].empty()) {
      slot.status = BatchTxStatus::kInvalid;
      slot.detail = "R1: empty or undecodable transaction";
      m_->Admission(AdmitCodeName(AdmitCode::kInvalid)).Inc();
      state->Done();
      continue;
    }
    const TxId id = slot.id;
    const uint64_t token = tokens[i];
    AdmissionJob job;
    job.tx = std::move(txs[i]);
    job.relayer = self_id_;
    job.done = [this, state, i, token](const AdmitResult& r) {
      m_->Admission(AdmitCodeName(r.code)).Inc();
      BatchTxStatus status = BatchTxStatus::kInvalid;
      switch (r.code) {
        case AdmitCode::kAdmitted:
          status = BatchTxStatus::kPending;
          break;
        case AdmitCode::kDuplicatePending:
        case AdmitCode::kDuplicateCommitted:
          status = BatchTxStatus::kDuplicate;
          break;
        case AdmitCode::kFull:
          status = BatchTxStatus::kMempoolFull;
          break;
        case AdmitCode::kInvalid:
          break;
      }
      {
        std::lock_guard lock(state->mu());
        state->at(i).status = status;
        if (r.code == AdmitCode::kInvalid) state->at(i).detail = r.detail;
      }
      // Not admitted: its waiter is cancelled, which reports into the batch (outside the batch
      // lock: the report takes it).
      if (status != BatchTxStatus::kPending && token != 0) CancelWaiter(r.tx_id, token);
      state->Done();
    };
    if (!admission_->Submit(std::move(job))) {
      m_->Admission("queue_full").Inc();
      {
        std::lock_guard lock(state->mu());
        slot.status = BatchTxStatus::kMempoolFull;
      }
      if (token != 0) CancelWaiter(id, token);
      state->Done();
    }
  }
  state->Done();
}

}  // namespace hc::node

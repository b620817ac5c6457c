// Helpers for the exchange API tests: a LedgerView over an in-memory Ledger (fake signatures), and
// a way to call a registered route directly and capture its answer, without a server.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/exchange.h"
#include "api/ledger_view.h"
#include "api/router.h"
#include "crypto/signer.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"
#include "ledger/mem_store.h"
#include "tests/ledger/tx_factory.h"

namespace hc::api::testing {

namespace lt = ::hc::ledger::testing;

// An in-memory ledger on TestGenesis() ("gov" commission, validator "v0"), behind LedgerView.
class FakeLedgerView final : public LedgerView {
 public:
  FakeLedgerView() : verifier_(crypto::MakeFakeVerifier()) {
    auto store = std::make_unique<ledger::MemKvStore>();
    store_ = store.get();
    auto l = ledger::Ledger::Open(std::move(store), lt::TestGenesis(), *verifier_);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    ledger_ = std::move(l).value();
  }

  void Read(const std::function<void(const ledger::Ledger&)>& fn) const override {
    std::shared_lock lock(mu_);
    if (ledger_) fn(*ledger_);
  }
  const ledger::Genesis& genesis() const override { return ledger_->genesis(); }
  ledger::KvStore& payload_store() override { return *store_; }

  class Sub final : public Subscription {
   public:
    Sub(FakeLedgerView* v, uint64_t id) : v_(v), id_(id) {}
    ~Sub() override {
      std::lock_guard lock(v_->subs_mu_);
      v_->subs_.erase(id_);
    }

   private:
    FakeLedgerView* v_;
    uint64_t id_;
  };
  std::unique_ptr<Subscription> SubscribeCommits(
      std::function<void(const CommittedBlockEvent&)> fn) override {
    std::lock_guard lock(subs_mu_);
    subs_[next_] = std::move(fn);
    return std::make_unique<Sub>(this, next_++);
  }
  size_t subscribers() const {
    std::lock_guard lock(subs_mu_);
    return subs_.size();
  }

  // Commits one block of `txs` (at the tip time + 1 s unless given) and publishes it.
  ledger::CommittedBlock Commit(std::vector<std::string> txs, int64_t timestamp_ms = 0) {
    auto block = lt::NextBlock(*ledger_, txs, timestamp_ms);
    Result<ledger::CommittedBlock> r = Status(StatusCode::kInternal, "not run");
    {
      std::unique_lock lock(mu_);
      r = ledger_->Commit(block, lt::Certify(block));
    }
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    healthchain::v1::BlockHeader header;
    EXPECT_TRUE(header.ParseFromString(block.header()));
    CommittedBlockEvent ev;
    ev.height = r->height;
    ev.block_hash = r->block_hash;
    ev.timestamp_ms = header.timestamp_ms();
    ev.first_entry = r->execution.first_entry;
    std::vector<Bytes> txs;
    for (const auto& tx : block.txs()) txs.push_back(ToBytes(tx));
    ev.txs = std::make_shared<const std::vector<Bytes>>(std::move(txs));
    ev.receipts = r->execution.receipt_bytes;
    ev.erased_records = ParseErasedRecords(*ev.txs, ev.receipts);
    {
      std::lock_guard lock(subs_mu_);
      for (auto& [id, fn] : subs_) fn(ev);
    }
    return std::move(r).value();
  }

  // Commits a block whose txs must all succeed.
  void Setup(std::vector<std::string> txs, int64_t timestamp_ms = 0) {
    auto c = Commit(std::move(txs), timestamp_ms);
    for (const auto& r : c.execution.receipts) {
      ASSERT_EQ(r.status(), healthchain::v1::TX_STATUS_OK) << r.reason();
    }
  }

  // hospitals h1, h2, insurer i1, policy bppc-1, patients alice (by h1) and bob; record r1
  // (alice, LABORATORY) anchored by h1.
  void StandardWorld(lt::TxFactory& f) {
    namespace pb = ::healthchain::v1;
    Setup({f.RegisterOrg("gov", "h1", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "h2", pb::ORG_ROLE_HOSPITAL),
           f.RegisterOrg("gov", "i1", pb::ORG_ROLE_INSURER), f.RegisterPolicy("gov", "bppc-1"),
           f.Enroll("h1", "alice"), f.Enroll("bob", "bob")},
          lt::kT0);
    Setup({f.Anchor("h1", "r1", "alice")}, lt::kT0 + 1000);
  }

  const crypto::Verifier& verifier() const { return *verifier_; }
  ledger::Ledger& ledger() { return *ledger_; }

 private:
  std::unique_ptr<crypto::Verifier> verifier_;
  ledger::MemKvStore* store_ = nullptr;
  std::unique_ptr<ledger::Ledger> ledger_;
  mutable std::shared_mutex mu_;
  mutable std::mutex subs_mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, std::function<void(const CommittedBlockEvent&)>> subs_;
};

// Captures the answer of one exchange.
class CaptureSink final : public internal::ExchangeSink {
 public:
  void Deliver(uint64_t, HttpResponse response) override {
    std::lock_guard lock(mu_);
    response_ = std::move(response);
    done_ = true;
  }
  bool done() const {
    std::lock_guard lock(mu_);
    return done_;
  }
  HttpResponse response() const {
    std::lock_guard lock(mu_);
    return response_;
  }

 private:
  mutable std::mutex mu_;
  bool done_ = false;
  HttpResponse response_;
};

// The request `target` for `method`, with extra header fields.
inline HttpRequest MakeHttpRequest(
    http::verb method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers = {}, std::string body = "") {
  HttpRequest m{method, target, 11};
  for (const auto& [k, v] : headers) m.set(k, v);
  m.body() = std::move(body);
  m.prepare_payload();
  return m;
}

// The three signature headers of `signer` for this request, at `now_ms`.
inline std::vector<std::pair<std::string, std::string>> SignedHeaders(const crypto::Signer& signer,
                                                                      http::verb method,
                                                                      std::string_view target,
                                                                      int64_t now_ms,
                                                                      std::string_view body = "") {
  SignedRequestHeaders h =
      SignRequest(signer, std::string(http::to_string(method)), target, now_ms, AsBytes(body));
  return {{std::string(kHeaderKey), h.key},
          {std::string(kHeaderTimestamp), h.timestamp},
          {std::string(kHeaderSignature), h.signature}};
}

// A decoded Request for `target`, as the server would build it for `pattern`.
inline Request MakeRouteRequest(HttpRequest message, std::string_view pattern = "/",
                                std::vector<Param> path_params = {}) {
  auto t = ParseTarget(std::string(message.target()));
  EXPECT_TRUE(t.ok());
  std::vector<Param> query = t.ok() ? t->query : std::vector<Param>{};
  return Request(std::move(message), pattern, std::move(path_params), std::move(query),
                 "127.0.0.1:1");
}

// Routes `message` through `router` and runs the handler synchronously; the captured answer.
inline HttpResponse Call(const Router& router, HttpRequest message) {
  const std::string target(message.target());
  auto t = ParseTarget(target);
  if (!t.ok()) return MakeProblemResponse(Problem(ProblemCode::kBadRequest, "target"));
  auto m = router.Find(message.method(), t->path);
  if (!m.ok() || m->kind != Router::MatchKind::kFound) {
    return MakeProblemResponse(Problem(ProblemCode::kUnknownRoute, target));
  }
  Request request(std::move(message), m->route->pattern, m->params, t->query, "127.0.0.1:1");
  auto sink = std::make_shared<CaptureSink>();
  {
    Responder responder(std::make_shared<internal::Exchange>(1, sink));
    m->route->handler(request, responder);
  }
  EXPECT_TRUE(sink->done());
  return sink->response();
}

inline boost::json::value BodyJson(const HttpResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body(), ec);
  EXPECT_FALSE(ec) << r.body();
  return v;
}

inline std::string ProblemCodeOf(const HttpResponse& r) {
  auto v = BodyJson(r);
  if (!v.is_object() || !v.as_object().contains("code")) return "";
  return std::string(v.as_object().at("code").as_string());
}

}  // namespace hc::api::testing

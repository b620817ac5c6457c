// WebSocket /v1/events (api/events_routes.cc) on a real HttpServer over 127.0.0.1, fed by a fake
// LedgerView whose commits the test triggers: refusals before the upgrade (401, 403, 400, 503),
// filtering and visibility, the per-subscriber queue bound and a clean Stop.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <thread>

#include "api/exchange_routes.h"
#include "api/server.h"
#include "common/encoding.h"
#include "tests/api/exchange_test_util.h"
#include "tests/api/test_client.h"

namespace hc::api::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
namespace pb = ::healthchain::v1;
using tcp = asio::ip::tcp;

std::string HexKey(std::string_view name) { return HexEncode(lt::KeyOf(name)); }

// A blocking WebSocket client with a receive timeout, so no test hangs.
struct WsClient {
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  websocket::response_type response;  // the handshake's answer
  beast::flat_buffer buf;

  // The next text message; nullopt (and `ec`) on close, error or timeout.
  std::optional<std::string> Next(beast::error_code* ec_out = nullptr) {
    beast::error_code ec;
    buf.clear();
    ws.read(buf, ec);
    if (ec_out != nullptr) *ec_out = ec;
    if (ec) return std::nullopt;
    return beast::buffers_to_string(buf.data());
  }
  json::object NextJson() {
    auto m = Next();
    EXPECT_TRUE(m.has_value());
    if (!m) return {};
    return json::parse(*m).as_object();
  }
};

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { view_->StandardWorld(f_); }

  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    work_.reset();
    for (auto& t : threads_) t.join();
    server_.reset();
  }

  void Start(size_t websockets_max = 8, size_t queue_max = 64) {
    ServerLimits l;
    l.idle_timeout = std::chrono::milliseconds(5000);
    l.request_read_timeout = std::chrono::milliseconds(2000);
    l.write_timeout = std::chrono::milliseconds(2000);
    l.linger_timeout = std::chrono::milliseconds(200);
    l.websockets_max = websockets_max;
    l.websocket_queue_max = queue_max;
    ExchangeContext ctx;
    ctx.view = view_;
    ctx.auth = std::make_shared<RequestAuthenticator>(view_->verifier(), [this] { return ++now_; });
    ctx.metrics = metrics_;
    Router router;
    RegisterEventRoutes(router, ctx);
    ServerOptions o;
    o.port = 0;
    o.limits = l;
    server_ = std::make_unique<HttpServer>(ioc_, std::move(o), std::move(router), metrics_);
    ASSERT_TRUE(server_->Start().ok());
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  // Opens /v1/events`query` signed as `as` ("" unsigned). Check `c->response` for the answer;
  // `ok` tells whether the upgrade happened.
  std::unique_ptr<WsClient> Open(std::string_view query, std::string_view as, bool* ok) {
    auto c = std::make_unique<WsClient>();
    c->ws.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    timeval tv{5, 0};
    ::setsockopt(c->ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string target = "/v1/events" + std::string(query);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!as.empty()) {
      auto signer = crypto::MakeFakeSigner(lt::KeyOf(as));
      std::lock_guard lock(sign_mu_);
      headers = SignedHeaders(*signer, http::verb::get, target, sign_now_ += 1);
    }
    c->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (const auto& [k, v] : headers) req.set(k, v);
    }));
    beast::error_code ec;
    c->ws.handshake(c->response, "127.0.0.1", target, ec);
    *ok = !ec;
    return c;
  }
  std::unique_ptr<WsClient> MustOpen(std::string_view query, std::string_view as) {
    bool ok = false;
    auto c = Open(query, as, &ok);
    EXPECT_TRUE(ok) << query << " as " << as << ": " << c->response.result_int() << " "
                    << c->response.body();
    return c;
  }
  // The refusal's status and problem code.
  std::pair<unsigned, std::string> Refused(std::string_view query, std::string_view as) {
    bool ok = true;
    auto c = Open(query, as, &ok);
    EXPECT_FALSE(ok);
    json::value v;
    boost::system::error_code ec;
    v = json::parse(c->response.body(), ec);
    std::string code = !ec && v.is_object() && v.as_object().contains("code")
                           ? std::string(v.at("code").as_string())
                           : std::string();
    return {c->response.result_int(), code};
  }

  // Waits until the view has `n` subscriptions (the subscription starts after the handshake).
  void WaitSubscribers(size_t n) {
    for (int i = 0; i < 500 && view_->subscribers() != n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(view_->subscribers(), n);
  }

  lt::TxFactory f_;
  std::shared_ptr<FakeLedgerView> view_ = std::make_shared<FakeLedgerView>();
  std::shared_ptr<MetricsRegistry> metrics_ = std::make_shared<MetricsRegistry>();
  std::atomic<int64_t> now_{lt::kT0 + 60'000};
  std::mutex sign_mu_;
  int64_t sign_now_ = lt::kT0 + 60'000;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(ioc_)};
  std::unique_ptr<HttpServer> server_;
  std::vector<std::thread> threads_;
};

TEST_F(EventsTest, RefusalsHappenBeforeTheUpgrade) {
  Start();
  EXPECT_EQ(Refused("", ""), std::make_pair(401u, std::string("unauthenticated")));
  EXPECT_EQ(Refused("", "mallory"), std::make_pair(401u, std::string("unauthenticated")));
  // A patient may not name another patient; an org may not name another org.
  EXPECT_EQ(Refused("?patient=" + HexKey("bob"), "alice"),
            std::make_pair(403u, std::string("forbidden")));
  EXPECT_EQ(Refused("?org=" + HexKey("h2"), "h1"), std::make_pair(403u, std::string("forbidden")));
  EXPECT_EQ(Refused("?type=no_such_payload", "gov"),
            std::make_pair(400u, std::string("bad_request")));
  EXPECT_EQ(Refused("?patient=zz", "gov"), std::make_pair(400u, std::string("bad_request")));
  // A plain GET (no upgrade) is refused too.
  auto raw = RawClient::Connect(server_->port());
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(raw->Send(MakeRequest("GET", "/v1/events")));
  auto res = raw->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(view_->subscribers(), 0u);
}

TEST_F(EventsTest, SubscriberLimitAnswers503AndKeepsServingOthers) {
  Start(/*websockets_max=*/2);
  auto a = MustOpen("", "gov");
  auto b = MustOpen("", "alice");
  EXPECT_EQ(Refused("", "h1"), std::make_pair(503u, std::string("too_many_subscribers")));
  WaitSubscribers(2);
  view_->Setup({f_.Anchor("h1", "r2", "alice")}, lt::kT0 + 5000);
  EXPECT_EQ(a->NextJson().at("type").as_string(), "anchor_record");
  EXPECT_EQ(b->NextJson().at("type").as_string(), "anchor_record");
  // A slot frees when a subscriber leaves.
  b->ws.close(websocket::close_code::normal);
  b.reset();
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    auto c = Open("", "h1", &ok);
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(ok);
}

TEST_F(EventsTest, SubscribersReceiveOnlyMatchingVisibleEventsInOrder) {
  Start();
  auto alice = MustOpen("", "alice");                         // her own events
  auto h2 = MustOpen("?type=access_record", "h2");            // its own accesses
  auto gov = MustOpen("?patient=" + HexKey("alice"), "gov");  // everything about alice
  auto bob = MustOpen("?patient=" + HexKey("bob"), "bob");    // nothing of alice's
  WaitSubscribers(4);
  lt::TxFactory::GrantSpec g;  // c1: alice → h2, TREAT, LABORATORY
  view_->Setup({f_.Grant("alice", g)}, lt::kT0 + 2000);
  view_->Commit({f_.Access("h2", "r1", pb::PURPOSE_TREAT, "c1"),
                 f_.Access("i1", "r1", pb::PURPOSE_HPAYMT), f_.Anchor("h1", "rb", "bob")},
                lt::kT0 + 3000);

  // alice: the grant, then both accesses to her record (the denied one too), not bob's anchor.
  json::object m = alice->NextJson();
  EXPECT_EQ(m.at("type").as_string(), "grant_consent");
  EXPECT_EQ(m.at("height").to_number<uint64_t>(), 3u);
  EXPECT_EQ(m.at("index").to_number<uint64_t>(), 0u);
  EXPECT_EQ(m.at("signer").as_string(), HexKey("alice"));
  EXPECT_EQ(m.at("status").as_string(), "OK");
  EXPECT_EQ(m.at("timestamp_ms").to_number<int64_t>(), lt::kT0 + 2000);
  EXPECT_EQ(m.at("tx_id").as_string().size(), 64u);
  for (const char* k : {"reason", "related_id", "flagged"}) EXPECT_TRUE(m.contains(k)) << k;
  m = alice->NextJson();
  EXPECT_EQ(m.at("type").as_string(), "access_record");
  EXPECT_EQ(m.at("height").to_number<uint64_t>(), 4u);
  EXPECT_EQ(m.at("index").to_number<uint64_t>(), 0u);
  EXPECT_EQ(m.at("signer").as_string(), HexKey("h2"));
  EXPECT_EQ(m.at("status").as_string(), "OK");
  EXPECT_EQ(m.at("related_id").as_string(), "c1");
  m = alice->NextJson();
  EXPECT_EQ(m.at("index").to_number<uint64_t>(), 1u);
  EXPECT_EQ(m.at("signer").as_string(), HexKey("i1"));
  EXPECT_EQ(m.at("status").as_string(), "DENIED");

  // h2, type=access_record: only its own access (not the grant naming it, not i1's access).
  m = h2->NextJson();
  EXPECT_EQ(m.at("type").as_string(), "access_record");
  EXPECT_EQ(m.at("signer").as_string(), HexKey("h2"));
  EXPECT_EQ(m.at("height").to_number<uint64_t>(), 4u);

  // gov, patient=alice: the same three as alice.
  for (uint64_t want_index : {0u, 0u, 1u}) {
    m = gov->NextJson();
    EXPECT_EQ(m.at("index").to_number<uint64_t>(), want_index);
  }
  // bob: only his anchor.
  m = bob->NextJson();
  EXPECT_EQ(m.at("type").as_string(), "anchor_record");
  EXPECT_EQ(m.at("index").to_number<uint64_t>(), 2u);

  // Nothing else arrived: a marker block that every one of them sees comes next.
  view_->Setup({f_.Anchor("h2", "r9", "alice"), f_.Anchor("h2", "rb9", "bob")}, lt::kT0 + 4000);
  EXPECT_EQ(alice->NextJson().at("height").to_number<uint64_t>(), 5u);
  EXPECT_EQ(gov->NextJson().at("height").to_number<uint64_t>(), 5u);
  EXPECT_EQ(bob->NextJson().at("height").to_number<uint64_t>(), 5u);
  // h2 sees no access in the marker block; a new access of its own comes next.
  view_->Commit({f_.Access("h2", "r1", pb::PURPOSE_TREAT, "c1")}, lt::kT0 + 5000);
  EXPECT_EQ(h2->NextJson().at("height").to_number<uint64_t>(), 6u);
}

TEST_F(EventsTest, SubscriberOverItsQueueIsClosedWhileOthersKeepReceiving) {
  Start(/*websockets_max=*/8, /*queue_max=*/4);
  auto slow = MustOpen("", "gov");                           // every tx
  auto fast = MustOpen("?patient=" + HexKey("bob"), "bob");  // one tx per block
  WaitSubscribers(2);
  std::vector<std::string> txs;
  for (int i = 0; i < 12; ++i) txs.push_back(f_.Anchor("h1", "ra" + std::to_string(i), "alice"));
  txs.push_back(f_.Anchor("h1", "rb0", "bob"));
  view_->Setup(txs, lt::kT0 + 5000);

  size_t got = 0;
  beast::error_code ec;
  while (slow->Next(&ec)) ++got;
  EXPECT_LT(got, 13u);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(slow->ws.reason().code, websocket::close_code::policy_error);
  EXPECT_EQ(std::string(slow->ws.reason().reason.c_str()), "subscriber too slow");

  EXPECT_EQ(fast->NextJson().at("index").to_number<uint64_t>(), 12u);
  view_->Setup({f_.Anchor("h1", "rb1", "bob")}, lt::kT0 + 6000);
  EXPECT_EQ(fast->NextJson().at("height").to_number<uint64_t>(), 4u);
  WaitSubscribers(1);
  EXPECT_NE(metrics_->RenderPrometheus().find("api_websockets_closed_slow_total 1"),
            std::string::npos);
}

TEST_F(EventsTest, StopClosesOpenSocketsCleanly) {
  Start();
  auto a = MustOpen("", "gov");
  auto b = MustOpen("?type=access_record", "h1");
  WaitSubscribers(2);
  server_->Stop();
  for (WsClient* c : {a.get(), b.get()}) {
    beast::error_code ec;
    EXPECT_FALSE(c->Next(&ec).has_value());
    EXPECT_EQ(ec, websocket::error::closed) << ec.message();
    EXPECT_EQ(c->ws.reason().code, websocket::close_code::going_away);
  }
  WaitSubscribers(0);
  for (int i = 0; i < 200 && server_->open_connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server_->open_connections(), 0u);
  // A commit after Stop reaches no one and nothing breaks.
  view_->Setup({f_.Anchor("h1", "r3", "alice")}, lt::kT0 + 7000);
}

}  // namespace
}  // namespace hc::api::testing

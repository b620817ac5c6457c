// HttpServer against real sockets on 127.0.0.1: routing, error shapes, every limit, keep-alive and
// pipelining, asynchronous answers, and the metrics exposition. Each test bounds its own time
// (small server limits, client timeouts of a few seconds).
#include "api/server.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "api/json.h"
#include "tests/api/prometheus_check.h"
#include "tests/api/server_test_util.h"
#include "tests/api/test_client.h"

namespace hc::api {
namespace {

using testing::BodyJson;
using testing::FastLimits;
using testing::MakeRequest;
using testing::Ms;
using testing::ProblemCodeOf;
using testing::RawClient;
using testing::RawResponse;
using SteadyClock = std::chrono::steady_clock;

// Hands Responders from handlers to the test thread.
class ResponderQueue {
 public:
  void Push(Responder r) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(r));
    cv_.notify_all();
  }
  std::optional<Responder> Pop(Ms timeout = Ms(5000)) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !q_.empty(); })) return std::nullopt;
    Responder r = std::move(q_.front());
    q_.pop_front();
    return r;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    q_.clear();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Responder> q_;
};

class ServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Responders must not outlive the io_context.
    responders_.Clear();
    if (server_ != nullptr) server_->Stop();
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    server_.reset();
  }

  // Registers the routes the tests use and starts the server on a free port, run by two threads.
  void Start(ServerLimits limits = FastLimits(), std::function<void(Router&)> extra = nullptr) {
    Router router;
    router.Get("/v1/tx/{id}", [](const Request& req, Responder r) {
      boost::json::object o;
      o["id"] = *req.PathParam("id");
      o["route"] = req.route_pattern();
      o["wait"] = req.Query("wait").value_or("<none>");
      boost::json::array xs;
      for (std::string_view x : req.QueryAll("x")) xs.emplace_back(x);
      o["x"] = std::move(xs);
      r.SendJson(http::status::ok, o);
    });
    router.Put("/v1/tx/{id}", [](const Request&, Responder r) {
      r.SendJson(http::status::ok, boost::json::object{});
    });
    router.Get("/v1/blocks/{height}", [](const Request& req, Responder r) {
      r.SendJson(http::status::ok, {{"height", *req.PathParam("height")}});
    });
    router.Post("/v1/echo", [](const Request& req, Responder r) {
      ProblemOr<boost::json::object> body = ParseJsonObjectBody(req);
      if (!body.ok()) {
        r.SendProblem(body.problem());
        return;
      }
      Result<std::string> name = GetString(body.value(), "name");
      if (!name.ok()) {
        r.SendStatus(name.status());
        return;
      }
      r.SendJson(http::status::ok, {{"name", *name}});
    });
    router.Post("/v1/payloads",
                [](const Request& req, Responder r) {
                  r.SendJson(http::status::created, {{"bytes", req.body().size()}});
                },
                {.body_bytes_max = 64 * 1024});
    router.Get("/v1/async", [this](const Request&, Responder r) { responders_.Push(r); });
    router.Get("/v1/slow", [this](const Request&, Responder r) { responders_.Push(r); },
               {.handler_deadline = Ms(200)});
    router.Get("/v1/forgetful", [](const Request&, Responder) {});
    if (extra) extra(router);
    AddMetricsRoute(router, metrics_);

    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.limits = limits;
    server_ = std::make_unique<HttpServer>(ioc_, std::move(options), std::move(router), metrics_);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_NE(server_->port(), 0);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = RawClient::Connect(server_->port());
    EXPECT_NE(c, nullptr);
    return c;
  }

  // One request on a fresh connection.
  std::optional<RawResponse> Fetch(const std::string& request) {
    auto c = Connect();
    if (c == nullptr || !c->Send(request)) return std::nullopt;
    return c->ReadResponse();
  }

  // Waits until the server's open connection count is `n` (connections close asynchronously).
  bool WaitOpenConnections(size_t n, Ms timeout = Ms(3000)) {
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      if (server_->open_connections() == n) return true;
      std::this_thread::sleep_for(Ms(10));
    }
    return false;
  }

  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::shared_ptr<MetricsRegistry> metrics_ = std::make_shared<MetricsRegistry>();
  ResponderQueue responders_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, RoutesWithParametersAndQuery) {
  Start();
  std::optional<RawResponse> res = Fetch(MakeRequest("GET", "/v1/tx/ab%20c?wait=commit&x=1+2&x=3"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->at(http::field::content_type), "application/json");
  EXPECT_EQ(res->at(http::field::server), "healthchain");
  const boost::json::object o = BodyJson(*res);
  EXPECT_EQ(o.at("id"), "ab c");
  EXPECT_EQ(o.at("route"), "/v1/tx/{id}");
  EXPECT_EQ(o.at("wait"), "commit");
  EXPECT_EQ(o.at("x"), (boost::json::array{"1 2", "3"}));

  res = Fetch(MakeRequest("GET", "/v1/blocks/17"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(BodyJson(*res).at("height"), "17");
}

TEST_F(ServerTest, RoutesListsEveryRegisteredRoute) {
  Start();
  const std::vector<RouteInfo> routes = server_->Routes();
  EXPECT_NE(std::find(routes.begin(), routes.end(), RouteInfo{http::verb::get, "/v1/tx/{id}"}),
            routes.end());
  EXPECT_NE(std::find(routes.begin(), routes.end(), RouteInfo{http::verb::get, "/metrics"}),
            routes.end());
  EXPECT_EQ(routes.size(), 9u);
}

TEST_F(ServerTest, UnknownRouteIs404ProblemAndKeepsTheConnection) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/nope?x=1")));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 404u);
  EXPECT_EQ(ProblemCodeOf(*res), "unknown_route");
  EXPECT_EQ(BodyJson(*res).at("type"), "urn:healthchain:problem:unknown_route");
  EXPECT_EQ(BodyJson(*res).at("detail"), "no route for /v1/nope");
  EXPECT_TRUE(res->keep_alive());
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1")));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, WrongMethodIs405WithAllowHeader) {
  Start();
  std::optional<RawResponse> res = Fetch(MakeRequest("DELETE", "/v1/tx/1"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 405u);
  EXPECT_EQ(ProblemCodeOf(*res), "method_not_allowed");
  EXPECT_EQ(res->at(http::field::allow), "GET, PUT");
}

TEST_F(ServerTest, MalformedJsonIs400WithPosition) {
  Start();
  std::optional<RawResponse> res = Fetch(
      MakeRequest("POST", "/v1/echo", "{\"name\": }", {{"Content-Type", "application/json"}}));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(ProblemCodeOf(*res), "malformed_json");
  EXPECT_NE(std::string(BodyJson(*res).at("detail").as_string()).find("line 1, column 10"),
            std::string::npos)
      << res->body();

  res = Fetch(
      MakeRequest("POST", "/v1/echo", "{\"name\": 5}", {{"Content-Type", "application/json"}}));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(ProblemCodeOf(*res), "bad_request");
  EXPECT_EQ(BodyJson(*res).at("detail"), "field 'name': expected a string, got a number");

  res = Fetch(MakeRequest("POST", "/v1/echo", "name=x",
                          {{"Content-Type", "application/x-www-form-urlencoded"}}));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 415u);
  EXPECT_EQ(ProblemCodeOf(*res), "unsupported_media_type");

  res = Fetch(MakeRequest("POST", "/v1/echo", "{\"name\": \"ok\"}",
                          {{"Content-Type", "application/json"}}));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, OversizeBodyIs413AndTheServerServesANewConnection) {
  Start();
  auto c = Connect();
  // Announce 4 KiB (over the 1 KiB limit) and start sending it.
  ASSERT_TRUE(c->Send(MakeRequest("POST", "/v1/echo", std::string(4096, 'a'),
                                  {{"Content-Type", "application/json"}})));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 413u);
  EXPECT_EQ(ProblemCodeOf(*res), "body_too_large");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(c->WaitClosed());

  res = Fetch(MakeRequest("GET", "/v1/tx/after"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, OversizeChunkedBodyIs413) {
  Start();
  auto c = Connect();
  std::string req =
      "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) req += "200\r\n" + std::string(512, 'a') + "\r\n";
  ASSERT_TRUE(c->Send(req));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 413u);
  EXPECT_EQ(ProblemCodeOf(*res), "body_too_large");
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ServerTest, RouteCanRaiseItsBodyLimit) {
  Start();
  std::optional<RawResponse> res =
      Fetch(MakeRequest("POST", "/v1/payloads", std::string(32768, 'p')));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 201u);
  EXPECT_EQ(BodyJson(*res).at("bytes"), 32768);
  res = Fetch(MakeRequest("POST", "/v1/payloads", std::string(65537, 'p')));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 413u);
}

TEST_F(ServerTest, Expect100ContinueGetsAnInterimResponse) {
  Start();
  auto c = Connect();
  const std::string body = R"({"name": "later"})";
  ASSERT_TRUE(
      c->Send("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Expect: 100-continue\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n"));
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(c->ReadBytes(interim.size()), interim);
  ASSERT_TRUE(c->Send(body));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, OversizeHeadersAre431) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1", {}, {{"X-Big", std::string(4096, 'h')}})));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 431u);
  EXPECT_EQ(ProblemCodeOf(*res), "headers_too_large");
  EXPECT_TRUE(c->WaitClosed());
  res = Fetch(MakeRequest("GET", "/v1/tx/after"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, SlowClientTimesOutWhileOthersAreServed) {
  Start();
  auto slow = Connect();
  const auto sent_at = SteadyClock::now();
  ASSERT_TRUE(slow->Send("GET /v1/tx/1 HTTP/1.1\r\nHost: x\r\n"));  // half a request, then stall
  // Others are served while the slow client sits there.
  for (int i = 0; i < 3; ++i) {
    std::optional<RawResponse> res = Fetch(MakeRequest("GET", "/v1/tx/" + std::to_string(i)));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
  }
  std::optional<RawResponse> res = slow->ReadResponse(Ms(3000));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 408u);
  EXPECT_EQ(ProblemCodeOf(*res), "request_timeout");
  EXPECT_TRUE(slow->WaitClosed(Ms(3000)));
  EXPECT_GE(SteadyClock::now() - sent_at, Ms(350));
}

TEST_F(ServerTest, SilentConnectionIsClosedAfterTheReadTimeout) {
  Start();
  auto c = Connect();
  const auto t0 = SteadyClock::now();
  EXPECT_TRUE(c->WaitClosed(Ms(3000)));
  EXPECT_TRUE(c->received().empty()) << "nothing was asked, so nothing is answered";
  EXPECT_GE(SteadyClock::now() - t0, Ms(350));
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedQuietly) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1")));
  ASSERT_TRUE(c->ReadResponse().has_value());
  const auto t0 = SteadyClock::now();
  EXPECT_TRUE(c->WaitClosed(Ms(4000)));
  EXPECT_TRUE(c->received().empty());
  EXPECT_GE(SteadyClock::now() - t0, Ms(1400));  // idle_timeout, not request_read_timeout
}

TEST_F(ServerTest, ConnectionLimitAnswers503AndRecovers) {
  ServerLimits limits = FastLimits();
  limits.connections_max = 2;
  limits.request_read_timeout = Ms(3000);
  limits.idle_timeout = Ms(5000);
  Start(limits);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(Connect());
    ASSERT_TRUE(held.back()->Send(MakeRequest("GET", "/v1/tx/1")));
    ASSERT_TRUE(held.back()->ReadResponse().has_value());  // accepted and being served
  }
  auto extra = Connect();
  ASSERT_TRUE(extra->Send(MakeRequest("GET", "/v1/tx/1")));
  std::optional<RawResponse> res = extra->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 503u);
  EXPECT_EQ(ProblemCodeOf(*res), "too_many_connections");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(extra->WaitClosed());

  // The held connections still work; once one leaves, a newcomer is served.
  ASSERT_TRUE(held[0]->Send(MakeRequest("GET", "/v1/tx/2")));
  res = held[0]->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  held[1]->Close();
  ASSERT_TRUE(WaitOpenConnections(1));
  res = Fetch(MakeRequest("GET", "/v1/tx/3"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(metrics_->GetCounter("api_connections_rejected_total", "").Value(), 1u);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  auto c = Connect();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/" + std::to_string(i))));
    std::optional<RawResponse> res = c->ReadResponse();
    ASSERT_TRUE(res.has_value()) << i;
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_TRUE(res->keep_alive());
    EXPECT_EQ(BodyJson(*res).at("id").as_string(), std::string_view(std::to_string(i)));
  }
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  auto c = Connect();
  // The first answer comes from another thread, late; the second must still come after it.
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/async") + MakeRequest("GET", "/v1/tx/second") +
                      MakeRequest("GET", "/nope")));
  std::optional<Responder> r = responders_.Pop();
  ASSERT_TRUE(r.has_value());
  std::thread([r = std::move(*r)]() mutable {
    std::this_thread::sleep_for(Ms(50));
    r.SendText(http::status::ok, "text/plain", "first");
  }).join();
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body(), "first");
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(BodyJson(*res).at("id"), "second");
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 404u);
}

TEST_F(ServerTest, RequestsPerConnectionLimitClosesAfterTheLastAnswer) {
  ServerLimits limits = FastLimits();
  limits.requests_per_connection_max = 2;
  Start(limits);
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1")));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_TRUE(res->keep_alive());
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/2")));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send("GET /v1/tx/1 HTTP/1.0\r\n\r\n"));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->version(), 10u);
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ServerTest, AsyncResponderAnswersFromAnotherThread) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/async")));
  std::optional<Responder> r = responders_.Pop();
  ASSERT_TRUE(r.has_value());
  std::thread answerer([r = std::move(*r)]() mutable {
    std::this_thread::sleep_for(Ms(100));
    EXPECT_TRUE(r.SendJson(http::status::accepted, {{"committed", true}}));
    EXPECT_FALSE(r.SendJson(http::status::ok, {}));  // only the first answer counts
    EXPECT_TRUE(r.answered());
  });
  std::optional<RawResponse> res = c->ReadResponse();
  answerer.join();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 202u);
  EXPECT_EQ(BodyJson(*res).at("committed"), true);
  // The connection serves the next request.
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/next")));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTest, ResponderAfterClientDisconnectDoesNotCrash) {
  Start();
  {
    auto c = Connect();
    ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/async")));
    std::optional<Responder> r = responders_.Pop();
    ASSERT_TRUE(r.has_value());
    c->Close();
    std::this_thread::sleep_for(Ms(50));
    std::thread([r = std::move(*r)]() mutable {
      r.SendText(http::status::ok, "text/plain", std::string(1 << 20, 'x'));
    }).join();
  }
  // And after the server is gone entirely: the answer is dropped without touching it.
  {
    auto c = Connect();
    ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/async")));
    std::optional<Responder> r = responders_.Pop();
    ASSERT_TRUE(r.has_value());
    std::optional<RawResponse> res = Fetch(MakeRequest("GET", "/v1/tx/still-serving"));
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
    server_->Stop();
    EXPECT_TRUE(c->WaitClosed());
    ASSERT_TRUE(WaitOpenConnections(0));
    std::thread([r = std::move(*r)]() mutable {
      r.SendText(http::status::ok, "text/plain", "too late");
    }).join();
  }
}

TEST_F(ServerTest, HandlerDeadlineAnswers504AndDropsTheLateAnswer) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/slow")));
  std::optional<Responder> r = responders_.Pop();
  ASSERT_TRUE(r.has_value());
  std::optional<RawResponse> res = c->ReadResponse(Ms(3000));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 504u);
  EXPECT_EQ(ProblemCodeOf(*res), "deadline_exceeded");
  EXPECT_TRUE(r->answered());
  EXPECT_FALSE(r->SendText(http::status::ok, "text/plain", "late"));
  // The connection stays usable, and the late answer never shows up on it.
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/next")));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(BodyJson(*res).at("id"), "next");
}

TEST_F(ServerTest, DroppedResponderAnswers500) {
  Start();
  std::optional<RawResponse> res = Fetch(MakeRequest("GET", "/v1/forgetful"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 500u);
  EXPECT_EQ(ProblemCodeOf(*res), "internal");
}

TEST_F(ServerTest, GarbageBytesAre400AndClose) {
  Start();
  auto c = Connect();
  const char kGarbage[] = "\x16\x03\x01\x02\x00garbage\x01\xff\r\n\r\n";
  ASSERT_TRUE(c->Send(std::string(kGarbage, sizeof(kGarbage) - 1)));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(ProblemCodeOf(*res), "bad_request");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(c->WaitClosed());

  // A request line that parses but whose target is not a path.
  res = Fetch("GET http://example.com/v1/tx/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  res = Fetch(MakeRequest("GET", "/v1/tx/%zz"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 400u);
  EXPECT_EQ(ProblemCodeOf(*res), "bad_request");
}

TEST_F(ServerTest, MetricsRendersValidPrometheusText) {
  Start();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Fetch(MakeRequest("GET", "/v1/tx/" + std::to_string(i))));
  ASSERT_TRUE(Fetch(MakeRequest("GET", "/nope")));
  ASSERT_TRUE(Fetch(MakeRequest("DELETE", "/v1/tx/1")));
  // The server notices the closed connections asynchronously; wait so the gauge reads 1 below.
  ASSERT_TRUE(WaitOpenConnections(0));
  std::optional<RawResponse> res = Fetch(MakeRequest("GET", "/metrics"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->at(http::field::content_type), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = res->body();
  std::string error;
  EXPECT_TRUE(testing::IsValidPrometheusText(text, &error)) << error << "\n" << text;
  EXPECT_NE(text.find("# TYPE api_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(
      text.find("api_requests_total{route=\"/v1/tx/{id}\",method=\"GET\",status=\"200\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("api_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("api_requests_total{route=\"unmatched\",method=\"DELETE\",status=\"405\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE api_request_duration_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("api_request_duration_seconds_bucket{route=\"/v1/tx/{id}\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("api_request_duration_seconds_count{route=\"/v1/tx/{id}\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE api_connections_open gauge\n"), std::string::npos);
  EXPECT_NE(text.find("api_connections_open 1\n"), std::string::npos) << text;
}

TEST_F(ServerTest, StopClosesConnectionsAndRefusesNewOnes) {
  Start();
  auto c = Connect();
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1")));
  ASSERT_TRUE(c->ReadResponse().has_value());
  const uint16_t port = server_->port();
  server_->Stop();
  EXPECT_TRUE(c->WaitClosed());
  // The listener closes asynchronously; soon nothing accepts on the port.
  const auto deadline = SteadyClock::now() + Ms(3000);
  bool refused = false;
  while (!refused && SteadyClock::now() < deadline) {
    auto late = RawClient::Connect(port);
    refused = late == nullptr || !late->Send(MakeRequest("GET", "/v1/tx/1")) ||
              !late->ReadResponse(Ms(500)).has_value();
    if (!refused) std::this_thread::sleep_for(Ms(20));
  }
  EXPECT_TRUE(refused);
}

TEST(ServerStartTest, RefusesBadHostBadLimitsAndBusyPort) {
  boost::asio::io_context ioc;
  auto metrics = std::make_shared<MetricsRegistry>();
  {
    ServerOptions o;
    o.host = "localhost";  // names are not resolved
    o.port = 0;
    HttpServer s(ioc, o, Router(), metrics);
    const Status st = s.Start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  }
  {
    ServerOptions o;
    o.port = 0;
    o.limits.request_read_timeout = Ms(5000);
    o.limits.idle_timeout = Ms(1000);
    HttpServer s(ioc, o, Router(), metrics);
    const Status st = s.Start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("request_read_timeout_ms"), std::string::npos);
  }
  {
    ServerOptions o;
    o.port = 0;
    HttpServer first(ioc, o, Router(), metrics);
    ASSERT_TRUE(first.Start().ok());
    o.port = first.port();
    HttpServer second(ioc, o, Router(), metrics);
    const Status st = second.Start();
    EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
  }
}

}  // namespace
}  // namespace hc::api

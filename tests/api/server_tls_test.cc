// HttpServer with ServerOptions::tls_context, against real sockets on 127.0.0.1: the same routes,
// limits and timeouts over HTTPS, WebSocket messages over wss, TLS 1.3 preferred and 1.2 accepted,
// a chain through an intermediate CA, and clients that do not speak TLS (plaintext HTTP, garbage,
// silence) dropped while the server keeps serving. The certificates are made at test time
// (tests/tls_test_pki.h). Each test bounds its own time.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/executor_work_guard.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "api/json.h"
#include "api/server.h"
#include "crypto/tls.h"
#include "tests/api/server_test_util.h"
#include "tests/api/test_client.h"
#include "tests/api/wss_client.h"
#include "tests/temp_dir_test.h"
#include "tests/tls_test_pki.h"

namespace hc::api {
namespace {

using testing::FastLimits;
using testing::MakeRequest;
using testing::Ms;
using testing::ProblemCodeOf;
using testing::RawClient;
using testing::RawResponse;
using testing::WssClient;
using SteadyClock = std::chrono::steady_clock;

class ServerTlsTest : public ::hc::test::TempDirTest {
 protected:
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    work_.reset();
    for (auto& t : threads_) t.join();
    server_.reset();
    channel_.reset();
    TempDirTest::TearDown();
  }

  // Starts an HTTPS server with the PKI written into the test's directory.
  void Start(bool with_intermediate = false, bool rsa_server = false,
             ServerLimits limits = FastLimits()) {
    pki_ = test::WriteTestPki(dir_, with_intermediate, rsa_server);
    ASSERT_TRUE(pki_.ok());
    auto ctx = crypto::MakeApiServerTlsContext(pki_.chain_path, pki_.key_path);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();

    Router router;
    router.Get("/v1/tx/{id}", [](const Request& req, Responder r) {
      r.SendJson(http::status::ok, {{"id", *req.PathParam("id")}});
    });
    router.Post("/v1/echo", [](const Request& req, Responder r) {
      ProblemOr<boost::json::object> body = ParseJsonObjectBody(req);
      if (!body.ok()) {
        r.SendProblem(body.problem());
        return;
      }
      r.SendJson(http::status::ok, body.value());
    });
    // On open: "hello"; the test sends more through channel_.
    AddWebSocketRoute(router, "/v1/stream", [this](const Request&) -> ProblemOr<WebSocketOpen> {
      return WebSocketOpen([this](const std::shared_ptr<WebSocketChannel>& channel) {
        channel->SendText("hello");
        std::lock_guard lock(mu_);
        channel_ = channel;
        return std::shared_ptr<void>();
      });
    });
    AddMetricsRoute(router, metrics_);

    ServerOptions options;
    options.port = 0;
    options.limits = limits;
    options.tls_context = std::shared_ptr<SSL_CTX>(std::move(ctx).value());
    server_ = std::make_unique<HttpServer>(ioc_, std::move(options), std::move(router), metrics_);
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  // A client context trusting `ca_file` (the test's root CA by default), limited to `max_version`
  // when it is not 0.
  crypto::SslCtxPtr ClientContext(std::string ca_file = "", int max_version = 0) {
    auto ctx = crypto::MakeApiClientTlsContext(ca_file.empty() ? pki_.ca_path : ca_file);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    if (!ctx.ok()) return nullptr;
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx->get(), max_version);
    return std::move(ctx).value();
  }

  std::unique_ptr<RawClient> ConnectTls(SSL_CTX* ctx = nullptr, std::string* error = nullptr) {
    crypto::SslCtxPtr own;
    if (ctx == nullptr) {
      own = ClientContext();
      ctx = own.get();
    }
    return RawClient::ConnectTls(server_->port(), ctx, error);
  }

  std::optional<RawResponse> FetchTls(const std::string& request) {
    auto c = ConnectTls();
    if (c == nullptr || !c->Send(request)) return std::nullopt;
    return c->ReadResponse();
  }

  test::TestPki pki_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      ioc_.get_executor()};
  std::vector<std::thread> threads_;
  std::shared_ptr<MetricsRegistry> metrics_ = std::make_shared<MetricsRegistry>();
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::shared_ptr<WebSocketChannel> channel_;
};

TEST_F(ServerTlsTest, ServesGetAndPostOverTls13WithKeepAlive) {
  Start();
  auto c = ConnectTls();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tls_version(), TLS1_3_VERSION);
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/abc")));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->at(http::field::server), "healthchain");
  EXPECT_NE(res->body().find("\"abc\""), std::string::npos) << res->body();
  // The same connection serves the next request.
  ASSERT_TRUE(c->Send(MakeRequest("POST", "/v1/echo", R"({"name":"tls"})",
                                  {{"Content-Type", "application/json"}})));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_EQ(res->body(), R"({"name":"tls"})");
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/nope")));
  res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 404u);
  EXPECT_EQ(ProblemCodeOf(*res), "unknown_route");
}

TEST_F(ServerTlsTest, AcceptsTls12ClientsAndRefusesOlderOnes) {
  Start();
  crypto::SslCtxPtr tls12 = ClientContext("", TLS1_2_VERSION);
  auto c = ConnectTls(tls12.get());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->tls_version(), TLS1_2_VERSION);
  ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/1")));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);

  crypto::SslCtxPtr tls11 = ClientContext("", TLS1_1_VERSION);
  SSL_CTX_set_min_proto_version(tls11.get(), TLS1_VERSION);
  SSL_CTX_set_security_level(tls11.get(), 0);  // let the client offer TLS 1.1 at all
  EXPECT_EQ(ConnectTls(tls11.get()), nullptr);
  // And the server still serves.
  res = FetchTls(MakeRequest("GET", "/v1/tx/2"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTlsTest, SendsTheChainThroughAnIntermediateCaWithAnRsaKey) {
  Start(/*with_intermediate=*/true, /*rsa_server=*/true);
  // The client trusts only the root: the server must send the intermediate. TLS 1.2 exercises the
  // ECDHE-RSA suites.
  for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    crypto::SslCtxPtr ctx = ClientContext("", version);
    std::string error;
    auto c = ConnectTls(ctx.get(), &error);
    ASSERT_NE(c, nullptr) << error;
    EXPECT_EQ(c->tls_version(), version);
    ASSERT_TRUE(c->Send(MakeRequest("GET", "/v1/tx/chain")));
    std::optional<RawResponse> res = c->ReadResponse();
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->result_int(), 200u);
  }
}

TEST_F(ServerTlsTest, AClientTrustingAnotherCaRefusesTheServer) {
  Start();
  const std::string other_dir = dir_ + "/other";
  std::filesystem::create_directories(other_dir);
  const test::TestPki other = test::WriteTestPki(other_dir);
  ASSERT_TRUE(other.ok());
  crypto::SslCtxPtr ctx = ClientContext(other.ca_path);
  std::string error;
  EXPECT_EQ(ConnectTls(ctx.get(), &error), nullptr);
  EXPECT_EQ(error, "unable to get local issuer certificate");
  std::optional<RawResponse> res = FetchTls(MakeRequest("GET", "/v1/tx/1"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
}

TEST_F(ServerTlsTest, LimitsAndTimeoutsApplyOverTls) {
  Start();
  // Body over the limit: 413, then the connection closes.
  auto c = ConnectTls();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Send(MakeRequest("POST", "/v1/echo", std::string(2000, 'x'),
                                  {{"Content-Type", "application/json"}})));
  std::optional<RawResponse> res = c->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 413u);
  EXPECT_EQ(ProblemCodeOf(*res), "body_too_large");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(c->WaitClosed());

  // Half a request: 408 after the read timeout, counted from the end of the handshake.
  c = ConnectTls();
  ASSERT_NE(c, nullptr);
  const auto start = SteadyClock::now();
  ASSERT_TRUE(c->Send("GET /v1/tx/1 HTTP/1.1\r\nHost: x\r\n"));
  res = c->ReadResponse(Ms(3000));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 408u);
  EXPECT_GE(SteadyClock::now() - start, Ms(300));
}

TEST_F(ServerTlsTest, PlaintextAndGarbageAreDroppedAndTheServerKeepsServing) {
  Start();
  // Plaintext HTTP to the TLS port: no HTTP answer, the connection is closed.
  auto plain = RawClient::Connect(server_->port());
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(plain->Send(MakeRequest("GET", "/v1/tx/1")));
  EXPECT_TRUE(plain->WaitClosed(Ms(3000)));
  EXPECT_EQ(plain->received().find("HTTP/"), std::string::npos) << plain->received();

  // Bytes that start like a TLS record and are not one.
  auto garbage = RawClient::Connect(server_->port());
  ASSERT_NE(garbage, nullptr);
  const char kGarbage[] = "\x16\x03\x01\x00\x05garbage\xff\xfe\r\n\r\n";
  garbage->Send(std::string(kGarbage, sizeof(kGarbage) - 1));
  EXPECT_TRUE(garbage->WaitClosed(Ms(3000)));

  // Silence: closed after the handshake timeout (300 ms here).
  auto silent = RawClient::Connect(server_->port());
  ASSERT_NE(silent, nullptr);
  const auto start = SteadyClock::now();
  EXPECT_TRUE(silent->WaitClosed(Ms(3000)));
  EXPECT_GE(SteadyClock::now() - start, Ms(250));

  std::optional<RawResponse> res = FetchTls(MakeRequest("GET", "/metrics"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_NE(res->body().find("api_tls_handshakes_failed_total 3\n"), std::string::npos)
      << res->body();
}

TEST_F(ServerTlsTest, WebSocketMessagesFlowOverWss) {
  Start();
  WssClient ws;
  ASSERT_TRUE(ws.Open(server_->port(), pki_.ca_path, "/v1/stream")) << ws.error();
  EXPECT_EQ(ws.Next(), "hello");
  std::shared_ptr<WebSocketChannel> channel;
  for (int i = 0; i < 200 && channel == nullptr; ++i) {
    {
      std::lock_guard lock(mu_);
      channel = channel_;
    }
    if (channel == nullptr) std::this_thread::sleep_for(Ms(10));
  }
  ASSERT_NE(channel, nullptr);
  ASSERT_TRUE(channel->Post([channel] { channel->SendText("second"); }));
  EXPECT_EQ(ws.Next(), "second");
  // Stop closes the WebSocket with "going away".
  server_->Stop();
  EXPECT_FALSE(ws.Next(Ms(3000)).has_value());
  EXPECT_TRUE(channel->closed());
}

// A renewed certificate (SetTlsContext, what the node does on SIGHUP) serves every connection
// accepted afterwards; a keep-alive connection accepted before keeps its certificate and keeps
// being served.
TEST_F(ServerTlsTest, SetTlsContextServesNewConnectionsWithTheNewCertificate) {
  Start();
  auto before = ConnectTls();
  ASSERT_NE(before, nullptr);
  ASSERT_TRUE(before->Send(MakeRequest("GET", "/v1/tx/before")));
  std::optional<RawResponse> res = before->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  auto CommonName = [](X509* cert) {
    char cn[256] = {0};
    if (cert != nullptr) {
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    }
    return std::string(cn);
  };
  ASSERT_EQ(CommonName(before->peer_certificate()), "healthchain test server");

  // The renewed certificate, from the same CA, with a new key.
  test::TestCert renewed;
  ASSERT_TRUE(test::WriteTestServerFiles(pki_, dir_ + "/renewed.chain.pem",
                                         dir_ + "/renewed.key.pem", 60L * 24 * 3600,
                                         "healthchain renewed test server", &renewed));
  auto ctx =
      crypto::MakeApiServerTlsContext(dir_ + "/renewed.chain.pem", dir_ + "/renewed.key.pem");
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  const Status set = server_->SetTlsContext(std::shared_ptr<SSL_CTX>(std::move(ctx).value()));
  ASSERT_TRUE(set.ok()) << set.ToString();

  // A new connection sees the renewed certificate, and verifies it against the same root.
  auto after = ConnectTls();
  ASSERT_NE(after, nullptr);
  ASSERT_NE(after->peer_certificate(), nullptr);
  EXPECT_EQ(X509_cmp(after->peer_certificate(), renewed.get()), 0);
  EXPECT_EQ(CommonName(after->peer_certificate()), "healthchain renewed test server");
  ASSERT_TRUE(after->Send(MakeRequest("GET", "/v1/tx/after")));
  res = after->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);

  // The connection opened before keeps its certificate and is still served.
  EXPECT_EQ(CommonName(before->peer_certificate()), "healthchain test server");
  ASSERT_TRUE(before->Send(MakeRequest("GET", "/v1/tx/still")));
  res = before->ReadResponse();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);
  EXPECT_NE(res->body().find("\"still\""), std::string::npos) << res->body();
}

TEST_F(ServerTlsTest, SetTlsContextRefusesNullAndPlainServers) {
  Start();
  const Status null_ctx = server_->SetTlsContext(nullptr);
  EXPECT_EQ(null_ctx.code(), StatusCode::kInvalidArgument) << null_ctx.ToString();
  // Still TLS, with the first certificate.
  auto c = ConnectTls();
  ASSERT_NE(c, nullptr);
  std::optional<RawResponse> res = FetchTls(MakeRequest("GET", "/v1/tx/1"));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 200u);

  HttpServer plain(ioc_, ServerOptions{}, Router{}, std::make_shared<MetricsRegistry>());
  auto ctx = crypto::MakeApiServerTlsContext(pki_.chain_path, pki_.key_path);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  const Status on_plain = plain.SetTlsContext(std::shared_ptr<SSL_CTX>(std::move(ctx).value()));
  EXPECT_EQ(on_plain.code(), StatusCode::kFailedPrecondition) << on_plain.ToString();
}

}  // namespace
}  // namespace hc::api

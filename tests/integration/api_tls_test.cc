// The client API over TLS on a real `healthchain` process ([api.tls] in node.toml): GET and POST
// over https, the event stream over wss, hcctl with the right CA file, a wrong one and none,
// plaintext to the TLS port refused while the node keeps serving, bad TLS files refusing the
// start with a message naming the file, and a renewed certificate taken on SIGHUP (a bad one
// refused while the node keeps serving the previous one). The certificates (a root CA, an
// intermediate and the node's) are made at test time in the node's directory
// (tests/tls_test_pki.h).
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/auth.h"
#include "common/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/signer.h"
#include "crypto/tls.h"
#include "network_fixture.h"
#include "tests/api/wss_client.h"
#include "tests/cli/run_process.h"
#include "tests/tls_test_pki.h"

namespace hc::integration {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class ApiTlsTest : public NetworkTest {
 protected:
  // One validator whose API speaks only TLS, with the test PKI in its directory (relative paths
  // in node.toml resolve against it).
  void MakeTlsNode() {
    MakeNetwork(1, 0);
    pki_ = test::WriteTestPki(net_.nodes[0].dir, /*with_intermediate=*/true);
    ASSERT_TRUE(pki_.ok());
    net_.nodes[0].config.api_tls = node::ApiTlsConfig{"api.chain.pem", "api.key.pem"};
    net_.SaveConfig(0);
  }

  // One request over https, the server's certificate checked against the test root CA.
  HttpResult Https(std::string_view method, std::string_view target, std::string_view body = {},
                   std::map<std::string, std::string> headers = {}, Ms timeout = Ms(5000)) {
    auto ctx = crypto::MakeApiClientTlsContext(pki_.ca_path);
    if (!ctx.ok()) return HttpResult{};
    return RoundTrip(api::testing::RawClient::ConnectTls(Api(0), ctx->get()).get(), method, target,
                     body, headers, timeout);
  }

  // A connection over https whose server certificate was verified against the test root CA;
  // nullptr when the handshake failed.
  std::unique_ptr<api::testing::RawClient> ConnectHttps() {
    auto ctx = crypto::MakeApiClientTlsContext(pki_.ca_path);
    if (!ctx.ok()) return nullptr;
    return api::testing::RawClient::ConnectTls(Api(0), ctx->get());
  }

  // One series of the node's /metrics (over https); -1 when absent or unreachable.
  double Metric(const std::string& series) {
    HttpResult r = Https("GET", "/metrics");
    return r.status == 200 ? MetricValue(r.body, series) : -1;
  }

  bool WaitHttpsUp(Ms timeout) {
    return WaitUntil([&] { return Https("GET", "/v1/status", {}, {}, Ms(1000)).status == 200; },
                     timeout);
  }

  std::string Url() const { return "https://127.0.0.1:" + std::to_string(Api(0)); }

  test::ProcessResult Hcctl(std::vector<std::string> args) {
    args.insert(args.begin(), HC_HCCTL_PATH);
    return test::RunProcess(args);
  }

  test::TestPki pki_;
};

TEST_F(ApiTlsTest, NodeServesHttpsAndWssAndRefusesPlaintext) {
  MakeTlsNode();
  StartNode(0);
  ASSERT_TRUE(WaitHttpsUp(Ms(15'000)));
  HttpResult status = Https("GET", "/v1/status");
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_TRUE(status.json.is_object() && status.json.as_object().contains("height"));

  // Plaintext HTTP to the TLS port gets no answer; the node keeps serving.
  EXPECT_EQ(Http(Api(0), "GET", "/v1/status", {}, {}, Ms(3000)).status, 0);
  ASSERT_EQ(Https("GET", "/v1/status").status, 200);

  // The commission subscribes to every event over wss (a signed upgrade request).
  auto commission = crypto::LoadIdentity(net_.commission_key_path);
  ASSERT_TRUE(commission.ok());
  auto signer = crypto::MakeEd25519Signer(std::move(commission->signing.secret_key));
  const std::string target = "/v1/events";
  const api::SignedRequestHeaders h =
      api::SignRequest(*signer, "GET", target, WallMs(), AsBytes(""));
  api::testing::WssClient ws;
  ASSERT_TRUE(ws.Open(Api(0), pki_.ca_path, target,
                      {{std::string(api::kHeaderKey), h.key},
                       {std::string(api::kHeaderTimestamp), h.timestamp},
                       {std::string(api::kHeaderSignature), h.signature}}))
      << ws.error() << " " << ws.response().result_int() << " " << ws.response().body();
  // The subscription starts right after the handshake; give the node a moment to register it.
  std::this_thread::sleep_for(Ms(200));

  // A transaction POSTed over https commits, and its event arrives over wss.
  TxMaker maker(net_);
  const std::string tx = maker.Next();
  HttpResult posted = Https("POST", "/v1/tx?wait=commit", tx,
                            {{"Content-Type", "application/x-protobuf"}}, Ms(20'000));
  ASSERT_EQ(posted.status, 200) << posted.body;
  EXPECT_EQ(posted.json.at("receipt").at("status").as_string(), "OK") << posted.body;
  std::optional<std::string> event = ws.Next(Ms(10'000));
  ASSERT_TRUE(event.has_value()) << ws.error();
  const boost::json::object e = boost::json::parse(*event).as_object();
  EXPECT_EQ(e.at("type").as_string(), "register_org");
  EXPECT_EQ(e.at("tx_id").as_string(), TxMaker::IdOf(tx));
  ws.Close();
}

TEST_F(ApiTlsTest, HcctlVerifiesTheNodeAgainstItsCaFile) {
  MakeTlsNode();
  StartNode(0);
  ASSERT_TRUE(WaitHttpsUp(Ms(15'000)));

  // The right CA: status, by IP address and by name (the certificate names both).
  test::ProcessResult r = Hcctl({"status", "--node", Url(), "--cacert", pki_.ca_path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("height:"), std::string::npos) << r.out;
  r = Hcctl({"status", "--node", "https://localhost:" + std::to_string(Api(0)), "--cacert",
             pki_.ca_path, "--field", "chain_id"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, net_.genesis.chain_id + "\n");

  // A signed transaction over https (POST), waiting for its commit.
  const crypto::Identity org = crypto::GenerateIdentity();
  const std::string org_key = net_.dir + "/hospital.key.json";
  ASSERT_TRUE(crypto::SaveIdentity(org, org_key).ok());
  r = Hcctl({"tx", "register-org", "--key", net_.commission_key_path, "--node", Url(), "--cacert",
             pki_.ca_path, "--org-key", org_key, "--role", "hospital", "--name", "St Mary",
             "--wait", "--timeout-ms", "20000"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("status:   OK"), std::string::npos) << r.out;

  // Another CA: refused, saying why and against what.
  const std::string other_dir = net_.dir + "/other-ca";
  std::filesystem::create_directories(other_dir);
  const test::TestPki other = test::WriteTestPki(other_dir);
  ASSERT_TRUE(other.ok());
  r = Hcctl({"status", "--node", Url(), "--cacert", other.ca_path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the node's TLS certificate is not trusted: unable to get local issuer "
                       "certificate (checked against --cacert " +
                       other.ca_path + ")"),
            std::string::npos)
      << r.err;

  // No CA file: the system's store does not know the test CA, and the message says what to do.
  r = Hcctl({"status", "--node", Url()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not trusted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--cacert FILE"), std::string::npos) << r.err;

  // A CA file that does not exist, and --cacert with an http:// URL.
  r = Hcctl({"status", "--node", Url(), "--cacert", net_.dir + "/absent.pem"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(net_.dir + "/absent.pem"), std::string::npos) << r.err;
  r = Hcctl(
      {"status", "--node", "http://127.0.0.1:" + std::to_string(Api(0)), "--cacert", pki_.ca_path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is for https:// node URLs"), std::string::npos) << r.err;

  // Plain http to the TLS port fails, and the node still answers over https.
  r = Hcctl(
      {"status", "--node", "http://127.0.0.1:" + std::to_string(Api(0)), "--timeout-ms", "3000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Https("GET", "/v1/status").status, 200);
}

TEST_F(ApiTlsTest, BadTlsFilesRefuseTheStartNamingTheFile) {
  MakeTlsNode();
  node::NodeConfig& c = net_.nodes[0].config;
  const std::string dir = net_.nodes[0].dir;
  const test::TestPkey other_key = test::MakeTestKey();
  ASSERT_TRUE(test::WriteTestFile(dir + "/other.key.pem", test::KeyPem(other_key.get()), 0600));
  ASSERT_TRUE(test::WriteTestFile(dir + "/open.key.pem", test::KeyPem(other_key.get()), 0644));
  struct Case {
    std::string chain, key, expected;
  };
  const Case cases[] = {
      {"absent.chain.pem", "api.key.pem", dir + "/absent.chain.pem: does not exist"},
      {"api.chain.pem", "other.key.pem", "is not the key in " + dir + "/other.key.pem"},
      {"api.chain.pem", "open.key.pem", "chmod 600 " + dir + "/open.key.pem"},
      {"api.key.pem", "api.key.pem", dir + "/api.key.pem: no PEM certificate"},
  };
  int n = 0;
  for (const Case& bad : cases) {
    c.api_tls = node::ApiTlsConfig{bad.chain, bad.key};
    net_.SaveConfig(0);
    NodeProcess p;
    const std::string log = dir + "/refused-" + std::to_string(n++) + ".log";
    ASSERT_TRUE(p.Start(HC_HEALTHCHAIN_PATH, net_.nodes[0].config_path, log));
    EXPECT_EQ(p.Wait(Ms(15'000)).value_or(-1), 2) << bad.expected;
    const std::string text = p.Log();
    EXPECT_NE(text.find("refusing to start"), std::string::npos) << text;
    EXPECT_NE(text.find("[api.tls]"), std::string::npos) << text;
    EXPECT_NE(text.find(bad.expected), std::string::npos) << text;
  }
}

// An operator renews the certificate: replaces the chain and key files (same CA) and sends SIGHUP.
// New connections get the renewed certificate and the expiry metric follows it; then a broken key
// file is refused on the next SIGHUP, naming the file, and the node keeps serving the renewed
// certificate over https.
TEST_F(ApiTlsTest, SighupReloadsTheCertificateAndKeepsItWhenTheNewFilesAreBad) {
  MakeTlsNode();
  StartNode(0);
  ASSERT_TRUE(WaitHttpsUp(Ms(15'000)));
  const std::string kExpiry = "hc_node_api_tls_cert_expiry_timestamp_seconds";
  const std::string kReloadsOk = "hc_node_api_tls_reloads_total{result=\"ok\"}";
  const std::string kReloadsFailed = "hc_node_api_tls_reloads_total{result=\"failed\"}";

  // Certificate A, as the node loaded it at start (30 days, tests/tls_test_pki.h).
  auto cert_a = crypto::ReadApiTlsCertificate(pki_.chain_path);
  ASSERT_TRUE(cert_a.ok()) << cert_a.status().ToString();
  EXPECT_EQ(Metric(kExpiry), static_cast<double>(cert_a->not_after_s));
  EXPECT_EQ(Metric(kReloadsOk), 0);
  EXPECT_EQ(Metric(kReloadsFailed), 0);

  // Certificate B: same CA, a new key, 60 days, written over A's files.
  test::TestCert cert_b;
  ASSERT_TRUE(test::WriteTestServerFiles(pki_, pki_.chain_path, pki_.key_path, 60L * 24 * 3600,
                                         "healthchain renewed test server", &cert_b));
  auto info_b = crypto::ReadApiTlsCertificate(pki_.chain_path);
  ASSERT_TRUE(info_b.ok()) << info_b.status().ToString();
  ASSERT_NE(info_b->not_after_s, cert_a->not_after_s);
  // A connection opened before the reload, kept alive across it.
  auto before = ConnectHttps();
  ASSERT_NE(before, nullptr);

  Kill(0, SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return Metric(kReloadsOk) == 1; }, Ms(10'000)));
  EXPECT_EQ(Metric(kExpiry), static_cast<double>(info_b->not_after_s));
  EXPECT_EQ(Metric(kReloadsFailed), 0);
  auto after = ConnectHttps();
  ASSERT_NE(after, nullptr);
  ASSERT_NE(after->peer_certificate(), nullptr);
  EXPECT_EQ(X509_cmp(after->peer_certificate(), cert_b.get()), 0);
  HttpResult status = RoundTrip(after.get(), "GET", "/v1/status", {}, {}, Ms(5000));
  EXPECT_EQ(status.status, 200) << status.body;
  // The older connection still has A's certificate and is still served.
  EXPECT_NE(X509_cmp(before->peer_certificate(), cert_b.get()), 0);
  status = RoundTrip(before.get(), "GET", "/v1/status", {}, {}, Ms(5000));
  EXPECT_EQ(status.status, 200) << status.body;
  std::string log = procs_[0]->Log();
  EXPECT_NE(log.find("api tls: reloaded certificate CN=healthchain renewed test server"),
            std::string::npos)
      << log;

  // A broken key file: refused, the log names it, and B is still served.
  ASSERT_TRUE(test::WriteTestFile(pki_.key_path, "not a key\n", 0600));
  Kill(0, SIGHUP);
  ASSERT_TRUE(WaitUntil([&] { return Metric(kReloadsFailed) == 1; }, Ms(10'000)));
  EXPECT_EQ(Metric(kReloadsOk), 1);
  EXPECT_EQ(Metric(kExpiry), static_cast<double>(info_b->not_after_s));
  log = procs_[0]->Log();
  EXPECT_NE(log.find("api tls: reload failed; still serving the previous certificate"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("API TLS key file " + pki_.key_path + ": not a PEM private key"),
            std::string::npos)
      << log;
  auto still = ConnectHttps();
  ASSERT_NE(still, nullptr);
  EXPECT_EQ(X509_cmp(still->peer_certificate(), cert_b.get()), 0);
  status = RoundTrip(still.get(), "GET", "/v1/status", {}, {}, Ms(5000));
  EXPECT_EQ(status.status, 200) << status.body;
  EXPECT_TRUE(procs_[0]->running());
}

// The node warns about a certificate that expires within 14 days and reports an expired one as an
// error, and serves both all the same (the operator decides; clients refuse the expired one).
TEST_F(ApiTlsTest, ACertificateNearItsExpiryIsAWarningAndAnExpiredOneAnError) {
  MakeTlsNode();
  ASSERT_TRUE(test::WriteTestServerFiles(pki_, pki_.chain_path, pki_.key_path, 5L * 24 * 3600,
                                         "healthchain expiring test server"));
  auto expiring = crypto::ReadApiTlsCertificate(pki_.chain_path);
  ASSERT_TRUE(expiring.ok()) << expiring.status().ToString();
  StartNode(0);
  ASSERT_TRUE(WaitHttpsUp(Ms(15'000)));
  EXPECT_EQ(Metric("hc_node_api_tls_cert_expiry_timestamp_seconds"),
            static_cast<double>(expiring->not_after_s));
  auto LineWith = [&](const std::string& text) {
    const std::string log = procs_[0]->Log();
    const size_t at = log.find(text);
    if (at == std::string::npos) return std::string();
    const size_t begin = log.rfind('\n', at);
    return log.substr(begin == std::string::npos ? 0 : begin + 1,
                      log.find('\n', at) - (begin == std::string::npos ? 0 : begin + 1));
  };
  std::string line = LineWith("api tls: loaded certificate CN=healthchain expiring test server");
  EXPECT_NE(line.find(" warning ["), std::string::npos) << line;
  EXPECT_NE(line.find("renew it"), std::string::npos) << line;

  ASSERT_TRUE(test::WriteTestServerFiles(pki_, pki_.chain_path, pki_.key_path, -60,
                                         "healthchain expired test server"));
  Kill(0, SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] { return !LineWith("reloaded certificate CN=healthchain expired test server").empty(); },
      Ms(10'000)));
  line = LineWith("reloaded certificate CN=healthchain expired test server");
  EXPECT_NE(line.find(" error ["), std::string::npos) << line;
  EXPECT_NE(line.find("EXPIRED"), std::string::npos) << line;
  auto ctx = crypto::MakeApiClientTlsContext(pki_.ca_path);
  ASSERT_TRUE(ctx.ok());
  std::string error;
  EXPECT_EQ(api::testing::RawClient::ConnectTls(Api(0), ctx->get(), &error), nullptr);
  EXPECT_EQ(error, "certificate has expired");
  EXPECT_TRUE(procs_[0]->running());
}

TEST_F(ApiTlsTest, SighupOnAPlainHttpNodeHasNothingToReload) {
  MakeNetwork(1, 0);
  StartNode(0);
  ASSERT_TRUE(WaitUntil([&] { return StatusOf(0).has_value(); }, Ms(15'000)));
  Kill(0, SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return procs_[0]->Log().find("the API has no [api.tls]: nothing to reload") !=
               std::string::npos;
      },
      Ms(10'000)));
  EXPECT_TRUE(StatusOf(0).has_value());
  HttpResult metrics = Http(Api(0), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body.find("hc_node_api_tls_"), std::string::npos) << metrics.body;
}

}  // namespace
}  // namespace hc::integration

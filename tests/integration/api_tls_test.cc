// The client API over TLS on a real `healthchain` process ([api.tls] in node.toml): GET and POST
// over https, the event stream over wss, hcctl with the right CA file, a wrong one and none,
// plaintext to the TLS port refused while the node keeps serving, and bad TLS files refusing the
// start with a message naming the file. The certificates (a root CA, an intermediate and the
// node's) are made at test time in the node's directory (tests/tls_test_pki.h).
#include <gtest/gtest.h>
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

}  // namespace
}  // namespace hc::integration

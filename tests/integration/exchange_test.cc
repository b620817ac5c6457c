// The exchange API end to end on a real 4-validator network (issue 6): a patient's audit trail
// shows an access once it commits; a stranger is refused (403), an unsigned request too (401).
// And the route-coverage check: every route the node's router registers is in openapi.yaml.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <set>

#include "api/auth.h"
#include "common/encoding.h"
#include "exchange_fixture.h"
#include "ledger/tx.h"
#include "node/node_impl.h"

namespace hc::integration {
namespace {

namespace pb = ::healthchain::v1;
using Identity = TestIdentity;

class ExchangeTest : public ExchangeNetworkTest {
 protected:
  HttpResult SignedGet(size_t node, const std::string& target, const Identity* who) {
    std::map<std::string, std::string> headers;
    if (who != nullptr) headers = SignedHeaders(*who->signer, "GET", target, "");
    return RoundTrip(api::testing::RawClient::Connect(Api(node)).get(), "GET", target, {}, headers,
                     Ms(5000));
  }
};

TEST_F(ExchangeTest, AuditTrailShowsAnAccessAfterItCommitsAndRefusesStrangers) {
  MakeNetwork(4, 0);
  StartAll();
  ASSERT_TRUE(WaitAllUp(Ms(15'000)));
  Identity gov(net_.commission_key_path), h1, h2, alice, bob;

  auto org = [&](const Identity& who, const std::string& name) {
    pb::TxBody b = Body(gov);
    auto* p = b.mutable_register_org();
    p->set_org_key(who.Key());
    p->set_encryption_key(std::string(32, 'x'));
    p->set_role(pb::ORG_ROLE_HOSPITAL);
    p->set_name(name);
    return b;
  };
  ASSERT_EQ(Commit(org(h1, "Hospital One"), gov), "OK");
  ASSERT_EQ(Commit(org(h2, "Hospital Two"), gov), "OK");
  {
    pb::TxBody b = Body(gov);
    b.mutable_register_policy()->set_policy_id("bppc-1");
    b.mutable_register_policy()->set_uri("https://policies.example/bppc-1");
    b.mutable_register_policy()->set_document_sha256(std::string(32, 'd'));
    ASSERT_EQ(Commit(b, gov), "OK");
  }
  for (const Identity* p : {&alice, &bob}) {
    pb::TxBody b = Body(p == &alice ? h1 : bob);
    b.mutable_enroll_patient()->set_patient_key(p->Key());
    b.mutable_enroll_patient()->set_encryption_key(std::string(32, 'y'));
    ASSERT_EQ(Commit(b, p == &alice ? h1 : bob), "OK");
  }
  ASSERT_EQ(CommitAnchor(h1, "r1", alice.Key()), "OK");
  {
    pb::TxBody b = Body(alice);
    auto* g = b.mutable_grant_consent();
    g->set_consent_id("c1");
    g->set_patient_key(alice.Key());
    g->set_grantee_key(h2.Key());
    g->add_purposes(pb::PURPOSE_TREAT);
    g->mutable_scope()->add_categories(pb::RECORD_CATEGORY_LABORATORY);
    g->set_valid_from_ms(NowMs() - 60'000);
    g->set_valid_until_ms(NowMs() + 3'600'000);
    g->set_policy_id("bppc-1");
    ASSERT_EQ(Commit(b, alice), "OK");
  }
  const std::string audit = "/v1/patients/" + alice.Hex() + "/audit";
  HttpResult before = SignedGet(1, audit, &alice);
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.json.at("events").as_array().size(), 0u);

  // Alice subscribes to her access events on node 1 (WebSocket /v1/events) before the access.
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  boost::asio::io_context ws_ioc;
  websocket::stream<boost::asio::ip::tcp::socket> ws(ws_ioc);
  ws.next_layer().connect(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), Api(1)));
  timeval tv{10, 0};
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  {
    const std::string target = "/v1/events?type=access_record";
    auto h = api::SignRequest(*alice.signer, "GET", target, NowMs(), AsBytes(""));
    ws.set_option(websocket::stream_base::decorator([h](websocket::request_type& req) {
      req.set(api::kHeaderKey, h.key);
      req.set(api::kHeaderTimestamp, h.timestamp);
      req.set(api::kHeaderSignature, h.signature);
    }));
    beast::error_code ec;
    ws.handshake("127.0.0.1", target, ec);
    ASSERT_FALSE(ec) << ec.message();
  }
  // The subscription starts right after the handshake; give the node a moment to register it.
  std::this_thread::sleep_for(Ms(200));

  {
    pb::TxBody b = Body(h2);
    b.mutable_access_record()->set_record_id("r1");
    b.mutable_access_record()->set_purpose(pb::PURPOSE_TREAT);
    b.mutable_access_record()->set_consent_id("c1");
    ASSERT_EQ(Commit(b, h2, 2), "OK");
  }
  {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws.read(buf, ec);
    ASSERT_FALSE(ec) << ec.message();
    const auto m = boost::json::parse(beast::buffers_to_string(buf.data())).as_object();
    EXPECT_EQ(m.at("type").as_string(), "access_record");
    EXPECT_EQ(m.at("signer").as_string(), h2.Hex());
    EXPECT_EQ(m.at("status").as_string(), "OK");
    EXPECT_EQ(m.at("related_id").as_string(), "c1");
    ws.close(websocket::close_code::normal, ec);
  }
  // Every node answers once it has executed the block.
  for (size_t node = 0; node < 4; ++node) {
    HttpResult after;
    ASSERT_TRUE(WaitUntil(
        [&] {
          after = SignedGet(node, audit, &alice);
          return after.status == 200 && after.json.at("events").as_array().size() == 1;
        },
        Ms(10'000)))
        << "node " << node << ": " << after.status << " " << after.body;
    const auto& e = after.json.at("events").as_array()[0].as_object();
    EXPECT_EQ(e.at("kind").as_string(), "ACCESS");
    EXPECT_EQ(e.at("recipient").as_string(), h2.Hex());
    EXPECT_EQ(e.at("recipient_name").as_string(), "Hospital Two");
    EXPECT_EQ(e.at("record_description").as_string(), "Lipid panel");
    EXPECT_EQ(e.at("purpose").as_string(), "TREAT");
    EXPECT_EQ(e.at("outcome").as_string(), "GRANTED");
  }
  // The recipient sees its own event; another patient is refused; unsigned is 401.
  HttpResult org_view = SignedGet(0, audit, &h2);
  ASSERT_EQ(org_view.status, 200) << org_view.body;
  EXPECT_EQ(org_view.json.at("events").as_array().size(), 1u);
  HttpResult stranger = SignedGet(0, audit, &bob);
  EXPECT_EQ(stranger.status, 403) << stranger.body;
  EXPECT_EQ(stranger.json.at("code").as_string(), "forbidden");
  HttpResult unsigned_req = SignedGet(0, audit, nullptr);
  EXPECT_EQ(unsigned_req.status, 401) << unsigned_req.body;
  EXPECT_EQ(unsigned_req.json.at("code").as_string(), "unauthenticated");
  Identity nobody;
  EXPECT_EQ(SignedGet(0, audit, &nobody).status, 401);
  // Public reads.
  EXPECT_EQ(SignedGet(0, "/v1/blocks/1", nullptr).status, 200);
  EXPECT_EQ(SignedGet(0, "/v1/validators", nullptr).status, 200);
}

// The `paths:` keys of docs/api/openapi.yaml (two-space indented keys under `paths:`).
std::set<std::string> OpenApiPaths() {
  std::ifstream in(std::string(HC_SOURCE_DIR) + "/docs/api/openapi.yaml");
  EXPECT_TRUE(in.good());
  std::set<std::string> paths;
  bool in_paths = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "paths:") {
      in_paths = true;
      continue;
    }
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ' && line[0] != '#') break;  // the next top-level key
    if (line.size() > 3 && line.starts_with("  /") && line.back() == ':') {
      paths.insert(line.substr(2, line.size() - 3));
    }
  }
  return paths;
}

TEST(ExchangeOpenApiTest, EveryRegisteredRouteIsDocumented) {
  const std::string dir = std::string(HC_IT_WORK_DIR) + "/EveryRegisteredRouteIsDocumented";
  auto net = MakeTestNetwork(dir, 1, 0);
  ASSERT_TRUE(net.has_value());
  auto config = node::LoadNodeConfig(net->nodes[0].config_path);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  node::NodeImpl impl(config.value());
  const hc::Status init = impl.Init();
  ASSERT_TRUE(init.ok()) << init.ToString();
  const api::Router router = impl.BuildRouter();
  const std::set<std::string> documented = OpenApiPaths();
  ASSERT_FALSE(documented.empty());
  for (const api::RouteInfo& r : router.Routes()) {
    EXPECT_TRUE(documented.contains(r.pattern))
        << std::string(api::http::to_string(r.method)) << " " << r.pattern
        << " is registered but not in docs/api/openapi.yaml";
  }
  EXPECT_TRUE(documented.contains("/v1/patients/{patient}/audit"));
}

}  // namespace
}  // namespace hc::integration

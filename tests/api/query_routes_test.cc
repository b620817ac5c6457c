// The exchange's read routes (api/query_routes.cc): answers and every authorisation rule, on an
// in-memory ledger.
#include <gtest/gtest.h>

#include "api/exchange_routes.h"
#include "common/encoding.h"
#include "tests/api/exchange_test_util.h"

namespace hc::api::testing {
namespace {

namespace json = boost::json;
namespace pb = ::healthchain::v1;

std::string HexKey(std::string_view name) { return HexEncode(lt::KeyOf(name)); }

class QueryRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_->StandardWorld(f_);
    lt::TxFactory::GrantSpec g;  // c1: alice → h2, TREAT, LABORATORY
    view_->Setup({f_.Grant("alice", g)}, lt::kT0 + 2000);
    // h2 accesses r1 under c1 (granted); i1 tries without consent (denied); h1 breaks the glass.
    view_->Commit({f_.Access("h2", "r1", pb::PURPOSE_TREAT, "c1"),
                   f_.Access("i1", "r1", pb::PURPOSE_HPAYMT), f_.BreakGlass("h2", "r1")},
                  lt::kT0 + 3000);
    ExchangeContext ctx;
    ctx.view = view_;
    ctx.auth = std::make_shared<RequestAuthenticator>(view_->verifier(), [this] { return now_; });
    RegisterQueryRoutes(router_, ctx);
  }

  HttpResponse Get(std::string_view target, std::string_view as = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!as.empty()) {
      auto signer = crypto::MakeFakeSigner(lt::KeyOf(as));
      headers = SignedHeaders(*signer, http::verb::get, target, ++now_);
    }
    return Call(router_, MakeHttpRequest(http::verb::get, target, headers));
  }

  lt::TxFactory f_;
  std::shared_ptr<FakeLedgerView> view_ = std::make_shared<FakeLedgerView>();
  Router router_;
  int64_t now_ = lt::kT0 + 60'000;
};

TEST_F(QueryRoutesTest, BlocksAndValidatorsArePublic) {
  auto r = Get("/v1/blocks/1");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  auto o = BodyJson(r).as_object();
  EXPECT_EQ(o.at("height").to_number<uint64_t>(), 1u);
  EXPECT_EQ(o.at("tx_ids").as_array().size(), 6u);
  EXPECT_EQ(o.at("certificate").at("signatures").as_array().size(), 1u);
  EXPECT_EQ(o.at("header").at("chain_id").as_string(), "hc-test");
  EXPECT_EQ(Get("/v1/blocks/99").result_int(), 404);
  EXPECT_EQ(Get("/v1/blocks/0").result_int(), 404);
  EXPECT_EQ(ProblemCodeOf(Get("/v1/blocks/x")), "bad_request");
  r = Get("/v1/validators");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("validators").as_array().size(), 1u);
}

TEST_F(QueryRoutesTest, UnsignedOrUnknownIsUnauthenticated) {
  const std::string audit = "/v1/patients/" + HexKey("alice") + "/audit";
  for (const std::string& t : {audit, std::string("/v1/consents/c1"), std::string("/v1/records/r1"),
                               std::string("/v1/review/break-glass")}) {
    auto r = Get(t);
    EXPECT_EQ(r.result_int(), 401) << t;
    EXPECT_EQ(ProblemCodeOf(r), "unauthenticated");
    EXPECT_EQ(Get(t, "mallory").result_int(), 401) << t;
  }
}

TEST_F(QueryRoutesTest, PatientSeesOwnAuditTrailWithDisclosureFields) {
  auto r = Get("/v1/patients/" + HexKey("alice") + "/audit", "alice");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  const json::array events = BodyJson(r).at("events").as_array();
  ASSERT_EQ(events.size(), 3u);
  const auto& e = events[0].as_object();
  EXPECT_EQ(e.at("kind").as_string(), "ACCESS");
  EXPECT_EQ(e.at("recipient").as_string(), HexKey("h2"));
  EXPECT_EQ(e.at("recipient_name").as_string(), "h2");
  EXPECT_EQ(e.at("record_description").as_string(), "Lab result r1");
  EXPECT_EQ(e.at("purpose").as_string(), "TREAT");
  EXPECT_EQ(e.at("outcome").as_string(), "GRANTED");
  EXPECT_EQ(e.at("time").as_string(), "2026-01-01T00:00:03.000Z");
  EXPECT_EQ(events[1].at("outcome").as_string(), "DENIED");
  EXPECT_EQ(events[2].at("kind").as_string(), "BREAK_GLASS");
  // Pagination.
  r = Get("/v1/patients/" + HexKey("alice") + "/audit?limit=2", "alice");
  ASSERT_EQ(r.result_int(), 200);
  auto page = BodyJson(r).as_object();
  ASSERT_EQ(page.at("events").as_array().size(), 2u);
  ASSERT_TRUE(page.at("next_after").is_number());
  r = Get("/v1/patients/" + HexKey("alice") +
              "/audit?limit=2&after=" + std::to_string(page.at("next_after").to_number<uint64_t>()),
          "alice");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("events").as_array().size(), 1u);
  EXPECT_EQ(ProblemCodeOf(Get("/v1/patients/" + HexKey("alice") + "/audit?limit=0", "alice")),
            "bad_request");
}

TEST_F(QueryRoutesTest, AuditTrailAuthorisation) {
  const std::string audit = "/v1/patients/" + HexKey("alice") + "/audit";
  // Another patient: 403.
  auto r = Get(audit, "bob");
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(ProblemCodeOf(r), "forbidden");
  // An org sees the events it took part in.
  r = Get(audit, "i1");
  ASSERT_EQ(r.result_int(), 200);
  ASSERT_EQ(BodyJson(r).at("events").as_array().size(), 1u);
  EXPECT_EQ(BodyJson(r).at("events").as_array()[0].at("recipient").as_string(), HexKey("i1"));
  r = Get(audit, "h1");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("events").as_array().size(), 0u);
  // A commission sees everything.
  r = Get(audit, "gov");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("events").as_array().size(), 3u);
  EXPECT_EQ(ProblemCodeOf(Get("/v1/patients/zz/audit", "alice")), "bad_request");
}

TEST_F(QueryRoutesTest, ConsentAuthorisationAndStatusInTime) {
  auto r = Get("/v1/consents/c1", "alice");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(BodyJson(r).at("status").as_string(), "ACTIVE");
  EXPECT_EQ(Get("/v1/consents/c1", "h2").result_int(), 200);   // the grantee
  EXPECT_EQ(Get("/v1/consents/c1", "gov").result_int(), 200);  // a commission
  EXPECT_EQ(Get("/v1/consents/c1", "h1").result_int(), 403);   // an uninvolved org
  EXPECT_EQ(Get("/v1/consents/c1", "bob").result_int(), 403);  // another patient
  // Unknown ids look forbidden to non-commissions and are 404 to a commission.
  EXPECT_EQ(Get("/v1/consents/nope", "alice").result_int(), 403);
  EXPECT_EQ(Get("/v1/consents/nope", "gov").result_int(), 404);
  // Status in the past: before the grant's block (height 2) it was not granted.
  r = Get("/v1/consents/c1?at_height=2", "alice");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_NE(BodyJson(r).at("status").as_string(), "ACTIVE");
  r = Get("/v1/consents/c1?at_time=" + std::to_string(lt::kT0 + 2500), "alice");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(BodyJson(r).at("status").as_string(), "ACTIVE");
  EXPECT_EQ(Get("/v1/consents/c1?at_height=999", "alice").result_int(), 400);
  EXPECT_EQ(Get("/v1/consents/c1?at_height=1&at_time=1", "alice").result_int(), 400);
}

TEST_F(QueryRoutesTest, PatientConsents) {
  const std::string t = "/v1/patients/" + HexKey("alice") + "/consents";
  auto r = Get(t, "alice");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(BodyJson(r).at("consents").as_array().size(), 1u);
  r = Get(t, "h2");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("consents").as_array().size(), 1u);
  r = Get(t, "h1");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("consents").as_array().size(), 0u);
  EXPECT_EQ(Get(t, "bob").result_int(), 403);
}

TEST_F(QueryRoutesTest, RecordsAndClaims) {
  EXPECT_EQ(Get("/v1/records/r1", "alice").result_int(), 200);
  auto r = Get("/v1/records/r1", "h1");
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(BodyJson(r).at("category").as_string(), "LABORATORY");
  EXPECT_EQ(Get("/v1/records/r1", "i1").result_int(), 403);
  EXPECT_EQ(Get("/v1/records/r1", "bob").result_int(), 403);
  EXPECT_EQ(Get("/v1/records/none", "gov").result_int(), 404);

  lt::TxFactory::GrantSpec pay;
  pay.id = "c2";
  pay.grantee = "i1";
  pay.purposes = {pb::PURPOSE_HPAYMT};
  view_->Setup({f_.Grant("alice", pay)});
  auto c = view_->Commit({f_.Claim("h1", {})});
  ASSERT_EQ(c.execution.receipts[0].status(), pb::TX_STATUS_OK) << c.execution.receipts[0].reason();
  r = Get("/v1/claims/cl1", "i1");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(BodyJson(r).at("total_cents").to_number<int64_t>(), 16500);
  EXPECT_EQ(Get("/v1/claims/cl1", "h1").result_int(), 200);
  EXPECT_EQ(Get("/v1/claims/cl1", "alice").result_int(), 200);
  EXPECT_EQ(Get("/v1/claims/cl1", "h2").result_int(), 403);
  EXPECT_EQ(Get("/v1/claims/cl1", "bob").result_int(), 403);
}

TEST_F(QueryRoutesTest, BreakGlassQueueIsForCommissionsOnly) {
  auto r = Get("/v1/review/break-glass", "gov");
  ASSERT_EQ(r.result_int(), 200) << r.body();
  ASSERT_EQ(BodyJson(r).at("events").as_array().size(), 1u);
  EXPECT_EQ(BodyJson(r).at("events").as_array()[0].at("justification").as_string(),
            "unconscious patient in ER");
  EXPECT_EQ(Get("/v1/review/break-glass", "h2").result_int(), 403);
  EXPECT_EQ(Get("/v1/review/break-glass", "alice").result_int(), 403);
}

}  // namespace
}  // namespace hc::api::testing

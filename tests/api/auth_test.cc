// RequestAuthenticator (api/auth.h): every way a signed read request is accepted or refused.
#include "api/auth.h"

#include <gtest/gtest.h>

#include "common/encoding.h"
#include "tests/api/exchange_test_util.h"

namespace hc::api::testing {
namespace {

namespace pb = ::healthchain::v1;

constexpr std::string_view kTarget = "/v1/patients/abc/audit?limit=5";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { view_.StandardWorld(f_); }

  Result<Caller> Auth(const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view target = kTarget, std::string body = "") {
    Request r =
        MakeRouteRequest(MakeHttpRequest(http::verb::get, target, headers, std::move(body)));
    return auth_.Authenticate(r, view_);
  }
  std::vector<std::pair<std::string, std::string>> Signed(std::string_view name, int64_t ts = 0,
                                                          std::string_view target = kTarget) {
    auto signer = crypto::MakeFakeSigner(lt::KeyOf(name));
    return SignedHeaders(*signer, http::verb::get, target, ts == 0 ? now_ : ts);
  }

  lt::TxFactory f_;
  FakeLedgerView view_;
  int64_t now_ = lt::kT0 + 10'000;
  RequestAuthenticator auth_{view_.verifier(), [this] { return now_; }};
};

TEST_F(AuthTest, ValidRequestsResolveTheirRole) {
  auto p = Auth(Signed("alice"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->role, CallerRole::kPatient);
  EXPECT_EQ(p->key, lt::KeyOf("alice"));
  auto h = Auth(Signed("h1"));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->role, CallerRole::kHospital);
  auto i = Auth(Signed("i1"));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->role, CallerRole::kInsurer);
  auto g = Auth(Signed("gov"));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->role, CallerRole::kCommission);
}

TEST_F(AuthTest, SigningBytesCoverMethodTargetTimeAndBody) {
  const Bytes a = RequestSigningBytes("GET", "/x?a=1", 5, AsBytes(""));
  EXPECT_EQ(AsStringView(a),
            "GET\n/x?a=1\n5\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(a, RequestSigningBytes("PUT", "/x?a=1", 5, AsBytes("")));
  EXPECT_NE(a, RequestSigningBytes("GET", "/x?a=2", 5, AsBytes("")));
  EXPECT_NE(a, RequestSigningBytes("GET", "/x?a=1", 6, AsBytes("")));
  EXPECT_NE(a, RequestSigningBytes("GET", "/x?a=1", 5, AsBytes("b")));
}

TEST_F(AuthTest, RealEd25519RoundTrip) {
  auto kp = crypto::GenerateEd25519();
  auto signer = crypto::MakeEd25519Signer(std::move(kp.secret_key));
  auto verifier = crypto::MakeEd25519Verifier();
  auto h = SignRequest(*signer, "GET", kTarget, now_, AsBytes(""));
  const Bytes msg = RequestSigningBytes("GET", kTarget, now_, AsBytes(""));
  auto sig = Base64Decode(h.signature);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(verifier->Verify(signer->public_key(), kAuthDomain, msg, sig.value()));
  EXPECT_FALSE(verifier->Verify(signer->public_key(), "hc/tx/v1", msg, sig.value()));
}

TEST_F(AuthTest, MissingHeaderIsUnauthenticated) {
  for (size_t drop = 0; drop < 3; ++drop) {
    auto h = Signed("alice", now_ - static_cast<int64_t>(drop));
    h.erase(h.begin() + static_cast<ptrdiff_t>(drop));
    auto r = Auth(h);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(r.status().message().find("must be signed"), std::string::npos);
  }
}

TEST_F(AuthTest, BadBase64IsUnauthenticated) {
  auto h = Signed("alice");
  h[0].second = "!!!not base64!!!";
  auto r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  h = Signed("alice", now_ - 1);
  h[2].second = Base64Encode(AsBytes("short"));
  r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  h = Signed("alice", now_ - 2);
  h[1].second = "12ab";
  r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, StaleAndFutureRequestsAreRefused) {
  auto r = Auth(Signed("alice", now_ - kAuthSkewMs - 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stale"), std::string::npos);
  r = Auth(Signed("alice", now_ + kAuthSkewMs + 1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("future"), std::string::npos);
  EXPECT_TRUE(Auth(Signed("alice", now_ - kAuthSkewMs)).ok());
  EXPECT_TRUE(Auth(Signed("alice", now_ + kAuthSkewMs)).ok());
}

TEST_F(AuthTest, ReplayIsRefusedAndTheCacheIsPruned) {
  const auto h = Signed("alice");
  ASSERT_TRUE(Auth(h).ok());
  auto r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("replayed"), std::string::npos);
  // Once the window has passed the entry is pruned, and the request is refused as stale instead.
  now_ += kAuthSkewMs + 1;
  r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stale"), std::string::npos);
  EXPECT_TRUE(Auth(Signed("alice")).ok());
}

TEST_F(AuthTest, WrongSignatureIsRefused) {
  // Signed for another target.
  auto h = Signed("alice", now_, "/v1/patients/other/audit");
  auto r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad signature"), std::string::npos);
  // Signed by bob, presented as alice.
  h = Signed("bob");
  h[0].second = Base64Encode(lt::KeyOf("alice"));
  r = Auth(h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad signature"), std::string::npos);
  // A body the signature does not cover.
  h = Signed("alice", now_ - 5);
  r = Auth(h, kTarget, "extra");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad signature"), std::string::npos);
}

TEST_F(AuthTest, UnknownIdentityIsRefused) {
  auto r = Auth(Signed("mallory"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("unknown identity"), std::string::npos);
}

TEST_F(AuthTest, SuspendedOrgIsRefused) {
  view_.Setup({f_.SuspendOrg("gov", "h2")});
  auto r = Auth(Signed("h2"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("suspended"), std::string::npos);
}

}  // namespace
}  // namespace hc::api::testing

#include "api/router.h"

#include <gtest/gtest.h>

namespace hc::api {
namespace {

using Kind = Router::MatchKind;

Handler Noop() {
  return [](const Request&, Responder) {};
}

Router MakeRouter() {
  Router r;
  r.Get("/v1/tx/{id}", Noop());
  r.Put("/v1/tx/{id}", Noop());
  r.Get("/v1/tx/pending", Noop());
  r.Post("/v1/tx", Noop());
  r.Get("/v1/blocks/{height}", Noop());
  r.Get("/v1/blocks/{height}/txs/{index}", Noop());
  r.Get("/fhir/$export", Noop());
  r.Get("/", Noop());
  return r;
}

TEST(RouterTest, MatchesParametersAndDecodesThem) {
  const Router r = MakeRouter();
  Result<Router::Match> m = r.Find(http::verb::get, "/v1/blocks/42/txs/a%2Fb");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->kind, Kind::kFound);
  EXPECT_EQ(m->route->pattern, "/v1/blocks/{height}/txs/{index}");
  EXPECT_EQ(m->params, (std::vector<Param>{{"height", "42"}, {"index", "a/b"}}));
}

TEST(RouterTest, LiteralBeatsParameter) {
  const Router r = MakeRouter();
  Result<Router::Match> m = r.Find(http::verb::get, "/v1/tx/pending");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->kind, Kind::kFound);
  EXPECT_EQ(m->route->pattern, "/v1/tx/pending");
  EXPECT_TRUE(m->params.empty());

  m = r.Find(http::verb::get, "/v1/tx/abc");
  ASSERT_EQ(m->kind, Kind::kFound);
  EXPECT_EQ(m->route->pattern, "/v1/tx/{id}");
  EXPECT_EQ(m->params, (std::vector<Param>{{"id", "abc"}}));
}

TEST(RouterTest, FallsBackToParameterRouteForAMethodTheLiteralLacks) {
  const Router r = MakeRouter();
  Result<Router::Match> m = r.Find(http::verb::put, "/v1/tx/pending");
  ASSERT_EQ(m->kind, Kind::kFound);
  EXPECT_EQ(m->route->pattern, "/v1/tx/{id}");
}

TEST(RouterTest, UnknownPaths) {
  const Router r = MakeRouter();
  for (const char* path : {"/v1/tx/", "/v1", "/v1/tx/a/b", "//", "/v2/tx/1", "/v1/blocks"}) {
    Result<Router::Match> m = r.Find(http::verb::get, path);
    ASSERT_TRUE(m.ok()) << path;
    EXPECT_EQ(m->kind, Kind::kUnknownPath) << path;
  }
}

TEST(RouterTest, WrongMethodListsAllowedMethods) {
  const Router r = MakeRouter();
  Result<Router::Match> m = r.Find(http::verb::delete_, "/v1/tx/abc");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(JoinMethods(m->allowed), "GET, PUT");

  m = r.Find(http::verb::get, "/v1/tx");
  ASSERT_EQ(m->kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(JoinMethods(m->allowed), "POST");
}

TEST(RouterTest, RootAndDollarLiterals) {
  const Router r = MakeRouter();
  EXPECT_EQ(r.Find(http::verb::get, "/")->kind, Kind::kFound);
  EXPECT_EQ(r.Find(http::verb::get, "/fhir/$export")->route->pattern, "/fhir/$export");
  // Percent-encoded literals match their decoded form.
  EXPECT_EQ(r.Find(http::verb::get, "/fhir/%24export")->kind, Kind::kFound);
}

TEST(RouterTest, BadPathEncodingIsInvalidArgument) {
  const Router r = MakeRouter();
  Result<Router::Match> m = r.Find(http::verb::get, "/v1/tx/%zz");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(r.Find(http::verb::get, "/v1/tx/%4").ok());
  std::string deep;
  for (size_t i = 0; i <= kPathSegmentsMax; ++i) deep += "/a";
  EXPECT_FALSE(r.Find(http::verb::get, deep).ok());
}

TEST(RouterTest, RoutesListsRegistrationOrder) {
  const Router r = MakeRouter();
  const std::vector<RouteInfo> routes = r.Routes();
  ASSERT_EQ(routes.size(), 8u);
  EXPECT_EQ(routes[0], (RouteInfo{http::verb::get, "/v1/tx/{id}"}));
  EXPECT_EQ(routes[3], (RouteInfo{http::verb::post, "/v1/tx"}));
}

TEST(RouterDeathTest, InvalidPatternsAbort) {
  EXPECT_DEATH(Router().Get("v1/tx", Noop()), "invalid route pattern");
  EXPECT_DEATH(Router().Get("/v1/{Id}", Noop()), "invalid route pattern");
  EXPECT_DEATH(Router().Get("/v1//x", Noop()), "invalid route pattern");
  EXPECT_DEATH(Router().Get("/v1/a b", Noop()), "invalid route pattern");
  EXPECT_DEATH(
      {
        Router r;
        r.Get("/v1/tx/{id}", Noop());
        r.Get("/v1/tx/{id}", Noop());
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Router r;
        r.Get("/v1/tx/{id}", Noop());
        r.Put("/v1/tx/{tx_id}", Noop());
      },
      "differ only in parameter names");
  EXPECT_DEATH(Router().Post("/v1/upload", Noop(), {.body_bytes_max = kBodyBytesCeiling + 1}),
               "kBodyBytesCeiling");
}

TEST(PercentDecodeTest, DecodesAndRefusesBadEscapes) {
  EXPECT_EQ(PercentDecode("a%20b%2fc", false).value(), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false).value(), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true).value(), "a b");
  EXPECT_EQ(PercentDecode("%E2%82%AC", false).value(), "\xE2\x82\xAC");
  EXPECT_FALSE(PercentDecode("%", false).ok());
  EXPECT_FALSE(PercentDecode("%g0", false).ok());
  EXPECT_FALSE(PercentDecode("ab%2", false).ok());
}

TEST(ParseQueryTest, SplitsDecodesAndKeepsDuplicates) {
  Result<std::vector<Param>> q = ParseQuery("wait=commit&x=a%26b&flag&&y=1+2&x=2");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(*q, (std::vector<Param>{
                    {"wait", "commit"}, {"x", "a&b"}, {"flag", ""}, {"y", "1 2"}, {"x", "2"}}));
  EXPECT_TRUE(ParseQuery("").value().empty());
  EXPECT_FALSE(ParseQuery("a=%zz").ok());
}

TEST(ParseQueryTest, RefusesTooManyParameters) {
  std::string q;
  for (size_t i = 0; i <= kQueryParamsMax; ++i) q += "a=1&";
  Result<std::vector<Param>> r = ParseQuery(q);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than"), std::string::npos);
}

TEST(ParseTargetTest, OriginFormOnly) {
  Result<ParsedTarget> t = ParseTarget("/v1/tx/1?wait=commit");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/tx/1");
  EXPECT_EQ(t->query, (std::vector<Param>{{"wait", "commit"}}));
  EXPECT_FALSE(ParseTarget("*").ok());
  EXPECT_FALSE(ParseTarget("http://example.com/v1").ok());
  EXPECT_FALSE(ParseTarget("").ok());
}

}  // namespace
}  // namespace hc::api

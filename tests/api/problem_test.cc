#include "api/problem.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "api/exchange.h"

namespace hc::api {
namespace {

TEST(ProblemTest, RendersRfc9457Members) {
  const Problem p(ProblemCode::kMalformedJson, "line 1, column 2 (byte 1): syntax error");
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(p.ToJson(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const boost::json::object& o = doc.as_object();
  EXPECT_EQ(o.size(), 5u);
  EXPECT_EQ(o.at("type"), "urn:healthchain:problem:malformed_json");
  EXPECT_EQ(o.at("title"), "Malformed JSON");
  EXPECT_EQ(o.at("status"), 400);
  EXPECT_EQ(o.at("detail"), "line 1, column 2 (byte 1): syntax error");
  EXPECT_EQ(o.at("code"), "malformed_json");
}

TEST(ProblemTest, ResponseCarriesContentTypeAndStatus) {
  const HttpResponse res = MakeProblemResponse(Problem(ProblemCode::kMempoolFull, "full"));
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
}

TEST(ProblemTest, CodesAreUniqueAndStatusesAreErrors) {
  std::set<std::string_view> names;
  for (const ProblemSpec& s : AllProblemSpecs()) {
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_GE(s.status, 400u) << s.name;
    EXPECT_LT(s.status, 600u) << s.name;
    EXPECT_EQ(&SpecOf(s.code), &s);
  }
  EXPECT_EQ(SpecOf(ProblemCode::kHeadersTooLarge).status, 431u);
  EXPECT_EQ(SpecOf(ProblemCode::kTooManyConnections).status, 503u);
}

TEST(ProblemTest, FromStatusMapsEachCode) {
  struct Case {
    Status status;
    std::string_view code;
  };
  const Case cases[] = {
      {InvalidArgument("x"), "bad_request"},   {NotFound("x"), "not_found"},
      {AlreadyExists("x"), "conflict"},        {FailedPrecondition("x"), "conflict"},
      {PermissionDenied("x"), "forbidden"},    {Unauthenticated("x"), "unauthenticated"},
      {ResourceExhausted("x"), "unavailable"}, {Unavailable("x"), "unavailable"},
      {Internal("secret path"), "internal"},   {IoError("secret path"), "internal"},
      {Corruption("secret path"), "internal"},
  };
  for (const Case& c : cases) {
    const Problem p = ProblemFromStatus(c.status);
    EXPECT_EQ(p.name(), c.code) << c.status.ToString();
    if (c.code == "internal") {
      EXPECT_EQ(p.detail().find("secret"), std::string::npos) << "internal details must not leak";
    } else {
      EXPECT_EQ(p.detail(), "x");
    }
  }
}

// docs/api/openapi.yaml documents every problem code with its status; this keeps them in step.
TEST(ProblemTest, OpenApiListsEveryProblemCode) {
  std::ifstream in(std::string(HC_SOURCE_DIR) + "/docs/api/openapi.yaml");
  ASSERT_TRUE(in.good()) << "docs/api/openapi.yaml not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string yaml = ss.str();
  for (const ProblemSpec& s : AllProblemSpecs()) {
    // The ProblemCode enum lists "- <name>"; the table in its description "`<name>` | <status>".
    // (Built with append: GCC 12 warns falsely (-Wrestrict) on chained string operator+.)
    std::string enum_entry("- ");
    enum_entry.append(s.name).append("\n");
    std::string table_row("`");
    table_row.append(s.name).append("` | ").append(std::to_string(s.status));
    EXPECT_NE(yaml.find(enum_entry), std::string::npos) << s.name;
    EXPECT_NE(yaml.find(table_row), std::string::npos) << s.name;
  }
}

}  // namespace
}  // namespace hc::api

#include "api/json.h"

#include <gtest/gtest.h>

#include "api/limits.h"

namespace hc::api {
namespace {

namespace json = boost::json;

Request MakeJsonRequest(std::string body, std::string_view content_type = "application/json") {
  HttpRequest msg{http::verb::post, "/v1/echo", 11};
  if (!content_type.empty()) msg.set(http::field::content_type, content_type);
  msg.body() = std::move(body);
  return Request(std::move(msg), "/v1/echo", {}, {}, "127.0.0.1:1");
}

TEST(ParseJsonTest, ReportsLineColumnAndByte) {
  Result<json::value> r = ParseJson("{\"a\": 1,\n  \"b\": tru }");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 2, column"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("syntax error"), std::string::npos);
}

TEST(ParseJsonTest, RefusesTrailingDataTruncationBadUtf8AndDepth) {
  EXPECT_FALSE(ParseJson("{} x").ok());
  EXPECT_FALSE(ParseJson("{\"a\":").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("\"\xff\"").ok());
  EXPECT_FALSE(
      ParseJson(std::string(kJsonDepthMax + 1, '[') + std::string(kJsonDepthMax + 1, ']')).ok());
  EXPECT_TRUE(ParseJson(std::string(kJsonDepthMax, '[') + std::string(kJsonDepthMax, ']')).ok());
}

TEST(ParseJsonObjectBodyTest, ProblemsByFailure) {
  ProblemOr<json::object> ok = ParseJsonObjectBody(MakeJsonRequest(R"({"a": 1})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().at("a"), 1);

  ProblemOr<json::object> charset =
      ParseJsonObjectBody(MakeJsonRequest("{}", "Application/JSON; charset=utf-8"));
  EXPECT_TRUE(charset.ok());

  ProblemOr<json::object> bad = ParseJsonObjectBody(MakeJsonRequest("{\"a\" 1}"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problem().code(), ProblemCode::kMalformedJson);
  EXPECT_NE(bad.problem().detail().find("line 1, column 6"), std::string::npos)
      << bad.problem().detail();

  ProblemOr<json::object> array = ParseJsonObjectBody(MakeJsonRequest("[1]"));
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.problem().code(), ProblemCode::kBadRequest);

  ProblemOr<json::object> form =
      ParseJsonObjectBody(MakeJsonRequest("{}", "application/x-www-form-urlencoded"));
  ASSERT_FALSE(form.ok());
  EXPECT_EQ(form.problem().code(), ProblemCode::kUnsupportedMediaType);

  ProblemOr<json::object> none = ParseJsonObjectBody(MakeJsonRequest("{}", ""));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.problem().code(), ProblemCode::kUnsupportedMediaType);
}

TEST(JsonGetterTest, TypedFieldsNameTheField) {
  const json::object o = ParseJson(R"({"s": "x", "n": 5, "neg": -1, "big": 18446744073709551615,
                                       "f": 1.0, "b": true, "o": {}, "a": [], "z": null})")
                             .value()
                             .as_object();
  EXPECT_EQ(GetString(o, "s").value(), "x");
  EXPECT_EQ(GetUint64(o, "n").value(), 5u);
  EXPECT_EQ(GetUint64(o, "big").value(), 18446744073709551615u);
  EXPECT_EQ(GetInt64(o, "neg").value(), -1);
  EXPECT_TRUE(GetBool(o, "b").value());
  EXPECT_TRUE(GetObject(o, "o").ok());
  EXPECT_TRUE(GetArray(o, "a").ok());

  const Status missing = GetString(o, "patient").status();
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.message(), "field 'patient': missing");
  EXPECT_EQ(GetString(o, "n").status().message(), "field 'n': expected a string, got a number");
  EXPECT_EQ(GetUint64(o, "neg").status().message(), "field 'neg': must not be negative");
  EXPECT_FALSE(GetUint64(o, "f").ok());
  EXPECT_FALSE(GetInt64(o, "big").ok());
  EXPECT_FALSE(GetBool(o, "s").ok());
  EXPECT_EQ(GetObject(o, "a").status().message(), "field 'a': expected an object, got an array");

  EXPECT_FALSE(GetOptionalString(o, "missing").value().has_value());
  EXPECT_FALSE(GetOptionalString(o, "z").value().has_value());
  EXPECT_EQ(GetOptionalString(o, "s").value(), "x");
  EXPECT_FALSE(GetOptionalString(o, "n").ok());
  EXPECT_EQ(GetOptionalUint64(o, "n").value(), 5u);
  EXPECT_FALSE(GetOptionalUint64(o, "missing").value().has_value());
  EXPECT_FALSE(GetOptionalBool(o, "s").ok());
}

}  // namespace
}  // namespace hc::api

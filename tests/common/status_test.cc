#include "common/status.h"

#include <gtest/gtest.h>

namespace hc {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Result<int> DoubleIt(int v) {
  HC_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

Status CheckBoth(int a, int b) {
  HC_RETURN_IF_ERROR(ParsePositive(a).status());
  HC_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = NotFound("block 7");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: block 7");
  EXPECT_EQ(s.WithContext("state transfer").message(), "state transfer: block 7");
}

TEST(StatusTest, ResultPropagatesThroughMacros) {
  EXPECT_EQ(DoubleIt(4).value(), 8);
  Result<int> bad = DoubleIt(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "not positive: -1");
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, 0).message(), "not positive: 0");
}

TEST(StatusDeathTest, ReadingTheValueOfAnErrorAborts) {
  Result<int> bad = InvalidArgument("x");
  EXPECT_DEATH((void)bad.value(), "assertion failed");
}

TEST(StatusDeathTest, AnOkStatusIsNotAnError) {
  EXPECT_DEATH(Result<int>{Status::Ok()}, "assertion failed");
}

TEST(AssertDeathTest, ComparisonsPrintBothOperands) {
  int a = 3;
  int b = 4;
  EXPECT_DEATH(HC_ASSERT_EQ(a, b), "a == b.*left: 3, right: 4");
  EXPECT_DEATH(HC_ASSERT_GT(a, b), "left: 3, right: 4");
  EXPECT_DEATH(HC_ASSERT(a > b), "assertion failed: a > b");
}

}  // namespace
}  // namespace hc

#include "common/clock.h"

#include <gtest/gtest.h>

namespace hc {
namespace {

TEST(FormatUtcTest, FormatsUnixMillisecondsAsUtc) {
  EXPECT_EQ(FormatUtc(0, "%Y-%m-%dT%H:%M:%SZ"), "1970-01-01T00:00:00Z");
  // 2026-12-06T21:15:03.412Z: the milliseconds are dropped, not rounded.
  EXPECT_EQ(FormatUtc(1796591703412, "%Y-%m-%dT%H:%M:%SZ"), "2026-12-06T21:15:03Z");
  EXPECT_EQ(FormatUtc(1796591703999, "%Y%m%dT%H%M%S"), "20261206T211503");
  // Before 1970, the second that contains the instant.
  EXPECT_EQ(FormatUtc(-1, "%Y-%m-%dT%H:%M:%SZ"), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace hc

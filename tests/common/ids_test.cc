#include "common/ids.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <unordered_set>

namespace hc {
namespace {

TEST(StrongIdTest, OrderedHashableAndDistinctTypes) {
  static_assert(!std::is_convertible_v<ViewNumber, SeqNumber>);
  static_assert(!std::is_convertible_v<uint64_t, Height>);
  ViewNumber v(3);
  EXPECT_LT(v, v.Next());
  EXPECT_EQ(v.Next().value(), 4u);
  EXPECT_EQ(v.Next().Prev(), v);
  std::unordered_set<SeqNumber> seen = {SeqNumber(1), SeqNumber(1), SeqNumber(2)};
  EXPECT_EQ(seen.size(), 2u);
}

}  // namespace
}  // namespace hc

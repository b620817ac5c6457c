// R26 runs in a state-transfer response: which fetched blocks one fetched header attests.
#include "node/attested_runs.h"

#include <gtest/gtest.h>

#include <vector>

namespace hc::node {
namespace {

// Heights 10..15; block 11's header claims the log after 9, 13's after 11, 15's after 13.
class AttestedRunsTest : public ::testing::Test {
 protected:
  std::vector<uint64_t> heights_ = {10, 11, 12, 13, 14, 15};
  std::map<uint64_t, size_t> claims_ = {{9, 1}, {11, 3}, {13, 5}};
};

TEST_F(AttestedRunsTest, ARunEndsAtTheNearestClaimedHeight) {
  // 10 and 11: no header names 10, but 13's claim on the log after 11 covers both.
  std::optional<AttestedRun> run = AttestedRunFrom(heights_, claims_, 0);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->end, 2u);
  EXPECT_EQ(run->attester, 3u);
  // A block whose own height is claimed is a run of one.
  run = AttestedRunFrom(heights_, claims_, 1);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->end, 2u);
  EXPECT_EQ(run->attester, 3u);
  run = AttestedRunFrom(heights_, claims_, 2);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->end, 4u);
  EXPECT_EQ(run->attester, 5u);
}

TEST_F(AttestedRunsTest, BlocksAfterTheLastClaimedHeightAreNotAttested) {
  EXPECT_FALSE(AttestedRunFrom(heights_, claims_, 4).has_value());  // 14: nothing claims >= 14
  EXPECT_FALSE(AttestedRunFrom(heights_, claims_, 5).has_value());
  EXPECT_FALSE(AttestedRunFrom(heights_, claims_, 6).has_value());  // past the end
  EXPECT_FALSE(AttestedRunFrom({}, claims_, 0).has_value());
}

TEST_F(AttestedRunsTest, ARunNeedsEveryHeightInOrderAndALaterAttester) {
  // 12 is missing: the run 10..13 cannot be formed.
  const std::vector<uint64_t> gap = {10, 11, 13, 14, 15};
  EXPECT_FALSE(AttestedRunFrom(gap, {{13, 4}}, 0).has_value());
  // Out of order.
  const std::vector<uint64_t> swapped = {10, 12, 11, 13, 14};
  EXPECT_FALSE(AttestedRunFrom(swapped, {{12, 4}}, 0).has_value());
  // The response ends before the claimed height; a claim so far that the count wraps around.
  EXPECT_FALSE(AttestedRunFrom(std::vector<uint64_t>{10, 11}, {{12, 1}}, 0).has_value());
  EXPECT_FALSE(AttestedRunFrom(std::vector<uint64_t>{0, 1}, {{UINT64_MAX, 1}}, 0).has_value());
  // The claiming block is inside the run (a header cannot claim its own or a later height's log:
  // R23 refuses it; a peer may still send one).
  EXPECT_FALSE(AttestedRunFrom(heights_, {{12, 1}}, 0).has_value());
  EXPECT_FALSE(AttestedRunFrom(heights_, {{12, 2}}, 0).has_value());
  ASSERT_TRUE(AttestedRunFrom(heights_, {{12, 3}}, 0).has_value());
}

TEST_F(AttestedRunsTest, ABatchIsPlannedIntoRunsFromItsFirstBlock) {
  // 10..11 (attested by 13), 12..13 (by 15); 14 and 15 alone.
  const std::map<size_t, AttestedRun> runs = AttestedRunsIn(heights_, claims_);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs.at(0).end, 2u);
  EXPECT_EQ(runs.at(0).attester, 3u);
  EXPECT_EQ(runs.at(2).end, 4u);
  EXPECT_EQ(runs.at(2).attester, 5u);
  // Headers that skip heights (blocks proposed back to back, execution behind): 15's claim on
  // the log after 13 attests the four blocks 10..13 as one run.
  const std::map<size_t, AttestedRun> long_run = AttestedRunsIn(heights_, {{13, 5}});
  ASSERT_EQ(long_run.size(), 1u);
  EXPECT_EQ(long_run.at(0).end, 4u);
  EXPECT_EQ(long_run.at(0).attester, 5u);
  // A gap ends the plan's runs there: 12 missing leaves 10, 11 alone; 13 starts again.
  const std::vector<uint64_t> gap = {10, 11, 13, 14, 15};
  const std::map<size_t, AttestedRun> around = AttestedRunsIn(gap, {{13, 4}});
  ASSERT_EQ(around.size(), 1u);
  EXPECT_EQ(around.begin()->first, 2u);
  EXPECT_EQ(around.begin()->second.end, 3u);
  EXPECT_TRUE(AttestedRunsIn({}, claims_).empty());
  EXPECT_TRUE(AttestedRunsIn(heights_, {}).empty());
}

}  // namespace
}  // namespace hc::node

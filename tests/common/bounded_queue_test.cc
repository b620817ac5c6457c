#include "common/bounded_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace hc {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueueTest, RefusesPastCapacityWithoutBlocking) {
  BoundedQueue<int> q(2);
  EXPECT_TRUE(q.TryPush(1));
  EXPECT_TRUE(q.TryPush(2));
  EXPECT_FALSE(q.TryPush(3));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.TryPop(), 1);
  EXPECT_TRUE(q.TryPush(3));
  EXPECT_EQ(q.TryPop(), 2);
  EXPECT_EQ(q.TryPop(), 3);
  EXPECT_EQ(q.TryPop(), std::nullopt);
}

TEST(BoundedQueueTest, PopForTimesOutWhenEmpty) {
  BoundedQueue<int> q(1);
  EXPECT_EQ(q.PopFor(5ms), std::nullopt);
  EXPECT_TRUE(q.PushFor(1, 0ms));
  EXPECT_FALSE(q.PushFor(2, 5ms));  // full
}

TEST(BoundedQueueTest, APushThatTimesOutKeepsTheItemForTheRetry) {
  // The driver retries PushFor with the same committed block until the executor has room: a
  // timed-out push must not have moved the block away (the retry would queue an empty one).
  BoundedQueue<std::string> q(1);
  ASSERT_TRUE(q.TryPush("first"));
  std::string block(1000, 'b');
  EXPECT_FALSE(q.PushFor(std::move(block), 1ms));
  EXPECT_EQ(block, std::string(1000, 'b'));  // NOLINT(bugprone-use-after-move): the contract
  EXPECT_EQ(q.TryPop(), "first");
  EXPECT_TRUE(q.PushFor(std::move(block), 1ms));
  EXPECT_EQ(q.TryPop(), std::string(1000, 'b'));
}

TEST(BoundedQueueTest, CloseWakesWaitersAndDrains) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.TryPush(7));
  q.Close();
  EXPECT_FALSE(q.TryPush(8));
  EXPECT_EQ(q.PopFor(1s), 7);
  EXPECT_EQ(q.PopFor(1s), std::nullopt);  // closed and drained: no wait
}

TEST(BoundedQueueTest, ManyProducersOneConsumerLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 5000;
  BoundedQueue<int> q(64);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        ASSERT_TRUE(q.PushFor(p * kPerProducer + i, 10s));
      }
    });
  }
  std::vector<int> seen(kProducers * kPerProducer, 0);
  for (int n = 0; n < kProducers * kPerProducer; ++n) {
    auto v = q.PopFor(10s);
    ASSERT_TRUE(v.has_value());
    ++seen[*v];
  }
  for (auto& t : producers) t.join();
  for (int count : seen) EXPECT_EQ(count, 1);
}

}  // namespace
}  // namespace hc

#include "ledger/recent_tx_ids.h"

#include <climits>
#include <random>

#include "common/assert.h"

namespace hc::ledger {
namespace {

constexpr size_t kInitialSlots = 1 << 12;

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

RecentTxIds::RecentTxIds(uint64_t open_height, int64_t open_time_ms)
    : not_held_until_ms_(open_height == 0 ? INT64_MIN : open_time_ms),
      slots_(kInitialSlots, 0),
      seed_((static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}()) {}

uint64_t RecentTxIds::KeyOf(ByteView tx_id) {
  HC_ASSERT(tx_id.size() >= 8);
  uint64_t k = 0;
  for (size_t i = 0; i < 8; ++i) k = (k << 8) | tx_id[i];
  return k == 0 ? 1 : k;
}

bool RecentTxIds::CoversLocked(int64_t since_ms) const { return since_ms > not_held_until_ms_; }

bool RecentTxIds::Covers(int64_t since_ms) const {
  std::lock_guard lock(mu_);
  return CoversLocked(since_ms);
}

size_t RecentTxIds::SlotOf(uint64_t key) const {
  return static_cast<size_t>(Mix(key ^ seed_)) & (slots_.size() - 1);
}

bool RecentTxIds::FindLocked(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = SlotOf(key);; i = (i + 1) & mask) {
    if (slots_[i] == key) return true;
    if (slots_[i] == 0) return false;
  }
}

bool RecentTxIds::MayContain(uint64_t key) const {
  std::lock_guard lock(mu_);
  return FindLocked(key);
}

bool RecentTxIds::RulesOut(uint64_t key, int64_t since_ms) const {
  std::lock_guard lock(mu_);
  return CoversLocked(since_ms) && !FindLocked(key);
}

void RecentTxIds::GrowLocked() {
  std::vector<uint64_t> old(slots_.size() * 2, 0);
  old.swap(slots_);
  count_ = 0;
  for (uint64_t k : old) {
    if (k != 0) InsertLocked(k);
  }
}

void RecentTxIds::InsertLocked(uint64_t key) {
  if (2 * (count_ + 1) > slots_.size()) GrowLocked();  // load at most 1/2
  const size_t mask = slots_.size() - 1;
  size_t i = SlotOf(key);
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = key;
  ++count_;
}

void RecentTxIds::EraseLocked(uint64_t key) {
  const size_t mask = slots_.size() - 1;
  size_t i = SlotOf(key);
  while (slots_[i] != key) {
    HC_ASSERT_MSG(slots_[i] != 0, "RecentTxIds: erasing a key that is not held");
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move later keys of the probe run into the hole when their home slot
  // does not lie cyclically in (hole, their slot], so every key stays reachable from its home.
  size_t hole = i;
  for (size_t j = (hole + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
    const size_t home = SlotOf(slots_[j]);
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
  --count_;
}

void RecentTxIds::AddBlock(uint64_t height, int64_t timestamp_ms, std::vector<uint64_t> keys,
                           int64_t horizon_ms) {
  std::lock_guard lock(mu_);
  HC_ASSERT(held_.empty() || held_.back().height < height);
  for (uint64_t k : keys) InsertLocked(k);
  held_.push_back(Block{height, timestamp_ms, std::move(keys)});
  while (!held_.empty() && held_.front().timestamp_ms < horizon_ms) {
    for (uint64_t k : held_.front().keys) EraseLocked(k);
    not_held_until_ms_ = std::max(not_held_until_ms_, held_.front().timestamp_ms);
    held_.pop_front();
  }
}

void RecentTxIds::DropAbove(uint64_t height) {
  std::lock_guard lock(mu_);
  while (!held_.empty() && held_.back().height > height) {
    for (uint64_t k : held_.back().keys) EraseLocked(k);
    held_.pop_back();
  }
}

size_t RecentTxIds::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

size_t RecentTxIds::blocks() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace hc::ledger

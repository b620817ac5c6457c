// BoundedQueue<T>: a thread-safe FIFO with a hard capacity, for handing events between IO threads
// and the single driver thread (STYLE.md: "IO threads only enqueue into bounded queues").
//
// Thread-safety: every method may be called from any thread. TryPush never blocks, so a producer
// that must not stall (a network thread) drops and counts instead. Close() wakes all waiters;
// after it, pushes fail and pops drain what remains and then return std::nullopt.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "common/assert.h"

namespace hc {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {
    HC_ASSERT_GT(capacity, size_t{0});
  }

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Enqueues unless the queue is full or closed. Returns whether the item was accepted.
  bool TryPush(T item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Blocks while full, up to `timeout`. Returns false on timeout or when closed, and then leaves
  // `item` as it was, so a caller can retry with it (it is moved from only when accepted).
  bool PushFor(T&& item, std::chrono::milliseconds timeout) {
    {
      std::unique_lock lock(mu_);
      if (!not_full_.wait_for(lock, timeout,
                              [&] { return closed_ || items_.size() < capacity_; })) {
        return false;
      }
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    return true;
  }

  // Dequeues without blocking.
  std::optional<T> TryPop() {
    std::optional<T> out;
    {
      std::lock_guard lock(mu_);
      if (items_.empty()) return std::nullopt;
      out.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_one();
    return out;
  }

  // Waits up to `timeout` for an item. Returns std::nullopt on timeout, or when closed and drained.
  std::optional<T> PopFor(std::chrono::milliseconds timeout) {
    std::optional<T> out;
    {
      std::unique_lock lock(mu_);
      not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
      if (items_.empty()) return std::nullopt;
      out.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_one();
    return out;
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace hc

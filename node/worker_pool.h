// WorkerPool<Job>: named threads that take jobs from one bounded queue, up to `batch_max` at a
// time, until Stop. The shape the admission pool and the pre-verify pool share (node/mempool.h);
// like every thread of the node, its workers live in node/.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/assert.h"
#include "common/bounded_queue.h"
#include "common/thread_name.h"

namespace hc::node {

template <typename Job>
class WorkerPool {
 public:
  // Called on a worker with the jobs it took: 1..batch_max of them, in queue order.
  using WorkFn = std::function<void(std::vector<Job>&)>;

  // Starts `threads` workers named `<name>-<i>` over a queue of `capacity` jobs.
  WorkerPool(const std::string& name, uint32_t threads, size_t capacity, size_t batch_max,
             WorkFn work)
      : queue_(capacity), batch_max_(batch_max), work_(std::move(work)) {
    HC_ASSERT(threads >= 1 && batch_max >= 1);
    for (uint32_t i = 0; i < threads; ++i) {
      workers_.emplace_back([this, name, i] {
        SetThreadName(name + "-" + std::to_string(i));
        Run();
      });
    }
  }
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a job; false (the job is dropped) when the queue is full or the pool is stopped.
  // Never blocks.
  bool Submit(Job job) {
    if (stopping_.load()) return false;
    return queue_.TryPush(std::move(job));
  }

  // Drops the queued jobs, lets each worker finish the batch in hand (a long one may poll
  // stopping() to cut it short), joins the workers. Idempotent.
  void Stop() {
    if (stopping_.exchange(true)) return;
    queue_.Close();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  size_t queued() const { return queue_.size(); }

 private:
  void Run() {
    std::vector<Job> jobs;
    while (true) {
      auto first = queue_.PopFor(std::chrono::milliseconds(100));
      if (!first) {
        if (queue_.closed()) return;
        continue;
      }
      if (stopping()) return;
      jobs.clear();
      jobs.push_back(std::move(*first));
      while (jobs.size() < batch_max_) {
        auto next = queue_.TryPop();
        if (!next) break;
        jobs.push_back(std::move(*next));
      }
      work_(jobs);
    }
  }

  BoundedQueue<Job> queue_;
  const size_t batch_max_;
  const WorkFn work_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace hc::node

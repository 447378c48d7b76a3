// WorkerPool: a fixed number of threads running blocking handler work from a bounded
// queue, so that disk, database and event-store calls never block the I/O threads.
//
// Thread-safety: TryPost may be called from any thread. Stop() finishes queued jobs and
// joins the threads; it is idempotent and called by the destructor.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dt::http {

class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t max_queue);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a job; false (job not taken) when the queue is full or the pool stopped.
  bool TryPost(std::function<void()> job);
  void Stop();
  size_t queued() const;

 private:
  void Loop();
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace dt::http

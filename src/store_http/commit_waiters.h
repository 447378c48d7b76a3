// CommitWaiters: lets long-polling requests wait for the next commit of the store
// without holding a thread.
//
// A waiter is a callback run once: with true after the store's head moves past the
// position it waited on, or with false when its timeout runs out or at Shutdown(). The
// callback runs on the given executor (never on the store's writer thread).
//
// Thread-safety: all methods from any thread.
// Lifetime: must outlive nothing but the Store it listens to; Shutdown() before the
// store closes (the destructor does it).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

#include "store/store.h"

namespace dt::store_http {

class CommitWaiters {
 public:
  explicit CommitWaiters(store::Store& store);
  ~CommitWaiters();

  void Wait(store::Position after, std::chrono::milliseconds timeout,
            boost::asio::any_io_executor executor, std::function<void(bool committed)> done);
  // Completes every waiter with false and refuses new ones (they complete at once).
  void Shutdown();

  struct Waiter;  // internal

 private:
  void OnCommit(store::Position head);

  store::Store& store_;
  uint64_t listener_id_ = 0;
  std::mutex mu_;
  std::list<std::shared_ptr<Waiter>> waiters_;  // guarded by mu_
  bool shut_down_ = false;                      // guarded by mu_
};

}  // namespace dt::store_http

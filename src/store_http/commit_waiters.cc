#include "store_http/commit_waiters.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace dt::store_http {

struct CommitWaiters::Waiter {
  store::Position after = 0;
  boost::asio::any_io_executor executor;
  std::function<void(bool)> done;
  std::atomic<bool> fired{false};
  std::unique_ptr<boost::asio::steady_timer> timer;

};

namespace {
void Fire(const std::shared_ptr<CommitWaiters::Waiter>& w, bool committed) {
  if (w->fired.exchange(true)) return;
  boost::asio::post(w->executor, [w, committed] {
    w->timer->cancel();
    auto done = std::move(w->done);
    done(committed);
  });
}
}  // namespace

CommitWaiters::CommitWaiters(store::Store& store) : store_(store) {
  listener_id_ = store_.AddCommitListener([this](store::Position head) { OnCommit(head); });
}

CommitWaiters::~CommitWaiters() {
  Shutdown();
  store_.RemoveCommitListener(listener_id_);
}

void CommitWaiters::Wait(store::Position after, std::chrono::milliseconds timeout,
                         boost::asio::any_io_executor executor, std::function<void(bool)> done) {
  auto w = std::make_shared<Waiter>();
  w->after = after;
  w->executor = executor;
  w->done = std::move(done);
  w->timer = std::make_unique<boost::asio::steady_timer>(executor, timeout);
  {
    std::lock_guard lock(mu_);
    if (!shut_down_) waiters_.push_back(w);
  }
  if (store_.HeadPosition() > after) return Fire(w, true);
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return Fire(w, false);
  }
  w->timer->async_wait([this, w](boost::system::error_code ec) {
    if (ec) return;  // cancelled: fired by a commit
    {
      std::lock_guard lock(mu_);
      waiters_.remove(w);
    }
    Fire(w, false);
  });
}

void CommitWaiters::OnCommit(store::Position head) {
  std::list<std::shared_ptr<Waiter>> ready;
  {
    std::lock_guard lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (head > (*it)->after) {
        ready.push_back(*it);
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : ready) Fire(w, true);
}

void CommitWaiters::Shutdown() {
  std::list<std::shared_ptr<Waiter>> all;
  {
    std::lock_guard lock(mu_);
    shut_down_ = true;
    all.swap(waiters_);
  }
  for (auto& w : all) Fire(w, false);
}

}  // namespace dt::store_http

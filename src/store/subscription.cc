// Catch-up subscriptions: cursors that read the log (or a stream through the index) up to
// the published head and wait for the head to move when caught up. History and live events
// come through the same reads, so there is no switch-over and nothing to buffer: a slow
// consumer only falls behind.
#include "store/record.h"
#include "store/store_impl.h"

namespace dt::store {
namespace {

// What both cursors share: the store, closing, and whether the cursor has reached the head.
class CursorBase : public Subscription {
 public:
  explicit CursorBase(StoreImpl& store) : store_(store) {}
  bool caught_up() const override { return caught_up_.load(); }
  void Close() override {
    closed_.store(true);
    store_.WakeWaiters();
  }

 protected:
  bool closing() const { return closed_.load() || store_.closed(); }

  StoreImpl& store_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> caught_up_{false};
};

class AllSubscription final : public CursorBase {
 public:
  AllSubscription(StoreImpl& store, Position start) : CursorBase(store), pos_(start) {}

  Result<std::vector<RecordedEvent>> Next(size_t max_events,
                                          std::chrono::milliseconds wait) override {
    std::vector<RecordedEvent> out;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (closing()) return Status::Stopped("the subscription is closed");
      const Position head = store_.HeadPosition();
      if (pos_ < head) {
        Position next = pos_;
        DT_RETURN_IF_ERROR(store_.ReadAllForSubscription(pos_, head, max_events, &out, &next));
        pos_ = next;
        if (pos_ >= head) caught_up_.store(true);
        return out;
      }
      caught_up_.store(true);
      if (attempt == 0) store_.WaitForHead(head, wait, closed_);
    }
    return out;
  }

 private:
  Position pos_;
};

class StreamSubscription final : public CursorBase {
 public:
  StreamSubscription(StoreImpl& store, std::string stream, int64_t next)
      : CursorBase(store), stream_(std::move(stream)), next_(next) {}

  Result<std::vector<RecordedEvent>> Next(size_t max_events,
                                          std::chrono::milliseconds wait) override {
    std::vector<RecordedEvent> out;
    if (deleted_) return Status::StreamDeleted("stream '" + stream_ + "' is deleted");
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (closing()) return Status::Stopped("the subscription is closed");
      const Position head = store_.HeadPosition();
      bool deleted = false, caught_up = false;
      int64_t next = next_;
      DT_RETURN_IF_ERROR(store_.ReadStreamForSubscription(stream_, next_, max_events, &out, &next,
                                                          &deleted, &caught_up));
      next_ = next;
      if (caught_up) caught_up_.store(true);
      if (deleted) {
        deleted_ = true;
        if (out.empty()) return Status::StreamDeleted("stream '" + stream_ + "' is deleted");
      }
      if (!out.empty() || deleted_) return out;
      if (attempt == 0) store_.WaitForHead(head, wait, closed_);
    }
    return out;
  }

 private:
  const std::string stream_;
  int64_t next_;
  bool deleted_ = false;
};

}  // namespace

Result<std::unique_ptr<Subscription>> StoreImpl::SubscribeToAll(std::optional<Position> from) {
  Position start = 0;
  if (from) {
    const Position head = HeadPosition();
    if (*from > head)
      return Status::InvalidArgument("position " + std::to_string(*from) +
                                     " is past the end of the log");
    if (*from == head) {
      start = head;  // nothing was ever written at the head: start with the next record
    } else {
      std::shared_lock guard(close_mu_);
      if (closed()) return Status::Stopped("the store is closed");
      std::vector<RecordedEvent> first;
      DT_RETURN_IF_ERROR(ReadAllForward(*from, head, 1, &first, &start));
    }
  }
  return std::unique_ptr<Subscription>(new AllSubscription(*this, start));
}

Result<std::unique_ptr<Subscription>> StoreImpl::SubscribeToStream(std::string stream,
                                                                   std::optional<int64_t> from) {
  if (stream.empty() || stream == "$all")
    return Status::InvalidArgument("cannot subscribe to stream '" + stream +
                                   "' (use SubscribeToAll for $all)");
  if (from && *from < 0) return Status::InvalidArgument("subscription start must be >= 0");
  const int64_t next = from ? (*from == INT64_MAX ? INT64_MAX : *from + 1) : 0;
  return std::unique_ptr<Subscription>(new StreamSubscription(*this, std::move(stream), next));
}

}  // namespace dt::store

// InProcessClient: EventStoreClient over the engine linked into this process.
//
// Open() opens (and owns) the store in a folder; the constructor that takes a Store&
// borrows one the caller keeps open for longer than the client. ReadAllForward's long poll
// waits on the engine's commit notification, so a follower wakes as soon as an append is
// durable.
//
// Thread-safety: all methods, any thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "client/event_store_client.h"
#include "store/store.h"

namespace dt::client {

class InProcessClient final : public EventStoreClient {
 public:
  // Opens the engine in `folder` (created if missing). Fails like store::Store::Open.
  static Result<std::unique_ptr<InProcessClient>> Open(const std::string& folder);
  // Borrows `store`, which must outlive the client.
  explicit InProcessClient(store::Store& store, std::string folder = {});
  ~InProcessClient() override;

  Result<AppendResult> Append(std::string_view stream, int64_t expected_version,
                              std::vector<ProposedEvent> events) override;
  void AppendAsync(std::string_view stream, int64_t expected_version,
                   std::vector<ProposedEvent> events, AppendCallback done) override;
  Result<StreamPage> ReadStreamForward(std::string_view stream, int64_t from,
                                       size_t max_count) override;
  Result<StreamPage> ReadStreamBackward(std::string_view stream, int64_t from,
                                        size_t max_count) override;
  Status ScanAllForward(const AllPosition& from, size_t max_count,
                        const std::function<void(const ResolvedEventView&)>& each,
                        AllPosition* next, bool* end_of_log) override;
  Result<AllPage> ReadAllForward(const AllPosition& from, size_t max_count,
                                 std::chrono::milliseconds long_poll) override;
  Result<AllPosition> ReadHead() override;
  std::string Describe() const override;

  store::Store& engine() { return store_; }

 private:
  InProcessClient(std::unique_ptr<store::Store> owned, std::string folder);

  std::unique_ptr<store::Store> owned_;  // null when borrowed
  store::Store& store_;
  std::string folder_;
  uint64_t listener_id_ = 0;
  std::mutex mu_;
  std::condition_variable committed_;  // notified on every group commit
  uint64_t head_ = 0;                  // GUARDED_BY(mu_)
};

}  // namespace dt::client

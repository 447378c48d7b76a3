// store_impl.h: the engine behind store.h (internal; include store.h instead).
//
// Threads: one writer thread owns the log's write end, the groups (IndexUpdates, buffers);
// one sync thread runs the log's fdatasync for the group in flight (handed over under
// queue_mu_); callers' threads read (state cache, index, log) and wait on the head position.
// Locks: queue_mu_ guards the append queue and the sync handover; head_mu_ pairs with head_cv_ for waiters
// (head_ itself is atomic); listeners_mu_ guards the commit listeners; close_mu_ is held
// shared by every public call and exclusively by Close() while it tears things down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "store/fs.h"
#include "store/index.h"
#include "store/log.h"
#include "store/store.h"
#include "store/stream_state.h"

namespace dt::store {

inline constexpr uint64_t kMaxRunBytes = 64 << 10;  // see index.h: bounds a point read
inline constexpr size_t kMaxDirtyStates = 16384;     // stream states kept only in memory, at most
// While a group is in flight, the writer decides and encodes the next one once this many
// bytes of requests wait (rather than all of it after the fdatasync returns).
inline constexpr uint64_t kEagerTakeBytes = 256 << 10;
// A group of at least this many bytes is fdatasynced by the sync thread while the writer
// goes on with the next one; a smaller one is fdatasynced and committed by the writer
// itself (small groups come from few or small appends, whose appenders' next requests
// should join the next group rather than split into two alternating ones).
inline constexpr uint64_t kPipelineBytes = 256 << 10;

class StoreImpl final : public Store {
 public:
  explicit StoreImpl(const Options& options);
  ~StoreImpl() override;
  Status OpenImpl();

  void AppendAsync(std::string stream, int64_t expected_version, std::vector<EventData> events,
                   AppendCallback done) override;
  Result<AppendResult> Append(std::string_view stream, int64_t expected_version,
                              std::vector<EventData> events) override;
  Result<AppendResult> Delete(std::string_view stream, int64_t expected_version, bool hard) override;
  Result<StreamSlice> ReadStream(std::string_view stream, int64_t from, size_t max_count,
                                 Direction direction) override;
  Result<RecordedEvent> ReadEvent(std::string_view stream, int64_t number) override;
  Result<AllSlice> ReadAll(Position from, size_t max_count, Direction direction) override;
  Result<AllScanEnd> ScanAll(Position from, size_t max_count,
                             const std::function<void(const RecordedEventView&)>& each) override;
  Result<StreamInfo> GetStreamInfo(std::string_view stream) override;
  Result<StreamMetadata> GetMetadata(std::string_view stream) override;
  Result<std::vector<StreamInfo>> ListStreams(std::string_view search, size_t offset, size_t limit,
                                              bool include_system) override;
  Result<std::unique_ptr<Subscription>> SubscribeToAll(std::optional<Position> from) override;
  Result<std::unique_ptr<Subscription>> SubscribeToStream(std::string stream,
                                                          std::optional<int64_t> from) override;
  uint64_t AddCommitListener(std::function<void(Position head)> listener) override;
  void RemoveCommitListener(uint64_t id) override;
  Position HeadPosition() const override { return head_.load(std::memory_order_acquire); }
  Stats GetStats() const override;
  Status Close() override;

  // ---- used by subscriptions ----
  // Waits until the head moves past `seen`, the store closes, or `wait` passes.
  // Returns the head then.
  Position WaitForHead(Position seen, std::chrono::milliseconds wait, const std::atomic<bool>& cancel);
  void WakeWaiters();
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  // ReadAllForward under the close lock (kStopped once closed).
  Status ReadAllForSubscription(Position from, Position limit, size_t max,
                                std::vector<RecordedEvent>* out, Position* next);
  // Records of $all in [from, limit) (forward), at most max.
  Status ReadAllForward(Position from, Position limit, size_t max, std::vector<RecordedEvent>* out,
                        Position* next);
  // The same, each record passed to `each` (a view, valid during the call).
  Status ScanAllForward(Position from, Position limit, size_t max,
                        const std::function<void(const struct RecordView&)>& each, Position* next);
  // Events of a stream from number `from` on with metadata applied but ignoring soft delete
  // and tombstone (for subscriptions). *next: the number to continue from. *deleted: the
  // stream is tombstoned and every event was returned.
  Status ReadStreamForSubscription(std::string_view stream, int64_t from, size_t max,
                                   std::vector<RecordedEvent>* out, int64_t* next, bool* deleted,
                                   bool* caught_up);

 private:
  enum class Kind { kAppend, kSoftDelete, kHardDelete };
  struct Request {
    Kind kind = Kind::kAppend;
    std::string stream;
    int64_t expected = kExpectedAny;
    std::vector<EventData> events;
    AppendCallback done;
    uint64_t bytes = 0;  // encoded size of the events
  };
  // What the writer decided for one request.
  struct Decision {
    enum { kFail, kDuplicate, kWrite } what = kFail;
    Status status;              // kFail
    AppendResult result;        // kDuplicate
    bool recreate = false;      // kWrite: the stream is soft-deleted; write a new $tb first
    const StreamState* state = nullptr;
  };
  // One record to encode, pointing into the request.
  struct Planned {
    std::string_view stream;
    int64_t number;
    Uuid id;
    std::string_view type;
    std::string_view data;
    std::string_view metadata;
    bool is_json;
  };

  // A group commit: the requests the writer took, in order, with their answers; the
  // records of those it writes, encoded in `buf` (log position `start` on), and their index
  // changes. Answered only once every earlier group is durable and indexed.
  struct Group {
    std::vector<Request> requests;
    std::vector<Result<AppendResult>> results;  // one per request
    std::unique_ptr<IndexUpdate> update;
    std::string buf;
    std::deque<std::string> owned;  // bytes of engine-written records (stable addresses)
    Position start = 0;
    uint64_t bytes = 0;             // requests' encoded size (bounds the group)
    uint64_t events = 0;
    size_t written_requests = 0;
    bool sealed = false;            // takes no more requests (the rest waits in the carry)
  };

  Status Validate(std::string_view stream, const std::vector<EventData>& events, uint64_t* bytes) const;
  void Enqueue(Request req);
  void WriterLoop();
  void SyncLoop();
  // Decides and encodes `taken` into the open group (the ones that do not fit go to carry).
  void Take(std::vector<Request>& taken, std::deque<Request>* carry);
  // Writes the open group and hands its fdatasync to the sync thread (it becomes the group
  // in flight), or, below kPipelineBytes, fdatasyncs and commits it; a group without bytes
  // is answered at once. Requires no group in flight.
  void Launch(Group& g);
  Status SyncLog();  // fdatasync of the log, counted in the stats
  // The group in flight is durable: index it, publish it, answer it.
  void Commit(Group& g);
  void Answer(Group& g);
  // Replaces the answers of `g` (only the successful ones when only_ok) by kStopped.
  void StopAnswers(Group& g, const std::string& why, bool only_ok);
  void NewOpenGroup();
  Result<Decision> Decide(const Request& req);
  Result<std::optional<int64_t>> FindId(uint64_t sid, const Uuid& id);
  Result<bool> EventAtIs(uint64_t sid, int64_t number, const Uuid& id);
  Result<AppendResult> DuplicateResult(const StreamState& st, std::string_view stream, int64_t first,
                                       int64_t last);
  void Fail(const Status& why);
  Status Reindex(Position from, Position to);
  // Moves the update's new states into dirty_ and the cache (pinned).
  void AbsorbNewStates(IndexUpdate& update);
  // Persists the dirty states with a states checkpoint at `position`.
  Status FlushStates(Position position, bool force);
  size_t DirtyCount() const;

  Result<StatePtr> LookupState(std::string_view name);         // any thread
  Result<StatePtr> WriterLookup(std::string_view name);        // writer: fills the cache
  // Reads events [from...] of stream `st` in a direction, at most max, within [lo, hi],
  // skipping events older than min_created_us.
  Status ReadRange(const StreamState& st, std::string_view stream, int64_t from, int64_t lo,
                   int64_t hi, size_t max, bool forward, int64_t min_created_us,
                   std::vector<RecordedEvent>* out, int64_t* next);
  Result<AllSlice> ReadAllBackward(Position from, size_t max);
  Result<StatePtr> ReadableState(std::string_view stream);  // checks deleted / not found

  Options options_;
  FileSystem* fs_;
  std::string store_id_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Index> index_;
  StateCache cache_;

  std::shared_mutex close_mu_;
  std::atomic<bool> closed_{false};

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Request> queue_;   // GUARDED_BY(queue_mu_)
  bool stopping_ = false;       // GUARDED_BY(queue_mu_)
  std::string failure_;         // GUARDED_BY(queue_mu_): why the writer stopped
  std::thread writer_;

  // Sync handover (GUARDED_BY(queue_mu_)): the writer sets sync_wanted_ after writing a
  // group; the sync thread answers with sync_status_ and sync_finished_.
  std::condition_variable sync_cv_;
  bool sync_wanted_ = false;
  bool syncing_ = false;        // a group is in flight and its fdatasync has not returned
  bool sync_finished_ = false;
  bool sync_stop_ = false;
  Status sync_status_;
  uint64_t queued_bytes_ = 0;   // of queue_
  std::thread syncer_;

  // Writer-thread state. Two groups: the open one (taking requests) and the one in flight
  // (written, being fdatasynced). The open group decides against the states and event ids
  // of the one in flight (flight_update_) as well as the committed ones.
  Group groups_[2];
  Group* open_ = &groups_[0];
  Group* flight_ = nullptr;
  IndexUpdate* update_ = nullptr;         // open_->update
  IndexUpdate* flight_update_ = nullptr;  // flight_->update, or null
  uint64_t next_stream_id_ = 1;
  std::vector<Planned> planned_;
  std::chrono::steady_clock::time_point last_chk_sync_;
  std::chrono::steady_clock::time_point last_state_flush_;
  Position last_index_flush_ = 0;  // log position at the last index memtable flush
  struct Dirty {
    StatePtr persisted;  // what the index holds (null: nothing)
    StatePtr current;
  };
  mutable std::mutex dirty_mu_;  // writes: writer thread only; reads: ListStreams
  std::unordered_map<std::string, Dirty> dirty_;  // GUARDED_BY(dirty_mu_): newer than the index
  bool writer_failed_ = false;

  std::atomic<Position> head_{0};
  std::mutex head_mu_;
  std::condition_variable head_cv_;
  uint64_t head_seq_ = 0;  // GUARDED_BY(head_mu_)

  std::mutex listeners_mu_;
  std::vector<std::pair<uint64_t, std::function<void(Position)>>> listeners_;  // GUARDED_BY
  uint64_t next_listener_id_ = 1;

  // Stats.
  std::atomic<uint64_t> appends_{0}, events_written_{0}, bytes_written_{0}, fsyncs_{0},
      fsync_total_us_{0}, reads_{0}, streams_{0};
  std::vector<std::atomic<uint64_t>> fsync_buckets_;
};

}  // namespace dt::store

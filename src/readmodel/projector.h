// Projector: follows `$all` from the read model's checkpoint and applies the domain events
// in batches (rows + checkpoint in one transaction, see ReadModelStore::Apply).
//
// Exactly one projector writes to a read model: the one whose instance holds the projector
// lock (ReadModelStore::TryAcquireProjectorLock). The others stay on standby and retry the
// lock every second, so one takes over when the active one dies.
//
// Read-your-writes: WaitApplied(stream, n) returns once event n of `stream` is in the read
// model (or the timeout passes). The active projector notifies waiters as it commits; a
// standby instance polls the read model's applied version of the stream instead (the remote
// event store client learns no `$all` position from an append, so waiting is by stream and
// event number for both clients).
//
// Events that cannot be applied as they are never stop it (see BatchBuilder): text the stores
// cannot hold is repaired (logged as a warning), unreadable domain events are skipped
// (logged as an error); both are counted in GetStatus(), the live projector's since this
// process started and each rebuild's in its progress.
//
// Rebuild: fresh tables are filled from the start of `$all` by a reader thread (reading and
// decoding) and the calling thread (writing), while the live tables keep serving reads and
// taking live batches; then the live projector pauses, the rebuild catches up to the end,
// and the tables are swapped atomically; the live projector continues from the rebuilt
// checkpoint.
//
// Thread-safety: all public methods from any thread. Lifetime: the client and the store
// must outlive the Projector; the destructor stops its thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/event_store_client.h"
#include "readmodel/projection.h"
#include "readmodel/read_model_store.h"

namespace dt::readmodel {

struct ProjectorOptions {
  size_t page_size = 1000;                      // events per `$all` read
  std::chrono::milliseconds long_poll{250};     // wait for new events when caught up
  std::chrono::milliseconds lock_retry{1000};   // standby: how often to try for the lock
  size_t rebuild_batch_events = 5000;           // events per rebuild transaction
  // Caps the rows a rebuild folds in memory across batches (ReadModelStore::BulkFoldRows;
  // 0: the store's figure). Tests set it small to fold in many chunks.
  size_t rebuild_fold_rows = 0;
};

struct RebuildProgress {
  int64_t events = 0;           // domain events written so far
  double events_per_second = 0;
  double fraction = 0;          // of the log read (by position), 0..1
  double eta_seconds = -1;      // -1: unknown
  bool done = false;
  int64_t events_skipped = 0;   // unreadable domain events left out (see BatchBuilder)
  int64_t events_repaired = 0;  // events whose text was repaired
  // Where the time went (seconds of wall clock; the first three overlap each other, being
  // on two threads): reading `$all` and turning its events into rows (one pass: each event
  // goes into the rows as it is read), taking the batches (and sorting a fold's rows),
  // writing the bulk batches, then FinishBulk (fold, indexes), the catch-up with the live
  // projector paused, the swap.
  struct Phases {
    double read = 0, decode = 0, write = 0, finish_bulk = 0, catch_up = 0, swap = 0;
    // CPU seconds of the two threads (load-independent): the reader thread (reading and
    // decoding) and the writing thread (bulk writes, FinishBulk, catch-up and swap).
    double reader_cpu = 0, writer_cpu = 0;
  } phases;
};

struct ProjectorStatus {
  bool active = false;      // holds the projector lock
  bool rebuilding = false;
  std::string position;     // checkpoint in `$all`
  int64_t events_applied = 0;
  int64_t generation = 0;
  std::string last_error;
  int64_t events_skipped = 0;   // by the live projector since this process started
  int64_t events_repaired = 0;  // the same, events whose text was repaired
  std::string last_skipped;     // "stream@number type: reason" of the newest skipped event
  RebuildProgress rebuild;  // of the running or last rebuild
};

class Projector {
 public:
  using Clock = std::chrono::steady_clock;

  Projector(client::EventStoreClient& events, ReadModelStore& store, ProjectorOptions options = {});
  ~Projector();

  // Starts the live projector thread (standby until it holds the lock).
  void Start();
  void Stop();

  // Applies everything up to the current end of `$all` on the calling thread (takes the
  // projector lock if free; kConflict if another instance holds it). For tools and tests.
  Status CatchUp();

  // `maybe_old`: the event may have been applied before this process started (a replayed
  // idempotent request), so the read model is asked first.
  bool WaitApplied(const std::string& stream, int64_t number, std::chrono::milliseconds timeout,
                   bool maybe_old = false);

  // The same without a waiting thread: `done(true)` once event `number` of `stream` is in the
  // read model, `done(false)` once `timeout` has passed without it (checked at least every
  // long_poll) or the projector stops. It is called at once on the calling thread when the
  // event is already there; otherwise on the projector's thread right after the batch that
  // has it commits (so one commit releases every writer it holds), and must be quick. A
  // standby instance polls the read model on the calling thread, as WaitApplied does.
  // With `may_block` false (a caller on a thread that must not wait, such as the event
  // store's writer) a standby instance does not poll on the calling thread either: the
  // projector's thread asks the read model for it (about once a lock retry, so slower).
  using AppliedCallback = std::function<void(bool applied)>;
  void WhenApplied(const std::string& stream, int64_t number, std::chrono::milliseconds timeout,
                   bool maybe_old, AppliedCallback done, bool may_block = true);

  // Holds the projector lock and runs: WhenApplied answers from the projector's commits.
  bool Active() const { return active_ && !stop_; }
  // How often this instance got the projector lock: a change means another instance may
  // have applied events meanwhile (what was learned from this one's commits is stale).
  uint64_t Activations() const { return activations_.load(std::memory_order_acquire); }

  // Blocking rebuild (see above). kConflict when one is already running or another
  // instance holds the projector lock. `progress` is called about twice a second.
  Status Rebuild(const std::function<void(const RebuildProgress&)>& progress = {});
  // Starts Rebuild() on its own thread; kConflict if one is running.
  Status StartRebuild();

  ProjectorStatus GetStatus();

  // Called on the projector thread after each live batch is committed (so its changes are
  // visible to reads), with the events it applied. For real-time pushes; must be quick.
  using AppliedListener = std::function<void(const std::vector<EventRow>& events)>;
  void SetAppliedListener(AppliedListener listener);

 private:
  void Run();
  Status EnsureActive();
  Status LoadLiveState();
  // Reads one page after pos_ and applies it (caller holds apply_mu_ for the apply).
  Result<bool> Step(std::chrono::milliseconds long_poll);  // true: caught up
  void Publish(const Batch& batch);
  // Answers the WhenApplied waiters whose time is up; `standby`: also those whose event the
  // read model has (another instance applies them), asking it per stream.
  void ExpireWaiters(bool standby);
  void SetError(const std::string& e);
  // Logs what a builder repaired or skipped; counts it for the live projector or `rebuild`.
  void Report(const BatchBuilder::Problems& p, RebuildProgress* rebuild);

  client::EventStoreClient& events_;
  ReadModelStore& store_;
  const ProjectorOptions options_;

  std::mutex apply_mu_;  // held while applying a live batch; a rebuild's swap takes it
  client::AllPosition pos_;     // GUARDED_BY(apply_mu_)
  ProjectionState live_state_;  // GUARDED_BY(apply_mu_)
  bool state_loaded_ = false;   // GUARDED_BY(apply_mu_)

  std::atomic<bool> active_{false};
  std::atomic<uint64_t> activations_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> rebuilding_{false};
  std::thread thread_;
  std::thread rebuild_thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;

  std::mutex wait_mu_;
  std::condition_variable applied_cv_;
  std::unordered_map<std::string, int64_t> applied_;  // GUARDED_BY(wait_mu_): recent streams
  struct Waiter {
    int64_t number;
    Clock::time_point deadline;
    AppliedCallback done;
  };
  std::unordered_map<std::string, std::vector<Waiter>> waiters_;  // GUARDED_BY(wait_mu_)
  size_t waiter_count_ = 0;                                       // GUARDED_BY(wait_mu_)

  std::mutex listener_mu_;
  AppliedListener listener_;  // GUARDED_BY(listener_mu_)

  std::mutex status_mu_;
  std::string last_error_;   // GUARDED_BY(status_mu_)
  RebuildProgress rebuild_;  // GUARDED_BY(status_mu_)
  int64_t events_skipped_ = 0;   // GUARDED_BY(status_mu_)
  int64_t events_repaired_ = 0;  // GUARDED_BY(status_mu_)
  std::string last_skipped_;     // GUARDED_BY(status_mu_)
};

}  // namespace dt::readmodel

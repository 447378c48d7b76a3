#include "readmodel/projector.h"

#include <time.h>

#include <deque>
#include <optional>

#include <spdlog/spdlog.h>

#include "readmodel/projection.h"

namespace dt::readmodel {


namespace {
constexpr size_t kMaxTrackedStreams = 100000;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
}  // namespace

Projector::Projector(client::EventStoreClient& events, ReadModelStore& store,
                     ProjectorOptions options)
    : events_(events), store_(store), options_(options) {}

Projector::~Projector() {
  Stop();
  if (rebuild_thread_.joinable()) rebuild_thread_.join();
}

void Projector::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Projector::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (active_.exchange(false)) store_.ReleaseProjectorLock();
  ExpireWaiters(true);  // stop_ is set: each is answered now (applied or not)
}

void Projector::SetError(const std::string& e) {
  std::lock_guard lock(status_mu_);
  last_error_ = e;
}

void Projector::Report(const BatchBuilder::Problems& p, RebuildProgress* rebuild) {
  if (p.empty()) return;
  const char* where = rebuild ? "rebuild" : "live";
  for (const auto& what : p.skipped_what) {
    spdlog::error("msg=\"projector skipped an unreadable event\" projection={} event=\"{}\"",
                  where, what);
  }
  if (p.skipped > static_cast<int64_t>(p.skipped_what.size())) {
    spdlog::error("msg=\"projector skipped more unreadable events\" projection={} count={}", where,
                  p.skipped - static_cast<int64_t>(p.skipped_what.size()));
  }
  for (const auto& what : p.repaired_what) {
    spdlog::warn(
        "msg=\"projector replaced U+0000 or bytes that are not UTF-8 with U+FFFD\" "
        "projection={} event=\"{}\"",
        where, what);
  }
  if (p.repaired > static_cast<int64_t>(p.repaired_what.size())) {
    spdlog::warn("msg=\"projector repaired the text of more events\" projection={} count={}",
                 where, p.repaired - static_cast<int64_t>(p.repaired_what.size()));
  }
  if (rebuild) {
    rebuild->events_skipped += p.skipped;
    rebuild->events_repaired += p.repaired;
    return;
  }
  std::lock_guard lock(status_mu_);
  events_skipped_ += p.skipped;
  events_repaired_ += p.repaired;
  if (!p.skipped_what.empty()) last_skipped_ = p.skipped_what.back();
}

Status Projector::LoadLiveState() {
  DT_ASSIGN_OR_RETURN(live_state_, store_.LoadState(Target::kLive));
  if (live_state_.position.empty()) {
    pos_ = client::AllPosition::Start();
  } else {
    auto p = client::AllPosition::Parse(live_state_.position);
    if (!p) return Status::Corruption("bad checkpoint in the read model: " + live_state_.position);
    pos_ = *p;
  }
  state_loaded_ = true;
  return Status::Ok();
}

Status Projector::EnsureActive() {
  if (active_) return Status::Ok();
  DT_ASSIGN_OR_RETURN(bool got, store_.TryAcquireProjectorLock());
  if (!got) return Status::Conflict("another instance runs the projector");
  activations_.fetch_add(1, std::memory_order_acq_rel);
  active_ = true;
  std::lock_guard lock(apply_mu_);
  state_loaded_ = false;
  return Status::Ok();
}

void Projector::SetAppliedListener(AppliedListener listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

void Projector::Publish(const Batch& batch) {
  if (!batch.events.empty()) {
    std::lock_guard lock(listener_mu_);
    if (listener_) listener_(batch.events);
  }
  std::vector<AppliedCallback> ready;
  {
    std::lock_guard lock(wait_mu_);
    if (applied_.size() > kMaxTrackedStreams) applied_.clear();
    for (const auto& e : batch.events) {
      auto [it, inserted] = applied_.try_emplace(e.stream, e.version);
      if (!inserted) it->second = std::max(it->second, e.version);
      if (waiter_count_ == 0) continue;
      auto w = waiters_.find(e.stream);
      if (w == waiters_.end()) continue;
      auto& list = w->second;
      for (size_t i = 0; i < list.size();) {
        if (list[i].number <= it->second) {
          ready.push_back(std::move(list[i].done));
          list[i] = std::move(list.back());
          list.pop_back();
          --waiter_count_;
        } else {
          ++i;
        }
      }
      if (list.empty()) waiters_.erase(w);
    }
  }
  applied_cv_.notify_all();  // blocking WaitApplied callers (no system call when there are none)
  for (auto& done : ready) done(true);
}

void Projector::ExpireWaiters(bool standby) {
  std::unordered_map<std::string, std::vector<Waiter>> taken;
  {
    std::lock_guard lock(wait_mu_);
    if (waiter_count_ == 0) return;
    if (!standby) {
      // Only the ones whose time is up; the others stay where Publish finds them.
      auto now = Clock::now();
      for (auto& [stream, list] : waiters_) {
        for (size_t i = 0; i < list.size();) {
          if (list[i].deadline <= now) {
            taken[stream].push_back(std::move(list[i]));
            list[i] = std::move(list.back());
            list.pop_back();
            --waiter_count_;
          } else {
            ++i;
          }
        }
      }
      std::erase_if(waiters_, [](const auto& w) { return w.second.empty(); });
    } else {
      taken.swap(waiters_);
      waiter_count_ = 0;
    }
  }
  if (taken.empty()) return;
  // Not the active projector (any more): another instance may apply these events, so the
  // read model is asked, as WaitApplied's standby polling does.
  auto now = Clock::now();
  std::vector<std::pair<AppliedCallback, bool>> answers;
  std::unordered_map<std::string, std::vector<Waiter>> keep;
  for (auto& [stream, list] : taken) {
    int64_t version = -1;
    if (standby) {
      auto v = store_.AppliedVersion(stream);
      if (v.ok()) version = *v;
    }
    for (auto& w : list) {
      if (version >= w.number) {
        answers.emplace_back(std::move(w.done), true);
      } else if (w.deadline <= now || stop_) {
        answers.emplace_back(std::move(w.done), false);
      } else {
        keep[stream].push_back(std::move(w));
      }
    }
  }
  if (!keep.empty()) {
    std::lock_guard lock(wait_mu_);
    for (auto& [stream, list] : keep) {
      auto& into = waiters_[stream];
      for (auto& w : list) into.push_back(std::move(w));
      waiter_count_ += list.size();
    }
  }
  for (auto& [done, applied] : answers) done(applied);
}

void Projector::WhenApplied(const std::string& stream, int64_t number,
                            std::chrono::milliseconds timeout, bool maybe_old,
                            AppliedCallback done, bool may_block) {
  if (active_ && !stop_) {
    auto seen = [&] {
      auto it = applied_.find(stream);
      return it != applied_.end() && it->second >= number;
    };
    {
      std::lock_guard lock(wait_mu_);
      if (seen()) {
        done(true);
        return;
      }
    }
    if (maybe_old) {
      // Applied before this process started? Anything applied after this check is published
      // to applied_ before waiters are looked at, so registering below cannot miss it.
      auto v = store_.AppliedVersion(stream);
      if (v.ok() && *v >= number) {
        done(true);
        return;
      }
    }
    {
      std::lock_guard lock(wait_mu_);
      if (!seen()) {
        waiters_[stream].push_back(Waiter{number, Clock::now() + timeout, std::move(done)});
        ++waiter_count_;
        return;
      }
    }
    done(true);
    return;
  }
  if (!may_block && !stop_) {
    // Run() answers it: ExpireWaiters asks the read model on each standby round.
    std::lock_guard lock(wait_mu_);
    waiters_[stream].push_back(Waiter{number, Clock::now() + timeout, std::move(done)});
    ++waiter_count_;
    return;
  }
  done(WaitApplied(stream, number, may_block ? timeout : std::chrono::milliseconds(0),
                   maybe_old));
}

Result<bool> Projector::Step(std::chrono::milliseconds long_poll) {
  client::AllPosition from;
  {
    std::lock_guard lock(apply_mu_);
    if (!state_loaded_) DT_RETURN_IF_ERROR(LoadLiveState());
    from = pos_;
  }
  auto page = events_.ReadAllForward(from, options_.page_size, long_poll);
  if (!page.ok()) return page.status();
  std::lock_guard lock(apply_mu_);
  if (!state_loaded_ || pos_ != from) return false;  // a rebuild swapped the tables meanwhile
  if (page->next == pos_ && page->events.empty()) return true;
  BatchBuilder builder;
  int64_t seq = live_state_.events_applied;
  for (auto& e : page->events) builder.Add(std::move(e), seq);
  Batch batch = builder.Take();
  ProjectionState next = live_state_;
  next.position = page->next.ToString();
  next.events_applied = seq;
  DT_RETURN_IF_ERROR(store_.Apply(Target::kLive, batch, next));
  Report(builder.TakeProblems(), nullptr);
  live_state_ = next;
  pos_ = page->next;
  Publish(batch);
  return page->end_of_log;
}

void Projector::Run() {
  while (!stop_) {
    ExpireWaiters(/*standby=*/!active_);
    Status s = EnsureActive();
    if (!s.ok()) {
      if (!s.Is(Code::kConflict)) SetError(s.ToString());
      std::unique_lock lock(stop_mu_);
      stop_cv_.wait_for(lock, options_.lock_retry, [&] { return stop_.load(); });
      continue;
    }
    auto r = Step(options_.long_poll);
    if (!r.ok()) {
      SetError(r.status().ToString());
      if (r.status().Is(Code::kUnavailable) || r.status().Is(Code::kIOError)) {
        // The database may have lost our session (and with it the lock): start over.
        active_ = false;
        store_.ReleaseProjectorLock();
      }
      std::unique_lock lock(stop_mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_.load(); });
    }
  }
}

Status Projector::CatchUp() {
  DT_RETURN_IF_ERROR(EnsureActive());
  for (;;) {
    DT_ASSIGN_OR_RETURN(bool caught_up, Step(std::chrono::milliseconds(0)));
    if (caught_up) return Status::Ok();
  }
}

bool Projector::WaitApplied(const std::string& stream, int64_t number,
                            std::chrono::milliseconds timeout, bool maybe_old) {
  auto deadline = Clock::now() + timeout;
  auto seen = [&] {
    auto it = applied_.find(stream);
    return it != applied_.end() && it->second >= number;
  };
  if (active_) {
    {
      std::lock_guard lock(wait_mu_);
      if (seen()) return true;
    }
    if (maybe_old) {
      // Applied before this process started? Anything applied after this check is
      // published to applied_ before the notification, so the wait below cannot miss it.
      auto v = store_.AppliedVersion(stream);
      if (v.ok() && *v >= number) return true;
    }
    std::unique_lock lock(wait_mu_);
    if (applied_cv_.wait_until(lock, deadline, seen)) return true;
  }
  // Standby instance (or an evicted entry): poll the read model.
  auto delay = std::chrono::milliseconds(2);
  for (;;) {
    auto v = store_.AppliedVersion(stream);
    if (v.ok() && *v >= number) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

ProjectorStatus Projector::GetStatus() {
  ProjectorStatus s;
  s.active = active_;
  s.rebuilding = rebuilding_;
  {
    std::lock_guard lock(apply_mu_);
    if (state_loaded_) {
      s.position = live_state_.position;
      s.events_applied = live_state_.events_applied;
      s.generation = live_state_.generation;
    }
  }
  if (!state_loaded_) {
    auto st = store_.LoadState(Target::kLive);
    if (st.ok()) {
      s.position = st->position;
      s.events_applied = st->events_applied;
      s.generation = st->generation;
    }
  }
  std::lock_guard lock(status_mu_);
  s.last_error = last_error_;
  s.events_skipped = events_skipped_;
  s.events_repaired = events_repaired_;
  s.last_skipped = last_skipped_;
  s.rebuild = rebuild_;
  return s;
}

Status Projector::StartRebuild() {
  if (rebuilding_) return Status::Conflict("a rebuild is already running");
  if (!active_) {
    auto got = store_.TryAcquireProjectorLock();
    if (!got.ok()) return got.status();
    if (!*got) return Status::Conflict("another instance runs the projector; rebuild there");
    active_ = true;
  }
  if (rebuild_thread_.joinable()) rebuild_thread_.join();
  rebuild_thread_ = std::thread([this] {
    Status s = Rebuild();
    if (!s.ok()) SetError("rebuild: " + s.ToString());
  });
  return Status::Ok();
}

Status Projector::Rebuild(const std::function<void(const RebuildProgress&)>& progress) {
  if (rebuilding_.exchange(true)) return Status::Conflict("a rebuild is already running");
  struct Reset {
    std::atomic<bool>& f;
    ~Reset() { f = false; }
  } reset{rebuilding_};
  DT_RETURN_IF_ERROR(EnsureActive());
  DT_RETURN_IF_ERROR(store_.BeginRebuild());
  DT_ASSIGN_OR_RETURN(ProjectionState state, store_.LoadState(Target::kRebuild));
  DT_ASSIGN_OR_RETURN(client::AllPosition head, events_.ReadHead());

  const auto start = Clock::now();
  auto last_report = start;
  RebuildProgress prog;
  auto report = [&](const client::AllPosition& at, bool force) {
    auto now = Clock::now();
    if (!force && now - last_report < std::chrono::milliseconds(500)) return;
    last_report = now;
    double secs = std::chrono::duration<double>(now - start).count();
    prog.events = state.events_applied;
    prog.events_per_second = secs > 0 ? static_cast<double>(prog.events) / secs : 0;
    prog.fraction = head.commit > 0 ? std::min(1.0, static_cast<double>(at.commit) /
                                                        static_cast<double>(head.commit))
                                    : 1.0;
    prog.eta_seconds = prog.fraction > 0.001 ? secs / prog.fraction - secs : -1;
    {
      std::lock_guard lock(status_mu_);
      rebuild_ = prog;
    }
    if (progress) progress(prog);
  };

  // Reader thread: reads pages and builds batches; this thread writes them.
  struct Item {
    Batch batch;
    BatchBuilder::Problems problems;
    client::AllPosition next;
    int64_t seq_after = 0;
    bool end = false;
  };
  std::mutex qmu;
  std::condition_variable qcv;
  std::deque<Item> queue;
  // Written batches go back to the reader thread, whose builder reuses their rows' strings
  // (Recycle): they were allocated there, freeing them on the writing thread cost it about a
  // tenth of its time (malloc arena lock and consolidation), and allocating and freeing them
  // anew for every event was about half of the reader's.
  std::vector<Batch> spent;
  std::optional<Status> reader_error;
  bool reader_done = false;
  std::atomic<bool> abort{false};
  // Batches read ahead. Deep enough (~0.3 s of a SQLite writer's work at 5,000 events per
  // batch) to keep the writer busy while the reader folds and sorts a bulk store's rows
  // (~0.1-0.2 s per fold): with 4, the SQLite writer waited ~0.1 s at every fold.
  const size_t kMaxQueued = 16;

  auto seconds_since = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  double read_secs = 0, decode_secs = 0, reader_cpu = 0;  // the reader's; read after it is joined
  const double writer_cpu0 = ThreadCpuSeconds();
  // Pages of at least 1,000 events, but not above a batch (so small batches stay small).
  const size_t read_page = std::min(std::max<size_t>(options_.page_size, 1000),
                                    std::max<size_t>(options_.rebuild_batch_events, 1));
  size_t fold_rows = store_.BulkFoldRows();
  if (fold_rows > 0 && options_.rebuild_fold_rows > 0) {
    fold_rows = std::min(fold_rows, options_.rebuild_fold_rows);
  }
  std::thread reader([&] {
    client::AllPosition pos = client::AllPosition::Start();
    int64_t seq = 0;
    BatchBuilder builder;
    auto add = [&](const client::ResolvedEventView& e) { builder.Add(e, seq); };
    for (;;) {
      if (abort) break;
      {
        std::vector<Batch> done;
        {
          std::lock_guard lock(qmu);
          done.swap(spent);
        }
        for (Batch& b : done) builder.Recycle(std::move(b));
      }
      auto t0 = Clock::now();
      // The page's events go into the builder as they are read (from the engine's read
      // buffer, in process), so this time holds both.
      client::AllPosition next;
      bool end = false;
      Status read = events_.ScanAllForward(pos, read_page, add, &next, &end);
      auto t1 = Clock::now();
      read_secs += std::chrono::duration<double>(t1 - t0).count();
      if (!read.ok()) {
        std::lock_guard lock(qmu);
        reader_error = read;
        break;
      }
      pos = next;
      // Folding: the rows stay in the builder (later events fold into them) until there are
      // fold_rows of them or the log ends; then they go, in key order, with that batch.
      bool rows_now = fold_rows > 0 && (end || builder.rows() >= fold_rows);
      if (builder.size() >= options_.rebuild_batch_events || end || rows_now) {
        Batch batch;
        if (fold_rows == 0) {
          batch = builder.Take();
        } else {
          batch = builder.TakeEvents();
          if (rows_now) {
            Batch rows = builder.TakeRows();
            batch.contacts = std::move(rows.contacts);
            batch.transactions = std::move(rows.transactions);
            batch.settings = std::move(rows.settings);
            batch.balances = std::move(rows.balances);
          }
        }
        decode_secs += seconds_since(t1);
        Item item{std::move(batch), builder.TakeProblems(), pos, seq, end};
        std::unique_lock lock(qmu);
        qcv.wait(lock, [&] { return queue.size() < kMaxQueued || abort; });
        queue.push_back(std::move(item));
        qcv.notify_all();
      } else {
        decode_secs += seconds_since(t1);
      }
      if (end) break;
    }
    reader_cpu = ThreadCpuSeconds();
    std::lock_guard lock(qmu);
    reader_done = true;
    qcv.notify_all();
  });

  client::AllPosition pos = client::AllPosition::Start();
  Status write_status;
  for (;;) {
    Item item;
    {
      std::unique_lock lock(qmu);
      qcv.wait(lock, [&] { return !queue.empty() || reader_done; });
      if (queue.empty()) break;
      item = std::move(queue.front());
      queue.pop_front();
      qcv.notify_all();
    }
    ProjectionState next = state;
    next.position = item.next.ToString();
    next.events_applied = item.seq_after;
    auto t0 = Clock::now();
    write_status = store_.ApplyBulk(item.batch, next);
    prog.phases.write += seconds_since(t0);
    {
      std::lock_guard lock(qmu);
      spent.push_back(std::move(item.batch));
    }
    if (!write_status.ok()) break;
    Report(item.problems, &prog);
    state = next;
    pos = item.next;
    report(pos, false);
    if (item.end) break;
  }
  abort = true;
  qcv.notify_all();
  reader.join();
  DT_RETURN_IF_ERROR(write_status);
  if (reader_error) return *reader_error;
  prog.phases.read = read_secs;
  prog.phases.decode = decode_secs;
  auto t_finish = Clock::now();
  DT_RETURN_IF_ERROR(store_.FinishBulk());
  prog.phases.finish_bulk = seconds_since(t_finish);

  // Pause the live projector, catch up to the very end, swap.
  {
    std::lock_guard lock(apply_mu_);
    auto t_catch_up = Clock::now();
    for (;;) {
      auto page = events_.ReadAllForward(pos, options_.page_size, std::chrono::milliseconds(0));
      if (!page.ok()) return page.status();
      if (page->events.empty() && page->next == pos) break;
      BatchBuilder builder;
      int64_t seq = state.events_applied;
      for (const auto& e : page->events) builder.Add(e, seq);
      Batch batch = builder.Take();
      ProjectionState next = state;
      next.position = page->next.ToString();
      next.events_applied = seq;
      DT_RETURN_IF_ERROR(store_.Apply(Target::kRebuild, batch, next));
      Report(builder.TakeProblems(), &prog);
      state = next;
      pos = page->next;
      Publish(batch);
      if (page->end_of_log) break;
    }
    auto t_swap = Clock::now();
    prog.phases.catch_up = std::chrono::duration<double>(t_swap - t_catch_up).count();
    DT_RETURN_IF_ERROR(store_.FinishRebuild());
    prog.phases.swap = seconds_since(t_swap);
    state_loaded_ = false;  // the live loop reloads the swapped-in checkpoint
  }
  prog.phases.reader_cpu = reader_cpu;
  prog.phases.writer_cpu = ThreadCpuSeconds() - writer_cpu0;
  prog.done = true;
  report(pos, true);
  return Status::Ok();
}

}  // namespace dt::readmodel

// The engine: opening, recovery, closing, the append API, listeners and stats.
// The group-commit writer is in writer.cc, reads in store_read.cc, subscriptions in
// subscription.cc.
#include "store/store_impl.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <future>

#include "store/metadata.h"
#include "store/record.h"

namespace dt::store {
namespace {

constexpr size_t kReindexBatchRecords = 20000;

}  // namespace

const std::vector<uint64_t>& Store::FsyncBucketBounds() {
  static const std::vector<uint64_t> bounds = {25,    50,    100,   200,    400,     800,
                                               1600,  3200,  6400,  12800,  25600,   51200,
                                               102400, 1000000, UINT64_MAX};
  return bounds;
}

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  auto store = std::make_unique<StoreImpl>(options);
  DT_RETURN_IF_ERROR(store->OpenImpl());
  return std::unique_ptr<Store>(std::move(store));
}

StoreImpl::StoreImpl(const Options& options)
    : options_(options),
      fs_(options.fs ? options.fs : FileSystem::Default()),
      cache_(options.stream_cache_entries),
      fsync_buckets_(FsyncBucketBounds().size()) {}

StoreImpl::~StoreImpl() { (void)Close(); }

Status StoreImpl::OpenImpl() {
  if (options_.folder.empty()) return Status::InvalidArgument("the data folder is not set");
  if (options_.segment_bytes < (1 << 16))
    return Status::InvalidArgument("segment_bytes must be at least 65536");
  const std::string& folder = options_.folder;
  if (!fs_->Exists(folder) && !options_.create_if_missing)
    return Status::InvalidArgument("the data folder " + folder + " does not exist");
  DT_RETURN_IF_ERROR(fs_->CreateDir(folder));
  DT_ASSIGN_OR_RETURN(lock_, fs_->Lock(folder + "/LOCK"));

  // store.meta: the format and the identity of this log (the index records it).
  const std::string meta_path = folder + "/store.meta";
  if (fs_->Exists(meta_path)) {
    DT_ASSIGN_OR_RETURN(std::string meta, ReadWholeFile(*fs_, meta_path));
    const std::string kFormat = "format 1\nstore ";
    if (meta.compare(0, kFormat.size(), kFormat) != 0 || meta.size() < kFormat.size() + 36)
      return Status::Corruption(meta_path + " is not a store of this version (format 1)");
    store_id_ = meta.substr(kFormat.size(), 36);
  } else {
    store_id_ = Uuid::Random().ToString();
    DT_RETURN_IF_ERROR(WriteFileAtomically(*fs_, folder, "store.meta",
                                           "format 1\nstore " + store_id_ + "\n"));
  }

  LogRecovery rec;
  DT_ASSIGN_OR_RETURN(log_, Log::Open(Log::Options{fs_, folder, options_.segment_bytes}, &rec));
  if (!rec.cut_reason.empty() || rec.removed_segments > 0)
    spdlog::warn("event store {}: cut a torn log tail of {} bytes at position {} ({}); removed {} "
                 "segment(s) past it",
                 folder, rec.cut_bytes, rec.end, rec.cut_reason, rec.removed_segments);

  const std::string index_path = folder + "/index";
  DT_ASSIGN_OR_RETURN(index_, Index::Open(index_path));
  DT_ASSIGN_OR_RETURN(IndexCheckpoints cp, index_->ReadCheckpoints());
  const char* mismatch = nullptr;
  if (cp.states_present && cp.format != Index::Format()) mismatch = "it has another layout";
  else if (cp.states_present && cp.store_id != store_id_) mismatch = "it belongs to another log";
  else if (cp.furthest() > rec.end) mismatch = "it is ahead of the log";
  if (mismatch) {
    spdlog::warn("event store {}: the index does not match the log ({}); rebuilding it", folder, mismatch);
    index_.reset();
    DT_RETURN_IF_ERROR(Index::Destroy(index_path));
    DT_ASSIGN_OR_RETURN(index_, Index::Open(index_path));
    cp = IndexCheckpoints{};
  }
  // Without a states checkpoint, nothing of the index can be trusted to be complete.
  const Position replay_from = cp.states_present ? cp.replay_from() : 0;
  next_stream_id_ = cp.states_present ? cp.next_stream_id : 1;
  streams_.store(next_stream_id_ - 1);
  for (Group& g : groups_)
    g.update = std::make_unique<IndexUpdate>(*index_,
        [this](std::string_view name) { return WriterLookup(name); }, kMaxRunBytes);
  update_ = open_->update.get();
  if (replay_from < rec.end) {
    spdlog::info("event store {}: the index covers the log up to {} (states {}, runs {}, ids {}); "
                 "indexing the {} bytes after it",
                 folder, replay_from, cp.states_present ? std::to_string(cp.states) : "none", cp.runs,
                 cp.ids, rec.end - replay_from);
    DT_RETURN_IF_ERROR(Reindex(replay_from, rec.end));
  }
  DT_RETURN_IF_ERROR(FlushStates(rec.end, /*force=*/true));

  head_.store(rec.end, std::memory_order_release);
  last_index_flush_ = rec.end;
  DT_RETURN_IF_ERROR(log_->SaveCheckpoint(rec.end, true));
  last_chk_sync_ = std::chrono::steady_clock::now();
  update_->Reset(next_stream_id_);
  // Named so that per-thread CPU (/proc/<pid>/task/*/stat, perf, top -H) shows the engine's.
  if (options_.sync)
    syncer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "dt-store-sync");
      SyncLoop();
    });
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "dt-store-writer");
    WriterLoop();
  });
  return Status::Ok();
}

Status StoreImpl::Reindex(Position from, Position to) {
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  LogReader reader(*log_, from, to, 4 << 20);
  update_->Reset(next_stream_id_);
  RecordView v;
  for (;;) {
    DT_ASSIGN_OR_RETURN(bool more, reader.NextChecked(&v));
    if (more) DT_RETURN_IF_ERROR(update_->Add(v));
    // Batches end at commit records, so the reader's position is a batch boundary then.
    if (!more || (update_->records() >= kReindexBatchRecords && v.commit())) {
      DT_RETURN_IF_ERROR(index_->Write(update_->Finish(reader.position())));
      AbsorbNewStates(*update_);
      if (DirtyCount() >= kMaxDirtyStates) DT_RETURN_IF_ERROR(FlushStates(reader.position(), false));
      update_->Reset(next_stream_id_);
      auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::seconds(2)) {
        spdlog::info("event store {}: indexed {} of {} bytes", options_.folder, reader.position() - from,
                     to - from);
        last_report = now;
      }
    }
    if (!more) break;
  }
  return Status::Ok();
}

void StoreImpl::AbsorbNewStates(IndexUpdate& update) {
  next_stream_id_ = update.next_stream_id();
  streams_.store(next_stream_id_ - 1, std::memory_order_relaxed);
  std::lock_guard lock(dirty_mu_);
  update.ForEachNewState([this](const std::string& name, const StatePtr& committed,
                                  const std::shared_ptr<StreamState>& state) {
    auto [it, fresh] = dirty_.try_emplace(name);
    if (fresh) it->second.persisted = committed;  // not dirty before: the index holds it
    it->second.current = state;
    cache_.Put(name, state, /*pinned=*/true);
  });
}

size_t StoreImpl::DirtyCount() const {
  std::lock_guard lock(dirty_mu_);
  return dirty_.size();
}

Status StoreImpl::FlushStates(Position position, bool force) {
  std::lock_guard lock(dirty_mu_);
  if (dirty_.empty() && !force) return Status::Ok();
  rocksdb::WriteBatch batch;
  std::vector<Index::StateChange> changes;
  changes.reserve(dirty_.size());
  for (auto& [name, d] : dirty_) changes.push_back(Index::StateChange{&name, d.persisted.get(), d.current.get()});
  Index::AddStates(&batch, std::move(changes));
  Index::AddStatesCheckpoint(&batch, position, next_stream_id_, store_id_);
  DT_RETURN_IF_ERROR(index_->Write(&batch));
  for (auto& [name, d] : dirty_) cache_.Unpin(name);
  dirty_.clear();
  last_state_flush_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status StoreImpl::Close() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) {
    {
      std::lock_guard lock(queue_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_all();
    syncer_.join();
  }
  std::unique_lock lock(close_mu_);
  if (closed_.exchange(true)) return Status::Ok();
  WakeWaiters();
  Status result;
  if (log_ && !writer_failed_) {
    Status s = log_->SaveCheckpoint(head_.load(), true);
    if (!s.ok()) result = s;
    if (index_) {
      s = FlushStates(head_.load(), true);
      if (!s.ok() && result.ok()) result = s;
    }
  }
  if (index_) {
    Status s = index_->Flush();
    if (!s.ok() && result.ok()) result = s;
  }
  index_.reset();
  log_.reset();
  lock_.reset();
  return result;
}

// ---------------------------------------------------------------- append path

Status StoreImpl::Validate(std::string_view stream, const std::vector<EventData>& events,
                           uint64_t* bytes) const {
  if (stream.empty()) return Status::InvalidArgument("the stream name is empty");
  if (stream.size() > format::kMaxStreamNameBytes - 2)
    return Status::InvalidArgument("the stream name is longer than 65533 bytes");
  if (stream == "$all") return Status::InvalidArgument("cannot append to $all");
  if (events.empty()) return Status::InvalidArgument("no events to append");
  uint64_t total = 0;
  for (const EventData& e : events) {
    if (e.id.IsNil()) return Status::InvalidArgument("an event id is nil");
    if (e.type.empty()) return Status::InvalidArgument("an event type is empty");
    if (e.type.size() > format::kMaxTypeBytes)
      return Status::InvalidArgument("an event type is longer than 65535 bytes");
    const uint64_t event_bytes = e.data.size() + e.metadata.size() + e.type.size() + stream.size();
    if (event_bytes > options_.max_event_bytes)
      return Status::TooLarge("event " + e.id.ToString() + " is " + std::to_string(event_bytes) +
                              " bytes; the limit is " + std::to_string(options_.max_event_bytes));
    total += EncodedSize(stream.size(), e.type.size(), e.data.size(), e.metadata.size());
  }
  if (total > options_.max_append_bytes)
    return Status::TooLarge("the append is " + std::to_string(total) + " bytes; the limit is " +
                            std::to_string(options_.max_append_bytes));
  *bytes = total;
  return Status::Ok();
}

void StoreImpl::Enqueue(Request req) {
  {
    std::unique_lock lock(queue_mu_);
    if (!stopping_ && failure_.empty()) {
      queued_bytes_ += req.bytes;
      queue_.push_back(std::move(req));
      // While a group's fdatasync runs, the writer takes requests early only in large
      // amounts (see WriterLoop): do not wake it for each one.
      const bool wake = !syncing_ || queued_bytes_ >= kEagerTakeBytes;
      lock.unlock();
      if (wake) queue_cv_.notify_one();
      return;
    }
  }
  std::string why;
  {
    std::lock_guard lock(queue_mu_);
    why = failure_.empty() ? "the store is closed" : failure_;
  }
  req.done(Status::Stopped(why));
}

void StoreImpl::AppendAsync(std::string stream, int64_t expected_version,
                            std::vector<EventData> events, AppendCallback done) {
  if (expected_version < 0 && expected_version != kExpectedAny &&
      expected_version != kExpectedNoStream && expected_version != kExpectedStreamExists) {
    done(Status::InvalidArgument("expected version " + std::to_string(expected_version) +
                                 " is not valid"));
    return;
  }
  Request req;
  Status s = Validate(stream, events, &req.bytes);
  if (!s.ok()) {
    done(s);
    return;
  }
  req.kind = Kind::kAppend;
  req.stream = std::move(stream);
  req.expected = expected_version;
  req.events = std::move(events);
  req.done = std::move(done);
  Enqueue(std::move(req));
}

Result<AppendResult> StoreImpl::Append(std::string_view stream, int64_t expected_version,
                                       std::vector<EventData> events) {
  std::promise<Result<AppendResult>> p;
  auto f = p.get_future();
  AppendAsync(std::string(stream), expected_version, std::move(events),
              [&p](Result<AppendResult> r) { p.set_value(std::move(r)); });
  return f.get();
}

Result<AppendResult> StoreImpl::Delete(std::string_view stream, int64_t expected_version, bool hard) {
  if (stream.empty() || stream == "$all" || stream.size() > format::kMaxStreamNameBytes - 2)
    return Status::InvalidArgument("cannot delete stream " + Quote(stream));
  if (expected_version < 0 && expected_version != kExpectedAny &&
      expected_version != kExpectedNoStream && expected_version != kExpectedStreamExists)
    return Status::InvalidArgument("expected version " + std::to_string(expected_version) +
                                   " is not valid");
  std::promise<Result<AppendResult>> p;
  auto f = p.get_future();
  Request req;
  req.kind = hard ? Kind::kHardDelete : Kind::kSoftDelete;
  req.stream = std::string(stream);
  req.expected = expected_version;
  req.done = [&p](Result<AppendResult> r) { p.set_value(std::move(r)); };
  Enqueue(std::move(req));
  return f.get();
}

void StoreImpl::WakeWaiters() {
  {
    std::lock_guard lock(head_mu_);
    ++head_seq_;
  }
  head_cv_.notify_all();
}

Position StoreImpl::WaitForHead(Position seen, std::chrono::milliseconds wait,
                                const std::atomic<bool>& cancel) {
  std::unique_lock lock(head_mu_);
  head_cv_.wait_for(lock, wait, [&] {
    return head_.load(std::memory_order_acquire) != seen || closed() ||
           cancel.load(std::memory_order_acquire);
  });
  return head_.load(std::memory_order_acquire);
}

uint64_t StoreImpl::AddCommitListener(std::function<void(Position head)> listener) {
  std::lock_guard lock(listeners_mu_);
  const uint64_t id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void StoreImpl::RemoveCommitListener(uint64_t id) {
  std::lock_guard lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

Stats StoreImpl::GetStats() const {
  Stats s;
  s.appends = appends_.load();
  s.events_written = events_written_.load();
  s.bytes_written = bytes_written_.load();
  s.fsyncs = fsyncs_.load();
  s.fsync_total_us = fsync_total_us_.load();
  for (const auto& b : fsync_buckets_) s.fsync_buckets.push_back(b.load());
  s.reads = reads_.load();
  s.streams = streams_.load();
  s.head_position = HeadPosition();
  {
    std::lock_guard lock(queue_mu_);
    s.failure = failure_;
  }
  return s;
}

}  // namespace dt::store

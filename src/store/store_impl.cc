// The engine: opening and recovery, the append path and the group-commit writer.
// Reads are in store_read.cc, subscriptions in subscription.cc.
#include "store/store_impl.h"

#include <spdlog/spdlog.h>

#include <future>

#include "store/metadata.h"
#include "store/record.h"

namespace dt::store {
namespace {

constexpr uint64_t kMaxGroupBytes = 64ull << 20;  // bytes of records written per group
constexpr uint64_t kMaxRunBytes = 64 << 10;       // see index.h: bounds a point read
constexpr size_t kReindexBatchRecords = 20000;
constexpr auto kChkSyncInterval = std::chrono::seconds(1);
constexpr size_t kMaxDirtyStates = 16384;                 // states kept only in memory at most
constexpr auto kStateFlushInterval = std::chrono::seconds(1);
constexpr uint64_t kIndexFlushBytes = 128ull << 20;       // of log between index flushes

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
  update_ = std::make_unique<IndexUpdate>(*index_,
      [this](std::string_view name) { return WriterLookup(name); }, kMaxRunBytes);
  if (replay_from < rec.end) DT_RETURN_IF_ERROR(Reindex(replay_from, rec.end));
  DT_RETURN_IF_ERROR(FlushStates(rec.end, /*force=*/true));

  head_.store(rec.end, std::memory_order_release);
  last_index_flush_ = rec.end;
  DT_RETURN_IF_ERROR(log_->SaveCheckpoint(rec.end, true));
  last_chk_sync_ = std::chrono::steady_clock::now();
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::Ok();
}

Status StoreImpl::Reindex(Position from, Position to) {
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  if (to - from > (64 << 20) || from == 0)
    spdlog::info("event store {}: indexing the log from position {} to {}", options_.folder, from, to);
  LogReader reader(*log_, from, to, 4 << 20);
  update_->Reset(next_stream_id_);
  RecordView v;
  for (;;) {
    DT_ASSIGN_OR_RETURN(bool more, reader.NextChecked(&v));
    if (more) DT_RETURN_IF_ERROR(update_->Add(v));
    // Batches end at commit records, so the reader's position is a batch boundary then.
    if (!more || (update_->records() >= kReindexBatchRecords && v.commit())) {
      DT_RETURN_IF_ERROR(index_->Write(update_->Finish(reader.position())));
      AbsorbNewStates();
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

void StoreImpl::AbsorbNewStates() {
  next_stream_id_ = update_->next_stream_id();
  streams_.store(next_stream_id_ - 1, std::memory_order_relaxed);
  std::lock_guard lock(dirty_mu_);
  update_->ForEachNewState([this](const std::string& name, const StatePtr& committed,
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
  for (auto& [name, d] : dirty_) Index::AddState(&batch, name, d.persisted.get(), *d.current);
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
      queue_.push_back(std::move(req));
      lock.unlock();
      queue_cv_.notify_one();
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

// ---------------------------------------------------------------- writer

Result<StatePtr> StoreImpl::WriterLookup(std::string_view name) {
  if (StatePtr st = cache_.Get(name)) return st;
  DT_ASSIGN_OR_RETURN(StatePtr st, index_->ReadState(name));
  if (st) cache_.Put(std::string(name), st);
  return st;
}

void StoreImpl::WriterLoop() {
  std::deque<Request> carry;
  std::vector<Request> group;
  for (;;) {
    group.clear();
    uint64_t bytes = 0;
    auto take = [&](std::deque<Request>& from) {
      while (!from.empty() && (group.empty() || bytes + from.front().bytes <= kMaxGroupBytes)) {
        bytes += from.front().bytes;
        group.push_back(std::move(from.front()));
        from.pop_front();
      }
    };
    take(carry);
    {
      std::unique_lock lock(queue_mu_);
      if (carry.empty())
        queue_cv_.wait(lock, [&] { return !queue_.empty() || stopping_ || !group.empty(); });
      take(queue_);
      if (group.empty() && stopping_) break;
    }
    if (writer_failed_) {
      std::string why;
      {
        std::lock_guard lock(queue_mu_);
        why = failure_;
      }
      for (Request& r : group) r.done(Status::Stopped(why));
      continue;
    }
    RunGroup(group, &carry);
  }
}

void StoreImpl::Fail(const Status& why) {
  writer_failed_ = true;
  std::string reason = "the store stopped taking writes after an I/O error: " + why.message() +
                       "; restart the process to recover from the log";
  spdlog::error("event store {}: {}", options_.folder, reason);
  std::deque<Request> pending;
  {
    std::lock_guard lock(queue_mu_);
    failure_ = reason;
    pending.swap(queue_);
  }
  for (Request& r : pending) r.done(Status::Stopped(reason));
}

Result<std::optional<int64_t>> StoreImpl::FindId(uint64_t sid, const Uuid& id) {
  if (auto n = update_->FindAddedEventId(sid, id)) return n;
  return index_->FindEventId(sid, id);
}

Result<bool> StoreImpl::EventAtIs(uint64_t sid, int64_t number, const Uuid& id) {
  if (auto* added = update_->AddedEventAt(sid, number)) return added->id == id;
  DT_ASSIGN_OR_RETURN(std::optional<int64_t> n, index_->FindEventId(sid, id));
  return n.has_value() && *n == number;
}

Result<StoreImpl::Decision> StoreImpl::Decide(const Request& req) {
  Decision d;
  auto fail = [&d](Status s) {
    d.what = Decision::kFail;
    d.status = std::move(s);
    return d;
  };
  DT_ASSIGN_OR_RETURN(const StreamState* st, update_->Current(req.stream));
  d.state = st;
  if (IsMetastream(req.stream)) {
    DT_ASSIGN_OR_RETURN(const StreamState* original, update_->Current(OriginalOf(req.stream)));
    if (original && original->tombstoned)
      return fail(Status::StreamDeleted("stream " + Quote(OriginalOf(req.stream)) + " is deleted"));
  }
  if (st && st->tombstoned) return fail(Status::StreamDeleted("stream " + Quote(req.stream) + " is deleted"));
  const int64_t cur = st ? st->last_number : -1;
  const bool soft = st && st->soft_deleted();
  const int64_t exp = req.expected;
  auto wrong = [&] {
    return fail(Status::WrongExpectedVersion(
        cur, "append to " + Quote(req.stream) + " expected version " + std::to_string(exp) +
                 ", current version " + std::to_string(cur)));
  };
  // Deletes carry no ids: they behave as one new event (never a duplicate).
  const size_t n = req.kind == Kind::kAppend ? req.events.size() : 0;

  if (exp == kExpectedStreamExists) {
    if (soft) return fail(Status::StreamDeleted("stream " + Quote(req.stream) + " is deleted"));
    if (cur < 0) {
      DT_ASSIGN_OR_RETURN(const StreamState* meta, update_->Current(MetastreamOf(req.stream)));
      if (!meta || meta->last_number < 0) return wrong();
    }
  }
  if (exp == kExpectedAny || exp == kExpectedStreamExists) {
    if (n > 0 && st) {
      DT_ASSIGN_OR_RETURN(std::optional<int64_t> first, FindId(st->id, req.events[0].id));
      if (first) {
        for (size_t k = 1; k < n; ++k) {
          DT_ASSIGN_OR_RETURN(bool same, EventAtIs(st->id, *first + static_cast<int64_t>(k), req.events[k].id));
          if (!same) return wrong();
        }
        d.what = Decision::kDuplicate;
        DT_ASSIGN_OR_RETURN(d.result, DuplicateResult(*st, req.stream, *first, *first + static_cast<int64_t>(n) - 1));
        return d;
      }
    }
    d.what = Decision::kWrite;
    d.recreate = soft;
    return d;
  }
  if (exp < cur) {
    for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) {
      const int64_t number = exp + 1 + static_cast<int64_t>(k);
      bool same = false;
      if (k < n && number <= cur) {
        DT_ASSIGN_OR_RETURN(same, EventAtIs(st->id, number, req.events[k].id));
      }
      if (!same) {
        if (k == 0 && exp == kExpectedNoStream && soft) {
          d.what = Decision::kWrite;
          d.recreate = true;
          return d;
        }
        return wrong();
      }
    }
    d.what = Decision::kDuplicate;
    DT_ASSIGN_OR_RETURN(d.result, DuplicateResult(*st, req.stream, exp + 1, exp + static_cast<int64_t>(n)));
    return d;
  }
  if (exp > cur) return wrong();
  d.what = Decision::kWrite;
  d.recreate = soft;
  return d;
}

void StoreImpl::RunGroup(std::vector<Request>& group, std::deque<Request>* carry) {
  update_->Reset(next_stream_id_);
  buf_.clear();
  const Position group_start = log_->end();
  Position pos = group_start;
  Position limit = log_->limit();
  const int64_t now = NowMicros();
  std::vector<std::pair<AppendCallback*, Result<AppendResult>>> done;
  done.reserve(group.size());
  std::deque<std::string> owned;  // bytes of engine-written records (stable addresses)
  uint64_t events = 0;
  size_t written_requests = 0;

  for (size_t i = 0; i < group.size(); ++i) {
    Request& req = group[i];
    Result<Decision> decided = Decide(req);
    if (!decided.ok()) {
      Fail(decided.status());
      break;
    }
    Decision& d = *decided;
    if (d.what == Decision::kFail) {
      done.emplace_back(&req.done, std::move(d.status));
      continue;
    }
    if (d.what == Decision::kDuplicate) {
      d.result.duplicate = true;
      done.emplace_back(&req.done, d.result);
      continue;
    }
    // Plan the records: an engine-written $metadata (recreate or soft delete), then events.
    planned_.clear();
    const StreamState* st = d.state;
    const int64_t cur = st ? st->last_number : -1;
    std::string meta_stream;
    if (d.recreate || req.kind == Kind::kSoftDelete) {
      meta_stream = MetastreamOf(req.stream);
      Result<const StreamState*> meta = update_->Current(meta_stream);
      if (!meta.ok()) {
        Fail(meta.status());
        break;
      }
      const int64_t meta_next = *meta ? (*meta)->last_number + 1 : 0;
      const std::string_view old_json = st ? std::string_view(st->metadata.json) : std::string_view();
      owned.push_back(WithTruncateBefore(old_json, req.kind == Kind::kSoftDelete ? kDeletedStreamNumber : cur + 1));
      owned.push_back(meta_stream);
      planned_.push_back(Planned{owned.back(), meta_next, Uuid::Random(), "$metadata",
                                 owned[owned.size() - 2], {}, true});
    }
    if (req.kind == Kind::kAppend) {
      int64_t number = cur + 1;
      for (const EventData& e : req.events)
        planned_.push_back(Planned{req.stream, number++, e.id, e.type, e.data, e.metadata, e.is_json});
    } else if (req.kind == Kind::kHardDelete) {
      planned_.push_back(Planned{req.stream, kDeletedStreamNumber, Uuid::Random(), "$streamDeleted", {}, {}, false});
    }
    uint64_t size = 0;
    for (const Planned& p : planned_) size += EncodedSize(p.stream.size(), p.type.size(), p.data.size(), p.metadata.size());
    if (pos + size > limit) {
      if (!buf_.empty()) {  // finish this group in the current segment; the rest goes next
        for (size_t j = group.size(); j-- > i;) carry->push_front(std::move(group[j]));
        group.resize(i);
        break;
      }
      Status s = log_->Roll(size);
      if (!s.ok()) {
        spdlog::error("event store {}: {}", options_.folder, s.message());
        done.emplace_back(&req.done, Status::IOError(s.message()));
        continue;
      }
      limit = log_->limit();
    }
    // Encode and index.
    AppendResult result;
    const size_t first_target = planned_.size() - (req.kind == Kind::kAppend ? req.events.size() : 1);
    for (size_t k = 0; k < planned_.size() && !writer_failed_; ++k) {
      const Planned& p = planned_[k];
      RecordFields f;
      f.position = pos;
      f.number = p.number;
      f.created_us = now;
      f.id = p.id;
      f.commit = k + 1 == planned_.size();
      f.is_json = p.is_json;
      f.stream = p.stream;
      f.type = p.type;
      f.data = p.data;
      f.metadata = p.metadata;
      EncodeRecord(f, &buf_);
      RecordView v;
      v.position = pos;
      v.length = static_cast<uint32_t>(EncodedSize(p.stream.size(), p.type.size(), p.data.size(), p.metadata.size()));
      v.number = p.number;
      v.created_us = now;
      v.id = p.id;
      v.stream = p.stream;
      v.type = p.type;
      v.data = p.data;
      v.flags = f.commit ? format::kFlagCommit : 0;
      Status s = update_->Add(v);
      if (!s.ok()) Fail(s);
      if (k == first_target) result.first_position = pos;
      result.last_position = pos;
      pos += v.length;
    }
    if (writer_failed_) break;
    if (req.kind == Kind::kAppend) {
      result.first_number = cur + 1;
      result.last_number = cur + static_cast<int64_t>(req.events.size());
      events += req.events.size();
    } else if (req.kind == Kind::kSoftDelete) {
      result.first_number = result.last_number = cur;
    } else {
      result.first_number = result.last_number = kDeletedStreamNumber;
    }
    done.emplace_back(&req.done, result);
    ++written_requests;
  }

  if (writer_failed_) {
    // The group was abandoned before anything was written (an index read failed).
    std::string why;
    {
      std::lock_guard lock(queue_mu_);
      why = failure_;
    }
    for (auto& [cb, r] : done)
      if (r.ok()) r = Status::Stopped(why);
    for (size_t j = done.size(); j < group.size(); ++j) done.emplace_back(&group[j].done, Status::Stopped(why));
  } else if (!buf_.empty()) {
    Status s = log_->Write(buf_);
    if (s.ok() && options_.sync) {
      const auto t0 = std::chrono::steady_clock::now();
      s = log_->Sync();
      const uint64_t us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::steady_clock::now() - t0)
                                                    .count());
      fsyncs_.fetch_add(1, std::memory_order_relaxed);
      fsync_total_us_.fetch_add(us, std::memory_order_relaxed);
      const auto& bounds = FsyncBucketBounds();
      size_t b = 0;
      while (b + 1 < bounds.size() && us > bounds[b]) ++b;
      fsync_buckets_[b].fetch_add(1, std::memory_order_relaxed);
    }
    if (!s.ok()) {
      // Never retry an fsync: the kernel may have dropped the pages. Make the group's bytes
      // read as zeros (best effort) so a restart does not find events we reported failed.
      (void)log_->ZeroTail(group_start);
      Fail(s);
      for (auto& [cb, r] : done)
        if (r.ok()) r = Status::Stopped(s.message() + "; the store stopped taking writes (the append may or may not be durable)");
    } else {
      s = index_->Write(update_->Finish(pos));
      if (!s.ok()) {
        Fail(s);
        for (auto& [cb, r] : done)
          if (r.ok()) r = Status::Stopped(s.message() + "; the store stopped taking writes (the append is durable in the log)");
      } else {
        AbsorbNewStates();
        const auto now_steady = std::chrono::steady_clock::now();
        const bool sync_chk = now_steady - last_chk_sync_ >= kChkSyncInterval;
        if (sync_chk) last_chk_sync_ = now_steady;
        Status c = log_->SaveCheckpoint(pos, sync_chk && options_.sync);
        // Publish: every event below pos is now readable.
        head_.store(pos, std::memory_order_release);
        WakeWaiters();
        {
          std::lock_guard lock(listeners_mu_);
          for (auto& [id, fn] : listeners_) fn(pos);
        }
        appends_.fetch_add(written_requests, std::memory_order_relaxed);
        events_written_.fetch_add(events, std::memory_order_relaxed);
        bytes_written_.fetch_add(buf_.size(), std::memory_order_relaxed);
        if (!c.ok()) Fail(c);
        if (DirtyCount() >= kMaxDirtyStates || now_steady - last_state_flush_ >= kStateFlushInterval) {
          Status f = FlushStates(pos, false);
          if (!f.ok()) Fail(f);
          // Without a WAL, whatever the memtables hold is re-indexed after a crash: persist
          // them every so often so that stays short.
          if (f.ok() && pos - last_index_flush_ >= kIndexFlushBytes) {
            f = index_->FlushInBackground();
            if (!f.ok()) Fail(f);
            last_index_flush_ = pos;
          }
        }
      }
    }
  }
  for (auto& [cb, r] : done) (*cb)(std::move(r));
  if (buf_.capacity() > (16u << 20)) std::string().swap(buf_);
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

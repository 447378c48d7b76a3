// The group-commit writer: one thread takes every queued append, checks it against the
// stream states (expected version, idempotency), encodes the group into one buffer, writes
// and fdatasyncs it once, writes one index batch, publishes the head, then answers.
#include <spdlog/spdlog.h>

#include "store/metadata.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace dt::store {
namespace {

constexpr uint64_t kMaxGroupBytes = 64ull << 20;       // bytes of records written per group
constexpr auto kChkSyncInterval = std::chrono::seconds(1);
constexpr auto kStateFlushInterval = std::chrono::seconds(1);
constexpr uint64_t kIndexFlushBytes = 64ull << 20;     // of log between index flushes

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

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

}  // namespace dt::store

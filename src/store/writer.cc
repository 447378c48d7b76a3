// The group-commit writer, pipelined: one writer thread takes the queued appends, checks
// them against the stream states (expected version, idempotency), encodes a group into one
// buffer and writes it; a small group it fdatasyncs and commits itself, a large one
// (kPipelineBytes) goes to a sync thread. While that fdatasync runs, the writer
// decides and encodes the next group (against the states and ids of the group in flight);
// when it returns, the writer writes the next group and hands over its fdatasync at once
// if that group is large too, then indexes, publishes and answers the durable one. A group
// is answered only after its own fdatasync returned and every earlier group was answered;
// a failed fdatasync fails the group in flight and the open group (which was not written
// yet) and stops the store.
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
  if (flight_update_)
    if (StatePtr st = flight_update_->NewState(name)) return st;  // not durable yet
  if (StatePtr st = cache_.Get(name)) return st;
  DT_ASSIGN_OR_RETURN(StatePtr st, index_->ReadState(name));
  if (st) cache_.Put(std::string(name), st);
  return st;
}

void StoreImpl::WriterLoop() {
  std::deque<Request> carry;
  std::vector<Request> taken;
  for (;;) {
    taken.clear();
    bool flight_done = false;
    Status sync_status;
    {
      std::unique_lock lock(queue_mu_);
      auto take_any = [&] {
        // Requests are taken eagerly while a group is in flight only once enough wait;
        // Enqueue wakes the writer by the same rule.
        return !open_->sealed &&
               (!carry.empty() || (!queue_.empty() && (!syncing_ || queued_bytes_ >= kEagerTakeBytes)));
      };
      queue_cv_.wait(lock, [&] {
        if (flight_) return sync_finished_ || take_any();
        if (!open_->requests.empty() || !carry.empty()) return true;
        return !queue_.empty() || stopping_;
      });
      if (!flight_ && open_->requests.empty() && carry.empty() && queue_.empty() && stopping_) break;
      if (flight_ && sync_finished_) {
        flight_done = true;
        sync_status = std::move(sync_status_);
        sync_finished_ = false;
      }
      auto fits = [&](const Request& r) {
        return (open_->requests.empty() && taken.empty()) || open_->bytes + r.bytes <= kMaxGroupBytes;
      };
      auto take = [&](auto& from, bool queued) {
        while (!from.empty() && fits(from.front())) {
          if (queued) queued_bytes_ -= from.front().bytes;
          open_->bytes += from.front().bytes;
          taken.push_back(std::move(from.front()));
          from.pop_front();
        }
        if (!from.empty()) open_->sealed = true;  // full: the rest waits for the next group
      };
      if (!open_->sealed) take(carry, false);
      if (!open_->sealed && (!syncing_ || queued_bytes_ >= kEagerTakeBytes)) take(queue_, true);
    }
    if (writer_failed_) {
      std::string why;
      {
        std::lock_guard lock(queue_mu_);
        why = failure_;
      }
      for (Request& r : taken) r.done(Status::Stopped(why));
      for (Request& r : carry) r.done(Status::Stopped(why));
      carry.clear();
      StopAnswers(*open_, why, false);
      Answer(*open_);
      NewOpenGroup();
      if (flight_done) {
        StopAnswers(*flight_, why + " (the append may or may not be durable)", true);
        Answer(*flight_);
        flight_ = nullptr;
        flight_update_ = nullptr;
        NewOpenGroup();
      }
      continue;
    }
    if (!taken.empty()) Take(taken, &carry);
    if (writer_failed_) continue;  // answered at the top of the loop

    if (flight_done) {
      Group& done = *flight_;
      if (!sync_status.ok()) {
        // Never retry an fsync: the kernel may have dropped the pages. Make the group's bytes
        // read as zeros (best effort) so a restart does not find events we reported failed.
        // The open group was not written: it fails too, it was decided against this one.
        (void)log_->ZeroTail(done.start);
        Fail(sync_status);
        StopAnswers(done, sync_status.message() + "; the store stopped taking writes (the append may or may not be durable)", true);
        Answer(done);
        StopAnswers(*open_, sync_status.message() + "; the store stopped taking writes (the append was not written)", false);
        Answer(*open_);
        flight_ = nullptr;
        flight_update_ = nullptr;
        NewOpenGroup();
        continue;
      }
      Group* next = open_;
      flight_ = nullptr;
      if (next->buf.size() >= kPipelineBytes) {
        // Start the next fdatasync first, then index and answer the durable group meanwhile.
        Launch(*next);  // in flight now (unless its write failed: then it is answered)
        Commit(done);
        open_ = &done;
        NewOpenGroup();
      } else {
        // A small open group (or none) waits: answering the durable group first lets its
        // appenders' next requests join it, as in a plain group commit.
        flight_update_ = nullptr;
        Commit(done);
        if (next->requests.empty() && !next->sealed) {
          open_ = next;
          NewOpenGroup();
        } else {
          // The open group keeps its requests (its update was reset against `done`'s
          // states, now committed: nothing to change); it is launched next round.
          open_ = next;
          // done's group object is free again.
          done.requests.clear();
          done.results.clear();
        }
      }
      continue;
    }
    if (!flight_ && (!open_->requests.empty() || open_->sealed)) {
      Group* g = open_;
      Launch(*g);
      if (flight_ == g) open_ = g == &groups_[0] ? &groups_[1] : &groups_[0];
      NewOpenGroup();
    }
  }
}

void StoreImpl::NewOpenGroup() {
  Group& g = *open_;
  g.requests.clear();
  g.results.clear();
  g.owned.clear();
  if (g.buf.capacity() > (16u << 20)) std::string().swap(g.buf);
  g.buf.clear();
  g.start = 0;
  g.bytes = 0;
  g.events = 0;
  g.written_requests = 0;
  g.sealed = false;
  g.update->Reset(flight_update_ ? flight_update_->next_stream_id() : next_stream_id_);
  update_ = g.update.get();
}

void StoreImpl::SyncLoop() {
  std::unique_lock lock(queue_mu_);
  for (;;) {
    sync_cv_.wait(lock, [&] { return sync_wanted_ || sync_stop_; });
    if (!sync_wanted_) return;
    sync_wanted_ = false;
    lock.unlock();
    Status s = SyncLog();
    lock.lock();
    sync_status_ = std::move(s);
    sync_finished_ = true;
    syncing_ = false;
    queue_cv_.notify_one();
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
    queued_bytes_ = 0;
  }
  for (Request& r : pending) r.done(Status::Stopped(reason));
}

Result<std::optional<int64_t>> StoreImpl::FindId(uint64_t sid, const Uuid& id) {
  if (auto n = update_->FindAddedEventId(sid, id)) return n;
  if (flight_update_)
    if (auto n = flight_update_->FindAddedEventId(sid, id)) return n;
  return index_->FindEventId(sid, id);
}

Result<bool> StoreImpl::EventAtIs(uint64_t sid, int64_t number, const Uuid& id) {
  if (auto* added = update_->AddedEventAt(sid, number)) return added->id == id;
  if (flight_update_)
    if (auto* added = flight_update_->AddedEventAt(sid, number)) return added->id == id;
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

void StoreImpl::Take(std::vector<Request>& taken, std::deque<Request>* carry) {
  Group& g = *open_;
  Position limit = log_->limit();
  const int64_t now = NowMicros();
  size_t i = 0;
  for (; i < taken.size() && !writer_failed_; ++i) {
    Request& req = taken[i];
    Result<Decision> decided = Decide(req);
    if (!decided.ok()) {
      Fail(decided.status());
      break;
    }
    Decision& d = *decided;
    if (d.what == Decision::kFail || d.what == Decision::kDuplicate) {
      if (d.what == Decision::kDuplicate) d.result.duplicate = true;
      g.results.push_back(d.what == Decision::kFail ? Result<AppendResult>(std::move(d.status))
                                                    : Result<AppendResult>(d.result));
      g.requests.push_back(std::move(req));
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
      g.owned.push_back(WithTruncateBefore(old_json, req.kind == Kind::kSoftDelete ? kDeletedStreamNumber : cur + 1));
      g.owned.push_back(meta_stream);
      planned_.push_back(Planned{g.owned.back(), meta_next, Uuid::Random(), "$metadata",
                                 g.owned[g.owned.size() - 2], {}, true});
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
    if (g.buf.empty()) g.start = log_->end();
    Position pos = g.start + g.buf.size();
    if (pos + size > limit) {
      if (!g.buf.empty() || flight_) {
        // Finish this group in the current segment; the rest goes into a later one, once
        // nothing is in flight (a roll syncs the segment it leaves).
        for (size_t j = taken.size(); j-- > i;) {
          g.bytes -= taken[j].bytes;
          carry->push_front(std::move(taken[j]));
        }
        g.sealed = true;
        return;
      }
      Status s = log_->Roll(size);
      if (!s.ok()) {
        spdlog::error("event store {}: {}", options_.folder, s.message());
        g.results.push_back(Status::IOError(s.message()));
        g.requests.push_back(std::move(req));
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
      EncodeRecord(f, &g.buf);
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
      g.events += req.events.size();
    } else if (req.kind == Kind::kSoftDelete) {
      result.first_number = result.last_number = cur;
    } else {
      result.first_number = result.last_number = kDeletedStreamNumber;
    }
    g.results.push_back(result);
    g.requests.push_back(std::move(req));
    ++g.written_requests;
  }
  // After a failure the group is abandoned before anything of it was written; the writer
  // loop answers it (kStopped).
  for (; i < taken.size(); ++i) {
    g.results.push_back(Status::Stopped("the store stopped taking writes"));
    g.requests.push_back(std::move(taken[i]));
  }
}

void StoreImpl::Launch(Group& g) {
  flight_ = nullptr;
  flight_update_ = nullptr;
  if (g.buf.empty()) {
    Answer(g);
    return;
  }
  // A failed write or fdatasync: cut what may be on disk, stop the store, answer the group.
  auto fail_group = [&](const Status& s) {
    (void)log_->ZeroTail(g.start);
    Fail(s);
    StopAnswers(g, s.message() + "; the store stopped taking writes (the append may or may not be durable)", true);
    Answer(g);
  };
  Status s = log_->Write(g.buf);
  if (!s.ok()) return fail_group(s);
  if (g.buf.size() < kPipelineBytes || !options_.sync) {
    // A small group: fdatasync here and commit (a hand-over would cost more than it saves).
    if (options_.sync) s = SyncLog();
    if (!s.ok()) return fail_group(s);
    Commit(g);
    return;
  }
  flight_ = &g;
  flight_update_ = g.update.get();
  {
    std::lock_guard lock(queue_mu_);
    sync_wanted_ = true;
    syncing_ = true;
  }
  sync_cv_.notify_one();
}

Status StoreImpl::SyncLog() {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = log_->Sync();
  const uint64_t us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::steady_clock::now() - t0)
                                                .count());
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  fsync_total_us_.fetch_add(us, std::memory_order_relaxed);
  const auto& bounds = FsyncBucketBounds();
  size_t b = 0;
  while (b + 1 < bounds.size() && us > bounds[b]) ++b;
  fsync_buckets_[b].fetch_add(1, std::memory_order_relaxed);
  return s;
}

void StoreImpl::Commit(Group& g) {
  const Position pos = g.start + g.buf.size();
  Status s = index_->Write(g.update->Finish(pos));
  if (!s.ok()) {
    Fail(s);
    StopAnswers(g, s.message() + "; the store stopped taking writes (the append is durable in the log)", true);
    Answer(g);
    return;
  }
  AbsorbNewStates(*g.update);
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
  appends_.fetch_add(g.written_requests, std::memory_order_relaxed);
  events_written_.fetch_add(g.events, std::memory_order_relaxed);
  bytes_written_.fetch_add(g.buf.size(), std::memory_order_relaxed);
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
  Answer(g);
}

void StoreImpl::Answer(Group& g) {
  for (size_t i = 0; i < g.requests.size(); ++i) g.requests[i].done(std::move(g.results[i]));
  g.requests.clear();
  g.results.clear();
}

void StoreImpl::StopAnswers(Group& g, const std::string& why, bool only_ok) {
  for (Result<AppendResult>& r : g.results)
    if (!only_ok || r.ok()) r = Status::Stopped(why);
}

}  // namespace dt::store

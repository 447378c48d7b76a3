// The engine's read side: streams, $all, stream info and metadata, stream listing.
#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "store/metadata.h"
#include "store/record.h"
#include "store/store_impl.h"

namespace dt::store {
namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The views into a record that ScanAll hands over; ToEvent copies them (ReadAll and friends).
RecordedEventView ViewOf(const RecordView& v) {
  RecordedEventView e;
  e.stream = v.stream;
  e.number = v.number;
  e.position = v.position;
  e.id = v.id;
  e.type = v.type;
  e.data = v.data;
  e.metadata = v.metadata;
  e.is_json = v.is_json();
  e.created_us = v.created_us;
  return e;
}

RecordedEvent ToEvent(const RecordView& v) { return ToRecordedEvent(ViewOf(v)); }

// The stream's event `number` read straight from its latest record (`st.last_position`),
// without the index: the common read of an aggregate's current state (backward from the end,
// one event) then costs no index iterator. False when the record there is not that event of
// that stream or cannot be read whole; the caller then asks the index as for any read.
bool ReadLatestRecord(const Log& log, const StreamState& st, std::string_view stream,
                      int64_t number, int64_t min_created_us, RecordedEvent* out) {
  if (st.tombstoned || !st.has_records || st.last_number != number) return false;
  // The bytes go into a buffer the thread keeps (a fresh multi-KiB one per read cost more
  // in malloc than the read itself); a longer record is read once more into one of its size.
  thread_local std::string buf;
  if (buf.size() < 4096) buf.resize(4096);
  const Position at = st.last_position;
  RecordView v;
  std::string error;
  size_t got = 0;
  if (!log.ReadAt(at, buf.size(), buf.data(), &got).ok()) return false;
  uint64_t needed = 0;
  DecodeStatus d = DecodeRecord(buf.data(), got, at, &v, &error, &needed);
  std::string large;
  if (d == DecodeStatus::kTruncated && got == buf.size() && needed > got &&
      needed <= (uint64_t{64} << 20)) {
    large.resize(static_cast<size_t>(needed));
    if (!log.ReadAt(at, large.size(), large.data(), &got).ok()) return false;
    d = DecodeRecord(large.data(), got, at, &v, &error);
  }
  if (d != DecodeStatus::kOk) return false;
  if (v.stream != stream || v.number != number || v.created_us < min_created_us) return false;
  *out = ToEvent(v);
  return true;
}

// The visible window of a stream under its metadata.
struct Window {
  int64_t lo = 0;
  int64_t hi = -1;
  int64_t min_created_us = INT64_MIN;
};

Window VisibleWindow(const StreamState& st) {
  Window w;
  w.hi = st.last_number;
  const StreamMetadata& m = st.metadata;
  if (m.truncate_before) w.lo = std::max(w.lo, *m.truncate_before == kDeletedStreamNumber ? w.hi + 1 : *m.truncate_before);
  if (m.max_count) w.lo = std::max(w.lo, w.hi - *m.max_count + 1);
  if (m.max_age_seconds) {
    const int64_t age_us = *m.max_age_seconds > INT64_MAX / 1000000 ? INT64_MAX : *m.max_age_seconds * 1000000;
    w.min_created_us = NowMicros() - age_us;
  }
  return w;
}

}  // namespace

RecordedEvent ToRecordedEvent(const RecordedEventView& v) {
  RecordedEvent e;
  e.stream.assign(v.stream);
  e.number = v.number;
  e.position = v.position;
  e.id = v.id;
  e.type.assign(v.type);
  e.data.assign(v.data);
  e.metadata.assign(v.metadata);
  e.is_json = v.is_json;
  e.created_us = v.created_us;
  return e;
}

Result<StatePtr> StoreImpl::LookupState(std::string_view name) {
  if (StatePtr st = cache_.Get(name)) return st;
  return index_->ReadState(name);
}

Result<StatePtr> StoreImpl::ReadableState(std::string_view stream) {
  if (stream.empty()) return Status::InvalidArgument("the stream name is empty");
  if (stream == "$all") return Status::InvalidArgument("read $all with ReadAll");
  if (IsMetastream(stream)) {
    DT_ASSIGN_OR_RETURN(StatePtr original, LookupState(OriginalOf(stream)));
    if (original && original->tombstoned)
      return Status::StreamDeleted("stream " + Quote(OriginalOf(stream)) + " is deleted");
  }
  DT_ASSIGN_OR_RETURN(StatePtr st, LookupState(stream));
  if (st && st->tombstoned) return Status::StreamDeleted("stream " + Quote(stream) + " is deleted");
  if (!st || st->last_number < 0 || st->soft_deleted())
    return Status::StreamNotFound("stream " + Quote(stream) + " not found");
  return st;
}

Status StoreImpl::ReadRange(const StreamState& st, std::string_view stream, int64_t from, int64_t lo,
                            int64_t hi, size_t max, bool forward, int64_t min_created_us,
                            std::vector<RecordedEvent>* out, int64_t* next) {
  int64_t cursor = from;
  const size_t target = out->size() + max;
  std::vector<RecordedEvent> run_events;
  bool done = false;
  while (!done && out->size() < target && (forward ? cursor <= hi : cursor >= lo)) {
    DT_ASSIGN_OR_RETURN(std::vector<Run> runs, index_->Runs(st.id, cursor, forward, target - out->size()));
    if (runs.empty()) break;
    bool progress = false;
    for (const Run& run : runs) {
      if (done || out->size() >= target) break;
      LogReader reader(*log_, run.position, run.position + run.bytes,
                       static_cast<size_t>(std::min<uint64_t>(run.bytes, 1 << 20)));
      RecordView v;
      run_events.clear();
      for (;;) {
        DT_ASSIGN_OR_RETURN(bool more, reader.NextChecked(&v));
        if (!more) break;
        if (v.stream != stream)
          return Status::Corruption("index entry of stream " + Quote(stream) + " points at a record of " +
                                    Quote(v.stream) + " at " + log_->Describe(v.position));
        if (forward) {
          if (v.number < cursor) continue;
          if (v.number > hi) {
            done = true;
            break;
          }
          cursor = v.number + 1;
          progress = true;
          if (v.created_us >= min_created_us) {
            out->push_back(ToEvent(v));
            if (out->size() >= target) break;
          }
        } else {
          if (v.number > cursor) break;
          if (v.number < lo) continue;
          run_events.push_back(ToEvent(v));
        }
      }
      if (!forward) {
        for (auto it = run_events.rbegin(); it != run_events.rend(); ++it) {
          cursor = it->number - 1;
          progress = true;
          if (it->created_us >= min_created_us) {
            out->push_back(std::move(*it));
            if (out->size() >= target) break;
          }
        }
        if (cursor < lo) done = true;
      }
    }
    if (!progress) break;
  }
  *next = cursor;
  return Status::Ok();
}

Result<StreamSlice> StoreImpl::ReadStream(std::string_view stream, int64_t from, size_t max_count,
                                          Direction direction) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  reads_.fetch_add(1, std::memory_order_relaxed);
  DT_ASSIGN_OR_RETURN(StatePtr st, ReadableState(stream));
  const Window w = VisibleWindow(*st);
  StreamSlice slice;
  slice.last_number = st->last_number;
  if (direction == Direction::kForward) {
    const int64_t start = std::max<int64_t>(std::max<int64_t>(from, 0), w.lo);
    if (start > w.hi || max_count == 0) {
      slice.next_number = std::max<int64_t>(start, w.hi + 1);
      slice.end_of_stream = start > w.hi;
      return slice;
    }
    int64_t next = start;
    DT_RETURN_IF_ERROR(ReadRange(*st, stream, start, w.lo, w.hi, max_count, true, w.min_created_us,
                                 &slice.events, &next));
    slice.next_number = next;
    slice.end_of_stream = next > w.hi;
  } else {
    const int64_t start = (from < 0 || from > w.hi) ? w.hi : from;
    if (start < w.lo || max_count == 0) {
      slice.next_number = start < w.lo ? -1 : start;
      slice.end_of_stream = start < w.lo;
      return slice;
    }
    int64_t next = start;
    RecordedEvent latest;
    if (max_count == 1 &&
        ReadLatestRecord(*log_, *st, stream, start, w.min_created_us, &latest)) {
      slice.events.push_back(std::move(latest));
      next = start - 1;
    } else {
      DT_RETURN_IF_ERROR(ReadRange(*st, stream, start, w.lo, w.hi, max_count, false,
                                   w.min_created_us, &slice.events, &next));
    }
    slice.end_of_stream = next < w.lo;
    slice.next_number = slice.end_of_stream ? -1 : next;
  }
  return slice;
}

Result<RecordedEvent> StoreImpl::ReadEvent(std::string_view stream, int64_t number) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  reads_.fetch_add(1, std::memory_order_relaxed);
  DT_ASSIGN_OR_RETURN(StatePtr st, ReadableState(stream));
  const Window w = VisibleWindow(*st);
  const int64_t n = number < 0 ? w.hi : number;
  auto not_found = [&] {
    return Status::NotFound("event " + std::to_string(n) + " of stream " + Quote(stream) + " not found");
  };
  if (n < w.lo || n > w.hi) return not_found();
  std::vector<RecordedEvent> out;
  int64_t next;
  DT_RETURN_IF_ERROR(ReadRange(*st, stream, n, n, n, 1, true, w.min_created_us, &out, &next));
  if (out.empty()) return not_found();
  return std::move(out.front());
}

Status StoreImpl::ScanAllForward(Position from, Position limit, size_t max,
                                 const std::function<void(const RecordView&)>& each,
                                 Position* next) {
  *next = from;
  if (from >= limit || max == 0) return Status::Ok();
  const size_t buffer = static_cast<size_t>(std::clamp<uint64_t>(uint64_t{max} * 512, 64 << 10, 4 << 20));
  // The read buffer stays with the thread: allocating (and zeroing) a fresh one per page cost
  // a page's readers more than decoding its records. One that grew past a few pages' worth
  // (a huge record) is not kept. A scan started from within `each` reads into its own.
  thread_local std::string kept;
  thread_local bool kept_in_use = false;
  const bool use_kept = !kept_in_use;
  LogReader reader(*log_, from, limit, std::min<uint64_t>(buffer, limit - from),
                   use_kept ? &kept : nullptr);
  struct Release {
    bool active;
    ~Release() {
      if (!active) return;
      kept_in_use = false;
      if (kept.size() > (size_t{8} << 20)) std::string().swap(kept);
    }
  } release{use_kept};
  if (use_kept) kept_in_use = true;
  RecordView v;
  for (size_t i = 0; i < max; ++i) {
    Result<bool> more = reader.NextChecked(&v);
    if (!more.ok()) {
      if (i == 0 && from != 0)
        return Status::InvalidArgument("no record starts at position " + std::to_string(from));
      return more.status();
    }
    if (!*more) break;
    each(v);
  }
  *next = reader.position();
  return Status::Ok();
}

Status StoreImpl::ReadAllForward(Position from, Position limit, size_t max,
                                 std::vector<RecordedEvent>* out, Position* next) {
  if (from < limit && max > 0) out->reserve(out->size() + std::min<size_t>(max, 4096));
  return ScanAllForward(from, limit, max, [&](const RecordView& v) { out->push_back(ToEvent(v)); },
                        next);
}

Status StoreImpl::ReadAllForSubscription(Position from, Position limit, size_t max,
                                         std::vector<RecordedEvent>* out, Position* next) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  return ReadAllForward(from, limit, max, out, next);
}

Result<AllSlice> StoreImpl::ReadAllBackward(Position from, size_t max) {
  AllSlice slice;
  Position pos = from;
  std::string chunk;
  Position chunk_start = pos;  // chunk holds [chunk_start, chunk_start + chunk.size())
  auto load = [&](Position start, Position end) -> Status {
    chunk.resize(static_cast<size_t>(end - start));
    size_t filled = 0;
    while (filled < chunk.size()) {
      size_t got = 0;
      DT_RETURN_IF_ERROR(log_->ReadAt(start + filled, chunk.size() - filled, chunk.data() + filled, &got));
      if (got == 0) return Status::Corruption("log ends early at " + log_->Describe(start + filled));
      filled += got;
    }
    chunk_start = start;
    return Status::Ok();
  };
  constexpr Position kChunk = 256 << 10;
  size_t count = 0;
  while (count < max && pos > 0) {
    if (pos - chunk_start < format::kTrailerSize || pos > chunk_start + chunk.size()) {
      DT_RETURN_IF_ERROR(load(pos > kChunk ? pos - kChunk : 0, pos));
    }
    const uint32_t len = PeekTrailerLength(chunk.data() + (pos - chunk_start));
    auto bad = [&](const std::string& why) -> Status {
      if (count == 0 && pos == from)
        return Status::InvalidArgument("no record ends at position " + std::to_string(from));
      return Status::Corruption(why + " before " + log_->Describe(pos));
    };
    if (len < format::kOverhead || len > pos) return bad("bad record trailer");
    if (pos - len < chunk_start) {
      DT_RETURN_IF_ERROR(load(pos - std::max<Position>(len, std::min<Position>(pos, kChunk)), pos));
    }
    RecordView v;
    std::string error;
    const char* p = chunk.data() + (pos - len - chunk_start);
    if (DecodeRecord(p, len, pos - len, &v, &error) != DecodeStatus::kOk || v.length != len)
      return bad(error.empty() ? "bad record" : error);
    slice.events.push_back(ToEvent(v));
    ++count;
    pos -= len;
  }
  slice.next_position = pos;
  slice.end_of_log = pos == 0;
  return slice;
}

Result<AllSlice> StoreImpl::ReadAll(Position from, size_t max_count, Direction direction) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  reads_.fetch_add(1, std::memory_order_relaxed);
  const Position head = HeadPosition();
  if (direction == Direction::kForward) {
    AllSlice slice;
    DT_RETURN_IF_ERROR(ReadAllForward(std::min(from, head), head, max_count, &slice.events, &slice.next_position));
    slice.end_of_log = slice.next_position >= head;
    return slice;
  }
  return ReadAllBackward(std::min(from, head), max_count);
}

Result<AllScanEnd> StoreImpl::ScanAll(Position from, size_t max_count,
                                      const std::function<void(const RecordedEventView&)>& each) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  reads_.fetch_add(1, std::memory_order_relaxed);
  const Position head = HeadPosition();
  AllScanEnd end;
  DT_RETURN_IF_ERROR(ScanAllForward(
      std::min(from, head), head, max_count, [&](const RecordView& v) { each(ViewOf(v)); },
      &end.next_position));
  end.end_of_log = end.next_position >= head;
  return end;
}

Result<StreamInfo> StoreImpl::GetStreamInfo(std::string_view stream) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  if (stream.empty()) return Status::InvalidArgument("the stream name is empty");
  DT_ASSIGN_OR_RETURN(StatePtr st, LookupState(stream));
  StreamInfo info;
  info.stream = std::string(stream);
  if (IsMetastream(stream)) {
    DT_ASSIGN_OR_RETURN(StatePtr original, LookupState(OriginalOf(stream)));
    if (original && original->tombstoned) info.tombstoned = true;
  }
  if (!st) return info;
  info.tombstoned = info.tombstoned || st->tombstoned;
  info.soft_deleted = st->soft_deleted();
  info.exists = st->last_number >= 0 && !info.tombstoned && !info.soft_deleted;
  info.last_number = st->last_number;
  info.last_position = st->last_position;
  info.last_written_us = st->last_written_us;
  info.metadata_json = st->metadata.json;
  return info;
}

Result<StreamMetadata> StoreImpl::GetMetadata(std::string_view stream) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  if (stream.empty()) return Status::InvalidArgument("the stream name is empty");
  DT_ASSIGN_OR_RETURN(StatePtr st, LookupState(stream));
  if (st && st->tombstoned) return Status::StreamDeleted("stream " + Quote(stream) + " is deleted");
  return st ? st->metadata : StreamMetadata{};
}

Result<std::vector<StreamInfo>> StoreImpl::ListStreams(std::string_view search, size_t offset,
                                                       size_t limit, bool include_system) {
  auto wanted = [&](std::string_view name) {
    if (!include_system && !name.empty() && name[0] == '$') return false;
    return search.empty() || name.find(search) != std::string_view::npos;
  };
  std::vector<std::string> names;
  {
    std::shared_lock guard(close_mu_);
    if (closed()) return Status::Stopped("the store is closed");
    // Streams written since the states were last persisted are only in memory (dirty_);
    // the index's recent-stream keys hold the others. Merge both, newest first.
    std::vector<std::pair<Position, std::string>> fresh;
    std::unordered_set<std::string> fresh_names;
    {
      std::lock_guard lock(dirty_mu_);
      for (auto& [name, d] : dirty_) {
        if (!d.current->has_records) continue;
        fresh_names.insert(name);
        if (wanted(name)) fresh.emplace_back(d.current->last_position, name);
      }
    }
    std::sort(fresh.begin(), fresh.end(), std::greater<>());
    size_t next_fresh = 0, seen = 0;
    auto take = [&](const std::string& name) {
      if (seen++ >= offset) names.push_back(name);
      return names.size() < limit;
    };
    DT_RETURN_IF_ERROR(index_->VisitRecent([&](std::string_view name, Position pos) {
      if (fresh_names.count(std::string(name))) return true;  // stale: the dirty state is newer
      if (!wanted(name)) return true;
      while (next_fresh < fresh.size() && fresh[next_fresh].first > pos)
        if (!take(fresh[next_fresh++].second)) return false;
      return take(std::string(name));
    }));
    while (names.size() < limit && next_fresh < fresh.size()) take(fresh[next_fresh++].second);
  }
  std::vector<StreamInfo> out;
  for (const std::string& name : names) {
    DT_ASSIGN_OR_RETURN(StreamInfo info, GetStreamInfo(name));
    out.push_back(std::move(info));
  }
  return out;
}

Result<AppendResult> StoreImpl::DuplicateResult(const StreamState& st, std::string_view stream,
                                                int64_t first, int64_t last) {
  AppendResult r;
  r.first_number = first;
  r.last_number = last;
  r.duplicate = true;
  auto position_of = [&](int64_t n) -> Result<Position> {
    if (auto* added = update_->AddedEventAt(st.id, n)) return added->position;
    if (flight_update_)
      if (auto* added = flight_update_->AddedEventAt(st.id, n)) return added->position;
    std::vector<RecordedEvent> out;
    int64_t next;
    DT_RETURN_IF_ERROR(ReadRange(st, stream, n, n, n, 1, true, INT64_MIN, &out, &next));
    if (out.empty()) return Status::Internal("event " + std::to_string(n) + " of " + Quote(stream) + " is indexed but not readable");
    return out.front().position;
  };
  DT_ASSIGN_OR_RETURN(r.first_position, position_of(first));
  DT_ASSIGN_OR_RETURN(r.last_position, position_of(last));
  return r;
}

Status StoreImpl::ReadStreamForSubscription(std::string_view stream, int64_t from, size_t max,
                                            std::vector<RecordedEvent>* out, int64_t* next,
                                            bool* deleted, bool* caught_up) {
  std::shared_lock guard(close_mu_);
  if (closed()) return Status::Stopped("the store is closed");
  *next = from;
  *deleted = false;
  *caught_up = true;
  DT_ASSIGN_OR_RETURN(StatePtr st, LookupState(stream));
  if (!st) return Status::Ok();
  const Window w = VisibleWindow(*st);
  const int64_t start = std::max(from, w.lo);
  if (start > w.hi) {
    *next = start;
    *deleted = st->tombstoned;
    return Status::Ok();
  }
  DT_RETURN_IF_ERROR(ReadRange(*st, stream, start, w.lo, w.hi, max, true, w.min_created_us, out, next));
  *caught_up = *next > w.hi;
  *deleted = st->tombstoned && *caught_up;
  return Status::Ok();
}

}  // namespace dt::store

// index.h: the derived, persistent index of the log, in RocksDB (no WAL: the log is the
// truth, and the checkpoint key written in the same WriteBatch says up to which log
// position the index is complete).
//
// Keys (one column family; integers big-endian so keys sort by them):
//   "c"                              -> checkpoint: position, next stream id, store id
//   's' name                         -> StreamState (stream_state.h)
//   'r' sid(8) last_number(8)        -> run: first number, first position, bytes
//   'i' event id(16) sid(8)          -> event number
//   'w' last_position(8) sid(8)      -> stream name (streams by most recent write)
// A run is a maximal set of consecutive records of one stream with consecutive numbers,
// written together (bounded in bytes): one key per run instead of one per event.
//
// Thread-safety: Index reads may run on any thread; writes (Write, Flush) come from the
// store's writer thread (or the opener during reindexing). IndexUpdate is used by one
// thread. Lifetime: an IndexUpdate borrows nothing; the Index outlives its iterators.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/status.h"
#include "common/uuid.h"
#include "store/record.h"
#include "store/stream_state.h"

namespace dt::store {

struct IndexCheckpoint {
  bool present = false;        // false for a new (empty) index
  Position position = 0;       // the index covers the log below this position
  uint64_t next_stream_id = 1;
  std::string store_id;        // identity of the log the index belongs to
};

struct Run {
  int64_t first = 0;
  int64_t last = 0;
  Position position = 0;  // of the record of `first`
  uint64_t bytes = 0;     // of all records of the run
};

class Index {
 public:
  static Result<std::unique_ptr<Index>> Open(const std::string& path);
  static Status Destroy(const std::string& path);
  ~Index();

  Result<IndexCheckpoint> ReadCheckpoint();
  // nullptr when the stream is unknown.
  Result<StatePtr> ReadState(std::string_view name);
  // Number of event `id` in stream `sid`, if indexed.
  Result<std::optional<int64_t>> FindEventId(uint64_t sid, const Uuid& id);
  // Runs of stream `sid` holding numbers >= from (forward) or <= from (backward), in that
  // order, until they cover max_events events.
  Result<std::vector<Run>> Runs(uint64_t sid, int64_t from, bool forward, size_t max_events);
  // Stream names by most recent write, newest first, until visit returns false.
  Status VisitRecent(const std::function<bool(std::string_view name)>& visit);

  Status Write(rocksdb::WriteBatch* batch);
  // Persists the memtable (the index survives a crash up to its checkpoint without it too,
  // but reopening is faster after a flush).
  Status Flush();

 private:
  explicit Index(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

// The index changes of a group of records (in log order), and the streams' new states.
class IndexUpdate {
 public:
  // Committed state of a stream (cache or index); nullptr when unknown.
  using Lookup = std::function<Result<StatePtr>(std::string_view name)>;

  IndexUpdate(Lookup lookup, uint64_t max_run_bytes);

  // Starts an empty update; new streams get ids from next_stream_id on.
  void Reset(uint64_t next_stream_id);
  // The state of `name` with this update's changes; nullptr when unknown. Valid until Reset.
  Result<const StreamState*> Current(std::string_view name);
  // Applies one record (records must come in log order, without gaps).
  Status Add(const RecordView& record);
  // A number of event `id` in stream `sid` added by this update, if any.
  std::optional<int64_t> FindAddedEventId(uint64_t sid, const Uuid& id) const;
  // The event of this update at (sid, number), if any.
  struct AddedEvent {
    uint64_t sid;
    int64_t number;
    Uuid id;
    Position position;
  };
  const AddedEvent* AddedEventAt(uint64_t sid, int64_t number) const;
  bool empty() const { return touched_.empty(); }
  size_t records() const { return records_; }

  // Completes the batch: states, recent-stream keys and the checkpoint (`end`).
  rocksdb::WriteBatch* Finish(Position end, const std::string& store_id);
  uint64_t next_stream_id() const { return next_stream_id_; }
  // The new states, after the batch was written.
  template <typename F>
  void ForEachNewState(F&& f) {
    for (auto& t : touched_) f(t.name, t.state);
  }

 private:
  struct Touched {
    std::string name;
    StatePtr committed;                    // null for a new stream
    std::shared_ptr<StreamState> state;    // the new state
  };
  Result<StreamState*> Touch(std::string_view name);
  void FlushRun();

  Lookup lookup_;
  const uint64_t max_run_bytes_;
  uint64_t next_stream_id_ = 1;
  std::vector<Touched> touched_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> touched_index_;
  std::vector<StatePtr> pinned_;  // committed states handed out by Current()
  std::vector<AddedEvent> added_;
  rocksdb::WriteBatch batch_;
  Run run_;
  uint64_t run_sid_ = 0;  // 0: no open run
  size_t records_ = 0;
};

}  // namespace dt::store

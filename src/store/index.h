// index.h: the derived, persistent index of the log, in RocksDB without a WAL: the log
// is the truth, and every part of the index carries a checkpoint, written in the same
// WriteBatch as its entries, saying up to which log position that part is complete.
//
// Keys (default column family unless noted; integers big-endian so keys sort by them):
//   'r' sid(8) last_number(8)     -> run: first number, first position, bytes
//   "c"                           -> runs checkpoint: position
//   event id(16) sid(8)           -> event number                   (column family "ids")
//   nil id(16) 0(8)               -> ids checkpoint: position        (column family "ids")
//   's' name                      -> StreamState (stream_state.h)
//   'w' last_position(8) sid(8)   -> stream name (streams by most recent write)
//   "S"                           -> states checkpoint: position, next stream id, index
//                                    format, store id
// A run is the records of one stream inside one batch (consecutive, numbers consecutive,
// split at kMaxRunBytes): one key per run instead of one per event. Runs depend only on the
// log, so indexing a stretch of the log twice writes the same keys and values: recovery
// simply re-indexes from the smallest checkpoint.
// Runs and event ids are written with every group commit; stream states (and 'w') only
// every second or so (the store keeps them in memory, pinned in its cache, until then).
//
// Thread-safety: Index reads may run on any thread; writes (Write, Flush) come from the
// store's writer thread (or the opener during reindexing). IndexUpdate is used by one
// thread. Lifetime: the Index outlives its IndexUpdates and iterators.
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

struct IndexCheckpoints {
  bool states_present = false;  // false for a new (empty) index
  uint32_t format = 0;          // layout version of the index (Index::Format())
  std::string store_id;         // identity of the log the index belongs to
  Position states = 0;          // stream states cover the log below this position
  uint64_t next_stream_id = 1;  // at `states`
  Position runs = 0;            // runs cover the log below this position
  Position ids = 0;             // event ids cover the log below this position
  bool any_present = false;     // some checkpoint exists (the index is not new)

  // Where re-indexing must start.
  Position replay_from() const { return std::min(states, std::min(runs, ids)); }
  Position furthest() const { return std::max(states, std::max(runs, ids)); }
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
  static uint32_t Format();  // the layout this code writes; another one is rebuilt
  ~Index();
  rocksdb::ColumnFamilyHandle* ids_family() const { return handles_[1]; }

  Result<IndexCheckpoints> ReadCheckpoints();
  // nullptr when the stream is unknown.
  Result<StatePtr> ReadState(std::string_view name);
  // Number of event `id` in stream `sid`, if indexed.
  Result<std::optional<int64_t>> FindEventId(uint64_t sid, const Uuid& id);
  // Runs of stream `sid` holding numbers >= from (forward) or <= from (backward), in that
  // order, until they cover max_events events.
  Result<std::vector<Run>> Runs(uint64_t sid, int64_t from, bool forward, size_t max_events);
  // Persisted stream names by most recent write (with its position), newest first, until
  // visit returns false.
  Status VisitRecent(const std::function<bool(std::string_view name, Position last)>& visit);

  Status Write(rocksdb::WriteBatch* batch);
  // The persistence of a stream's state: `persisted` is what the index holds now (null:
  // nothing), `current` the state to hold.
  struct StateChange {
    const std::string* name;
    const StreamState* persisted;
    const StreamState* current;
  };
  // Adds to `batch` the persistence of these states (of distinct streams), keys in order:
  // state keys by name, then recent-stream keys by position, so that consecutive memtable
  // inserts land next to each other.
  static void AddStates(rocksdb::WriteBatch* batch, std::vector<StateChange> changes);
  // Adds the states checkpoint: every state change below `position` is in the batch or
  // already in the index.
  static void AddStatesCheckpoint(rocksdb::WriteBatch* batch, Position position, uint64_t next_stream_id,
                                  const std::string& store_id);
  // Persists the memtable (the index survives a crash up to its checkpoint without it too,
  // but reopening is faster after a flush).
  Status Flush();
  // Starts persisting the memtables without waiting (bounds the re-indexing after a crash).
  Status FlushInBackground();

 private:
  Index(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles);
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, ids
};

// The index changes of a group of records (in log order): runs and event ids with their
// checkpoints, and the streams' new states (kept by the caller until it persists them).
class IndexUpdate {
 public:
  // Committed state of a stream (cache or index); nullptr when unknown.
  using Lookup = std::function<Result<StatePtr>(std::string_view name)>;

  // `index` provides the column family handles and must outlive the update.
  IndexUpdate(Index& index, Lookup lookup, uint64_t max_run_bytes);

  // Starts an empty update; new streams get ids from next_stream_id on.
  void Reset(uint64_t next_stream_id);
  // The state of `name` with this update's changes; nullptr when unknown. Valid until Reset.
  Result<const StreamState*> Current(std::string_view name);
  // The new state of `name` if this update changed it, else nullptr (no lookup).
  StatePtr NewState(std::string_view name) const;
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

  // Completes the batch: runs, ids and their checkpoints (`end`).
  rocksdb::WriteBatch* Finish(Position end);
  uint64_t next_stream_id() const { return next_stream_id_; }
  // The new states (f(name, committed-before-this-update or null, new state)).
  template <typename F>
  void ForEachNewState(F&& f) {
    for (auto& t : touched_) f(t.name, t.committed, t.state);
  }

 private:
  struct Touched {
    std::string name;
    StatePtr committed;                    // null for a new stream
    std::shared_ptr<StreamState> state;    // the new state
  };
  Result<StreamState*> Touch(std::string_view name);
  void FlushRun();

  rocksdb::ColumnFamilyHandle* ids_family_;
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
  // Current()'s last lookup of a committed state (null: the stream is unknown), which
  // Touch() takes instead of looking the same stream up again (once; cleared by Reset).
  bool has_last_lookup_ = false;
  std::string last_lookup_name_;
  StatePtr last_lookup_;
  std::vector<AddedEvent> added_;
  rocksdb::WriteBatch batch_;
  Run run_;
  uint64_t run_sid_ = 0;  // 0: no open run
  size_t records_ = 0;
};

}  // namespace dt::store

// Store: the event store engine, an in-process library.
//
// What it is for: append-only, versioned streams of events with optimistic
// concurrency (expected version), idempotent appends by event id, soft deletes
// and tombstones, reads of one stream and of the whole log ($all), and catch-up
// subscriptions. An append is acknowledged only after its bytes are fdatasync'ed.
// The log (segment files) is the truth; the RocksDB index beside it is derived.
// Semantics follow EventStoreDB (see ../shared/docs/eventstore-http-api.md and
// docs/DESIGN.md of this repository).
//
// Thread-safety: every method may be called from any thread at the same time.
// Appends are serialised by one writer thread (group commit); reads run on the
// caller's thread and see every acknowledged append.
//
// Lifetime: the Store must outlive every Subscription and listener it handed out.
// Close() (or the destructor) finishes queued appends, syncs, and releases the
// folder's lock file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/uuid.h"

namespace dt::store {

class FileSystem;  // store/fs.h: the seam through which all file I/O goes

// Byte offset of an event's record in the log; $all is totally ordered by it.
using Position = uint64_t;

// Expected version of an append or delete: one of these, or an exact event number >= 0.
inline constexpr int64_t kExpectedAny = -2;
inline constexpr int64_t kExpectedNoStream = -1;
inline constexpr int64_t kExpectedStreamExists = -4;

// The event number EventStoreDB gives the $streamDeleted record of a tombstoned stream.
inline constexpr int64_t kDeletedStreamNumber = INT64_MAX;

// Largest event (data + metadata + type + stream name) and largest append batch.
inline constexpr size_t kDefaultMaxEventBytes = 16u << 20;
inline constexpr size_t kDefaultMaxAppendBytes = 256u << 20;

// An event as the caller proposes it.
struct EventData {
  Uuid id;               // must not be nil
  std::string type;      // non-empty; types starting with '$' are system types
  std::string data;      // bytes
  std::string metadata;  // bytes (may be empty)
  bool is_json = true;   // data (and metadata) are JSON
};

// An event as stored.
struct RecordedEvent {
  std::string stream;
  int64_t number = 0;      // 0-based within the stream; kDeletedStreamNumber for $streamDeleted
  Position position = 0;   // log position of its record
  Uuid id;
  std::string type;
  std::string data;
  std::string metadata;
  bool is_json = true;
  int64_t created_us = 0;  // creation time assigned by the engine: microseconds since the Unix epoch
};

struct AppendResult {
  int64_t first_number = 0;  // number of the first event of the batch
  int64_t last_number = 0;   // number of the last; the stream's version after the append
  Position first_position = 0;
  Position last_position = 0;
  bool duplicate = false;    // true when nothing was written because the ids were already there
};

enum class Direction { kForward, kBackward };

// A page of one stream.
struct StreamSlice {
  std::vector<RecordedEvent> events;  // in the direction read
  int64_t last_number = -1;           // the stream's last event number (its version)
  int64_t next_number = -1;           // where the next page in the same direction starts
  bool end_of_stream = false;         // no more events in this direction (now)
};

// A page of $all.
struct AllSlice {
  std::vector<RecordedEvent> events;  // in the direction read
  Position next_position = 0;         // where the next page in the same direction starts
  bool end_of_log = false;            // no more events in this direction (now)
};

// An event of $all as ScanAll hands it over: views into the engine's read buffer, valid only
// during the call they are passed to.
struct RecordedEventView {
  std::string_view stream;
  int64_t number = 0;
  Position position = 0;
  Uuid id;
  std::string_view type;
  std::string_view data;
  std::string_view metadata;
  bool is_json = true;
  int64_t created_us = 0;
};

// An owning copy of a view: the RecordedEvent that ReadAll returns for the same event.
RecordedEvent ToRecordedEvent(const RecordedEventView& v);

// Where a ScanAll stopped.
struct AllScanEnd {
  Position next_position = 0;  // where the next page starts
  bool end_of_log = false;     // no more events (now)
};

// What the engine knows about a stream, metadata applied.
struct StreamInfo {
  std::string stream;
  bool exists = false;        // has events (maybe all hidden) and is not deleted
  bool soft_deleted = false;  // deleted, may be recreated
  bool tombstoned = false;    // hard-deleted: forever StreamDeleted
  int64_t last_number = -1;   // last event number ever written (-1: none)
  Position last_position = 0; // log position of the last write to the stream
  int64_t last_written_us = 0;
  std::string metadata_json;  // latest $metadata of the stream, "" when none
};

// Parsed reserved keys of a stream's metadata, applied on read.
struct StreamMetadata {
  std::optional<int64_t> max_count;        // $maxCount
  std::optional<int64_t> max_age_seconds;  // $maxAge
  std::optional<int64_t> truncate_before;  // $tb; kDeletedStreamNumber = soft-deleted
  std::string json;                        // the whole metadata object as stored
};

struct Options {
  std::string folder;                    // data folder; created if missing
  FileSystem* fs = nullptr;              // null: the real (POSIX) file system
  uint64_t segment_bytes = 256ull << 20; // size of each preallocated segment file
  size_t max_event_bytes = kDefaultMaxEventBytes;
  size_t max_append_bytes = kDefaultMaxAppendBytes;
  bool sync = true;                      // false only for benchmarks of the unsynced path
  bool create_if_missing = true;
  size_t stream_cache_entries = 100000;  // bound of the in-memory stream-state cache
};

struct Stats {
  uint64_t appends = 0;          // acknowledged append requests
  uint64_t events_written = 0;
  uint64_t bytes_written = 0;
  uint64_t fsyncs = 0;
  uint64_t fsync_total_us = 0;
  // Histogram of fsync latency: counts per upper bound in microseconds (bounds are fixed,
  // see FsyncBucketBounds()).
  std::vector<uint64_t> fsync_buckets;
  uint64_t reads = 0;
  uint64_t streams = 0;          // streams known to the index
  Position head_position = 0;    // end of the acknowledged log
  std::string failure;           // non-empty once the store stopped taking writes
};

// A catch-up subscription: history from the start point (exclusive), then live
// events, in order, with no gap and no duplicate. It reads from the log itself,
// so a slow consumer only falls behind; it never holds up writers.
//
// Thread-safety: one consumer thread calls Next(); Close() may be called from any thread.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Up to max_events in order; waits up to `wait` when there is nothing new (returns an
  // empty vector then). Errors: kStopped after Close() or when the store closes,
  // kStreamDeleted when the subscribed stream is tombstoned (after its last event).
  virtual Result<std::vector<RecordedEvent>> Next(size_t max_events,
                                                   std::chrono::milliseconds wait) = 0;
  // True once the subscription has delivered everything acknowledged at some point.
  virtual bool caught_up() const = 0;
  virtual void Close() = 0;
};

class Store {
 public:
  // Opens (or creates) the store in options.folder. Fails with kIOError when another
  // process holds the folder (the message names its pid), kCorruption naming the file and
  // offset when a record before the torn tail fails its checksum.
  static Result<std::unique_ptr<Store>> Open(const Options& options);

  virtual ~Store() = default;

  using AppendCallback = std::function<void(Result<AppendResult>)>;

  // Appends `events` to `stream` atomically (all or none) if `expected_version` holds.
  // The callback runs on the writer thread after fdatasync (keep it short: post work
  // elsewhere). Errors: kWrongExpectedVersion (with current_version), kStreamDeleted,
  // kTooLarge, kInvalidArgument (empty batch, nil id, empty type, bad stream name),
  // kStopped (closed, or failed after an I/O error: the message says why).
  virtual void AppendAsync(std::string stream, int64_t expected_version,
                           std::vector<EventData> events, AppendCallback done) = 0;
  // Blocking form of AppendAsync.
  virtual Result<AppendResult> Append(std::string_view stream, int64_t expected_version,
                                      std::vector<EventData> events) = 0;

  // Soft delete (hard=false): the stream reads as kStreamNotFound until a later append
  // recreates it, numbering continuing. Hard delete: a $streamDeleted record; every later
  // read and append answers kStreamDeleted. Both check expected_version.
  virtual Result<AppendResult> Delete(std::string_view stream, int64_t expected_version,
                                      bool hard) = 0;

  // Reads up to max_count events of a stream starting at `from` (inclusive). For backward
  // reads from = -1 means "from the last event". Metadata ($maxCount, $maxAge, $tb) is
  // applied. Errors: kStreamNotFound (missing or soft-deleted), kStreamDeleted (tombstoned),
  // kCorruption (a damaged record: the message names file and offset).
  virtual Result<StreamSlice> ReadStream(std::string_view stream, int64_t from, size_t max_count,
                                         Direction direction) = 0;
  // One event; number = -1 means the last. Errors: kStreamNotFound, kStreamDeleted, kNotFound.
  virtual Result<RecordedEvent> ReadEvent(std::string_view stream, int64_t number) = 0;
  // Reads $all. Forward: events with position >= from. Backward: events with position < from
  // (from = UINT64_MAX: from the end). Every record, system events included; metadata is
  // not applied. `from` must be 0, a position the store handed out (an event's position or
  // a next_position) or at least HeadPosition(); another one is kInvalidArgument.
  // A damaged record answers kCorruption naming the segment file and offset.
  virtual Result<AllSlice> ReadAll(Position from, size_t max_count, Direction direction) = 0;
  // ReadAll(from, max_count, kForward) without copying: each event is passed to `each` as
  // views into the read buffer (for readers that copy what they need into storage they
  // reuse, such as a projection rebuild reading millions of events).
  virtual Result<AllScanEnd> ScanAll(Position from, size_t max_count,
                                     const std::function<void(const RecordedEventView&)>& each) = 0;

  virtual Result<StreamInfo> GetStreamInfo(std::string_view stream) = 0;
  // Metadata of `stream` (from its $$stream). Empty metadata when none was set.
  virtual Result<StreamMetadata> GetMetadata(std::string_view stream) = 0;

  // Streams by most recent write first, names containing `search` (empty: all);
  // for the web UI. Includes system streams only if include_system.
  virtual Result<std::vector<StreamInfo>> ListStreams(std::string_view search, size_t offset,
                                                      size_t limit, bool include_system) = 0;

  // Subscriptions start after `from` (exclusive); nullopt = from the very beginning.
  // SubscribeToAll: `from` is the position of an event already processed, or
  // HeadPosition() for "only what is written from now on" (no record exists there yet);
  // any other position is kInvalidArgument. SubscribeToStream: `from` is an event number.
  virtual Result<std::unique_ptr<Subscription>> SubscribeToAll(std::optional<Position> from) = 0;
  virtual Result<std::unique_ptr<Subscription>> SubscribeToStream(std::string stream,
                                                                  std::optional<int64_t> from) = 0;

  // Called on the writer thread after every group commit with the new head position.
  // Must be cheap and must not call back into the Store. Returns an id for removal.
  virtual uint64_t AddCommitListener(std::function<void(Position head)> listener) = 0;
  virtual void RemoveCommitListener(uint64_t id) = 0;

  // End of the acknowledged log: every event with a smaller position is readable.
  virtual Position HeadPosition() const = 0;
  virtual Stats GetStats() const = 0;
  static const std::vector<uint64_t>& FsyncBucketBounds();

  // Finishes queued appends, syncs, stops the writer, releases the lock. Idempotent.
  virtual Status Close() = 0;
};

}  // namespace dt::store

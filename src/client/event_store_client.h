// EventStoreClient: how the Debt Tracker API talks to its event store.
//
// One interface, two implementations:
//  - InProcessClient (in_process_client.h): the engine (store/store.h) linked in; the API
//    process owns the data folder (EVENTSTORE_URL=file:<folder>).
//  - RemoteClient (remote_client.h): the EventStoreDB HTTP API (AtomPub, Basic auth,
//    `$all` followed with ES-LongPoll), so it works against dt-eventstore and against a real
//    EventStoreDB/KurrentDB node started with AtomPub over HTTP enabled.
// Only what both can offer is here: append with an expected version, forward/backward reads
// of one stream, forward pages of `$all` with a long-poll wait, and the head of `$all`.
//
// Positions in `$all` are opaque to callers: AllPosition holds EventStoreDB's
// (commit, prepare) pair; the in-process engine uses its log position for both. A page of
// `$all` is consumed as a whole: `next` is where the following page starts.
//
// Thread-safety: every method may be called from any thread at the same time.
// Lifetime: see each implementation.
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

namespace dt::client {

// Expected versions (EventStoreDB's): these, or an exact event number >= 0.
inline constexpr int64_t kAny = -2;
inline constexpr int64_t kNoStream = -1;
inline constexpr int64_t kStreamExists = -4;

// A position in `$all`. Ordered; Start() is before every event.
struct AllPosition {
  uint64_t commit = 0;
  uint64_t prepare = 0;

  static AllPosition Start() { return {}; }
  // 32 hex digits (16 commit + 16 prepare), the form EventStoreDB's HTTP API uses.
  std::string ToString() const;
  static std::optional<AllPosition> Parse(std::string_view text);

  friend bool operator==(const AllPosition&, const AllPosition&) = default;
  friend auto operator<=>(const AllPosition&, const AllPosition&) = default;
};

// An event to append. data and metadata are JSON texts (metadata may be empty).
struct ProposedEvent {
  Uuid id;
  std::string type;
  std::string data;
  std::string metadata;
};

// An event as read back.
struct ResolvedEvent {
  std::string stream;
  int64_t number = 0;
  Uuid id;
  std::string type;
  std::string data;      // JSON text
  std::string metadata;  // JSON text or ""
  int64_t created_us = 0;  // creation time, microseconds since the Unix epoch
};

// An event as ScanAllForward hands it over: views valid only during the call.
struct ResolvedEventView {
  std::string_view stream;
  int64_t number = 0;
  Uuid id;
  std::string_view type;
  std::string_view data;
  std::string_view metadata;
  int64_t created_us = 0;
};

struct AppendResult {
  int64_t first_number = 0;
  int64_t last_number = 0;  // the stream's version after the append
};

struct StreamPage {
  std::vector<ResolvedEvent> events;  // in the direction read
  int64_t last_number = -1;           // the stream's version when read (-1 when unknown)
  bool end_of_stream = false;         // no more events in this direction
};

struct AllPage {
  std::vector<ResolvedEvent> events;  // forward order; system events ('$' types) left out
  AllPosition next;                   // where the next page starts
  bool end_of_log = false;            // nothing more after `next` (now)
};

class EventStoreClient {
 public:
  virtual ~EventStoreClient() = default;

  // Appends atomically if expected_version holds. Appending events whose ids are already
  // at the positions implied by expected_version succeeds and writes nothing (the store's
  // idempotency); callers that need to know read the stream. Errors:
  // kWrongExpectedVersion (current_version set), kStreamDeleted, kTooLarge,
  // kUnavailable (cannot reach the store), kInvalidArgument.
  virtual Result<AppendResult> Append(std::string_view stream, int64_t expected_version,
                                      std::vector<ProposedEvent> events) = 0;

  // Append without waiting: `done` runs once the append is durable or has failed, on a
  // thread of the client's (the in-process engine: its writer thread, so `done` must be
  // quick) or on the calling thread, possibly before this returns. The default runs Append
  // and then `done` on the calling thread.
  using AppendCallback = std::function<void(Result<AppendResult>)>;
  virtual void AppendAsync(std::string_view stream, int64_t expected_version,
                           std::vector<ProposedEvent> events, AppendCallback done) {
    done(Append(stream, expected_version, std::move(events)));
  }
  // For shutdown, before what AppendAsync callbacks use goes away: fails the appends in
  // flight (their callbacks run before this returns; the store may still have written them)
  // and answers every later AppendAsync with kUnavailable at once. Other calls still work.
  // The default does nothing (its AppendAsync answers before it returns; the in-process
  // engine answers within its group commit).
  virtual void StopAppends() {}

  // Reads up to max_count events forward from `from` (inclusive). Errors: kStreamNotFound
  // (missing or soft-deleted), kStreamDeleted, kUnavailable.
  virtual Result<StreamPage> ReadStreamForward(std::string_view stream, int64_t from,
                                               size_t max_count) = 0;
  // Reads up to max_count events backward from `from` (-1: the last event).
  virtual Result<StreamPage> ReadStreamBackward(std::string_view stream, int64_t from,
                                                size_t max_count) = 0;

  // One page of `$all` forward from `from`. When nothing is there yet, waits up to
  // long_poll for events (0: answer at once). Needs admin rights on a secured node.
  virtual Result<AllPage> ReadAllForward(const AllPosition& from, size_t max_count,
                                         std::chrono::milliseconds long_poll) = 0;
  // ReadAllForward(from, max_count, 0) with each event passed to `each` instead of into a
  // page: for a reader of millions of events that copies only what it keeps (the in-process
  // client hands over views into the engine's read buffer; the default reads a page). *next
  // and *end_of_log as the page's next and end_of_log.
  virtual Status ScanAllForward(const AllPosition& from, size_t max_count,
                                const std::function<void(const ResolvedEventView&)>& each,
                                AllPosition* next, bool* end_of_log);

  // The end of `$all` now (what a reader that starts here sees as "caught up").
  virtual Result<AllPosition> ReadHead() = 0;

  // What the client talks to, for logs: "in-process engine at <folder>" / "http://host:port".
  virtual std::string Describe() const = 0;
};

// Reads a whole stream forward into `out` (pages of 500). kStreamNotFound when missing.
Status ReadWholeStream(EventStoreClient& client, std::string_view stream,
                       std::vector<ResolvedEvent>& out);

}  // namespace dt::client

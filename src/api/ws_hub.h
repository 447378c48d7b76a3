// RealtimeHub: the real-time channel behind GET /ws. Each user's changes are pushed to that
// user's WebSockets once they are visible to reads.
//
// Source: the read model's `events` table, followed by `seq` (the order the projector
// applied the events in: the same after a rebuild and for every API instance on one
// database). The hub thread reads the events after its position whenever the projector has
// committed a batch (Notify(), wired to Projector::SetAppliedListener) and every `poll`
// anyway, so an instance whose projector is on standby delivers too. Each event becomes one
// message, built once and handed to every socket of its user. Because messages are read
// back from the read model, a client that refetches on a message finds the change.
//
// Message: {"type": "contact_created" | ... | "transaction_deleted", "data": {...},
//           "checkpoint": "<n>"}
//   data: the entity as the REST API shows it (contacts with balance and balances) plus
//         event_id (what DELETE /api/admin/events/{id} undoes);
//   checkpoint: the ?since= value that resumes right after this message.
// SendAfterCatchUp() adds messages that are not events (events_synced).
//
// Every subscriber starts by catching up from a cursor (its ?since=, or the hub's position
// when it connected): a catch-up thread reads the user's events after the cursor from the
// read model and sends them, keeping the socket's queue below half its limit; meanwhile the
// hub keeps what it would have sent in a bounded pending list. The switch to live happens
// under the hub's lock after the pending messages not yet sent (by seq) went out, so a
// client sees every event once, in order.
//
// Slow clients: the hub never waits for a socket. A live socket whose queue is full is
// dropped by dt_http; a catching-up subscriber whose pending list overflows is closed (the
// app reconnects with ?since=).
//
// Thread-safety: all public methods from any thread. Lifetime: the store must outlive the
// hub; Stop() (also the destructor) joins its threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "http/websocket.h"
#include "readmodel/read_model_store.h"

namespace dt::api {

// Where a subscriber starts: events with seq > after_seq and occurred_at > occurred_after.
struct Cursor {
  int64_t after_seq = -1;
  std::string occurred_after;  // RFC 3339 as stored, "" = any
};

class RealtimeHub {
 public:
  struct Options {
    size_t page = 500;                         // events per read model query
    std::chrono::milliseconds poll{100};       // read anyway this often (standby instances)
    size_t socket_queue_limit = 256;           // the server's WebSocketOptions::max_queued_messages
    size_t max_pending = 4096;                 // per catching-up subscriber; beyond: closed
  };

  struct Stats {
    size_t subscribers = 0;
    size_t live = 0;
    int64_t position = -1;      // last seq dispatched
    uint64_t messages = 0;      // messages handed to sockets
    uint64_t closed_behind = 0; // subscribers closed because they fell too far behind
  };

  RealtimeHub(readmodel::ReadModelStore& store, Options options);
  ~RealtimeHub();
  RealtimeHub(const RealtimeHub&) = delete;
  RealtimeHub& operator=(const RealtimeHub&) = delete;

  // Starts at the read model's current end and starts the threads.
  Status Start();
  void Stop();

  // New events may be in the read model. Returns at once. `applied_seq`: the newest seq the
  // caller knows is applied (-1: unknown); with no subscriber at all the hub moves its
  // position there without reading the events (there is no one to send them to).
  void Notify(int64_t applied_seq = -1);

  // Adds a socket of `user_id`. With a cursor its missed events are replayed first; without
  // one it gets what is applied from now on.
  void Subscribe(const std::shared_ptr<http::WebSocket>& ws, const std::string& user_id,
                 std::optional<Cursor> cursor);
  void Unsubscribe(const http::WebSocket* ws);

  // Sends `message` to the user's sockets after every event committed before this call.
  void SendAfterCatchUp(const std::string& user_id, std::string message);

  Stats GetStats();

  // The message for one event row; nullopt for events that are not pushed (settings).
  std::optional<std::string> BuildMessage(const readmodel::EventRow& row);

 private:
  struct Subscriber;
  struct Pending {
    int64_t seq = -1;
    bool custom = false;  // not an event: always sent
    std::string text;
  };

  void HubLoop();
  void CatchUpLoop();
  Status Drain();
  // One catch-up round for `s`: 1 = done (now live), 0 = progress, -1 = waiting for its
  // socket to drain, -2 = gone.
  int CatchUpStep(const std::shared_ptr<Subscriber>& s);
  void DeliverLocked(Subscriber& s, int64_t seq, bool custom, const std::string& text);

  readmodel::ReadModelStore& store_;
  const Options options_;

  std::mutex mu_;  // guards everything below up to the next comment, and Subscriber state
  std::unordered_map<std::string, std::vector<std::shared_ptr<Subscriber>>> by_user_;
  std::unordered_map<const http::WebSocket*, std::shared_ptr<Subscriber>> by_socket_;
  int64_t position_ = -1;  // written by the hub thread only
  int64_t applied_hint_ = -1;  // newest seq Notify() was told of
  std::vector<std::pair<std::string, std::string>> custom_;  // (user, message) to send
  uint64_t messages_ = 0;
  uint64_t closed_behind_ = 0;

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool notified_ = false;  // guarded by wake_mu_
  std::deque<std::shared_ptr<Subscriber>> catching_up_;  // guarded by wake_mu_
  std::condition_variable catch_cv_;

  std::atomic<bool> stop_{false};
  std::thread hub_thread_;
  std::thread catch_thread_;
};

}  // namespace dt::api

// TrackerService: the write side of the debt domain (contacts, transactions, settings).
//
// Each command loads the aggregate from its stream (its last event carries the whole state),
// validates, and appends one event with the version it read as the expected version:
//  - with If-Match (ctx.if_match), exactly that version; a mismatch -> kWrongExpectedVersion
//    carrying the current version (HTTP 412), nothing written;
//  - without, a concurrent writer makes it re-read and retry (bounded: kMaxAttempts), so no
//    update is ever lost from the log.
// With an Idempotency-Key (ctx.idempotency) see idempotency.h: the answer to a repeated
// request is rebuilt from the stored event, byte for byte the same.
//
// An update that changes nothing (an empty body, or values equal to the current ones) writes
// no event: it answers as a successful update with the current version (If-Match is checked
// as for any update: a stale one is a 412). With an Idempotency-Key, that answer is recorded
// in the key's stream (UpdateChangedNothing), so a retry answers the same even after later
// changes. Commands with an explicit event id (offline sync, undo) still write their event.
//
// Results carry the HTTP-facing answer (created?, JSON body) and the (stream, event number)
// the caller waits for in the read model before answering (read-your-writes).
//
// Errors: kInvalidArgument (400, names the field), kNotFound (404: missing, deleted or
// another user's), kWrongExpectedVersion (412), kConflict (422: idempotency key reused),
// kUnavailable (503: store unreachable or too much contention).
//
// Thread-safety: all methods, any thread. Lifetime: the client must outlive the service.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/event_store_client.h"
#include "tracker/idempotency.h"
#include "tracker/model.h"

namespace dt::tracker {

struct CommandContext {
  std::string user_id;
  std::string request_id;
  std::optional<int64_t> if_match;
  std::optional<IdempotencyContext> idempotency;
  // The id of the event to write (offline sync: the client's event id; undo: derived from
  // the undone event). Like an idempotency key's event id: when the aggregate's stream
  // already holds it, the command answers from that stored event and writes nothing.
  std::optional<Uuid> event_id;
  // Creates only: the new aggregate's id (offline sync: the client's id). An id already in
  // use by another aggregate answers kConflict.
  std::optional<std::string> aggregate_id;
  // Metadata: `source` ("api", "sync", "undo") and extra keys merged in (may be null).
  std::string source = "api";
  nlohmann::json extra_metadata;
};

struct CommandResult {
  bool created = false;       // 201 rather than 200
  nlohmann::json body;        // the answer
  // When not empty, the answer as JSON text (a fresh create's, written without building a
  // tree; it holds "version" = event_number). `body` is then null when the command returned
  // before its event was durable (TrackerService::Durable), else the same answer.
  std::string body_text;
  std::string stream;         // where the event went
  int64_t event_number = -1;  // its number: wait for it in the read model
  bool replayed = false;      // answered from an event an earlier request wrote
};

class TrackerService {
 public:
  // Attempts of one command against concurrent writers; between attempts a randomised,
  // growing pause (up to 20 ms) lets the contenders spread out.
  static constexpr int kMaxAttempts = 32;

  // Where a transaction's contact is looked up first, if set (the read model's contacts by
  // user and id; nullopt when it has none). A live contact found there is taken as it is: every
  // answered contact write is already in the read model (read-your-writes), so it answers
  // as a read of the contact's stream would, without a round trip to the event store (see
  // docs/DESIGN.md). Anything else (not there, deleted, an error) is decided by the stream.
  using ContactLookup = std::function<Result<std::optional<Contact>>(const std::string& user_id,
                                                                     const std::string& id)>;

  explicit TrackerService(client::EventStoreClient& store, ContactLookup contacts = {})
      : store_(store), contacts_(std::move(contacts)) {}

  // Creates may leave the append running: with `durable` set, a create without a fixed
  // event id or aggregate id (no Idempotency-Key, no explicit id) returns its answer (as it
  // reads once appended) as soon as the append is queued, and `durable` runs when the event
  // is durable (Ok) or its append failed, on the event store client's thread (keep it quick:
  // the in-process engine's writer) or before this returns. Other creates block and run
  // `durable(Ok)` before returning. Either way `durable` runs exactly once when the result is
  // ok, and never when it is an error.
  using Durable = std::function<void(Status)>;

  Result<CommandResult> CreateContact(const CommandContext& ctx, const nlohmann::json& body,
                                      Durable durable = {});
  Result<CommandResult> UpdateContact(const CommandContext& ctx, const std::string& id,
                                      const nlohmann::json& body);
  Result<CommandResult> DeleteContact(const CommandContext& ctx, const std::string& id,
                                      const nlohmann::json& body);
  Result<CommandResult> CreateTransaction(const CommandContext& ctx, const nlohmann::json& body,
                                          Durable durable = {});
  Result<CommandResult> UpdateTransaction(const CommandContext& ctx, const std::string& id,
                                          const nlohmann::json& body);
  Result<CommandResult> DeleteTransaction(const CommandContext& ctx, const std::string& id,
                                          const nlohmann::json& body);
  Result<CommandResult> SetSetting(const CommandContext& ctx, const std::string& key,
                                   const nlohmann::json& body);

  // The full history of an aggregate's stream ("contact-{id}" / "transaction-{id}") if it
  // belongs to user_id, else kNotFound. Deleted aggregates keep their history.
  Result<std::vector<client::ResolvedEvent>> History(const std::string& user_id,
                                                     const std::string& stream);

 private:
  struct Loaded;
  Result<Loaded> Load(const std::string& stream, const CommandContext& ctx);
  Result<Contact> LoadLiveContact(const std::string& user_id, const std::string& contact_id);
  // The generic write loop for updates and deletes (see the class comment); claims the
  // request's Idempotency-Key first.
  template <typename Decide>
  Result<CommandResult> Change(const CommandContext& ctx, const std::string& stream,
                               Decide&& decide);
  template <typename Build>
  Result<CommandResult> Create(const CommandContext& ctx, const std::string& prefix,
                               Build&& build, Durable durable);
  template <typename Build>
  Result<CommandResult> CreateBlocking(const CommandContext& ctx, const std::string& stream,
                                       const std::string& id, Build& build);
  Result<CommandResult> Finish(const CommandContext& ctx, const std::string& stream,
                               const client::ProposedEvent& event, const nlohmann::json& data,
                               int64_t number);
  std::string Metadata(const CommandContext& ctx) const;
  // The answer of an update that changed nothing (see above): `type` and `data` as the
  // update's event would have them, `version` the stream's current one.
  Result<CommandResult> Unchanged(const CommandContext& ctx, const std::string& stream,
                                  std::string_view type, const nlohmann::json& data,
                                  int64_t version);
  // The answer an earlier request with this Idempotency-Key recorded with Unchanged(), if any:
  // looked for in `key_events` (the key's stream as its claim read it) when given, else read.
  Result<std::optional<CommandResult>> RecordedUnchanged(
      const CommandContext& ctx, const std::vector<client::ResolvedEvent>* key_events);

  client::EventStoreClient& store_;
  const ContactLookup contacts_;
};

// The answer a stored event stands for (used on replays and for fresh events alike).
Result<CommandResult> ResultFromEvent(const client::ResolvedEvent& e);
Result<CommandResult> ResultFromEventData(const std::string& stream, int64_t number,
                                          std::string_view type, const nlohmann::json& data);
// True for streams of the debt domain the projector and history care about.
bool IsDomainStream(std::string_view stream);

}  // namespace dt::tracker

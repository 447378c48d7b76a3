// SyncService: applies events the app recorded offline (POST /api/sync/events).
//
// Each offline event (CREATED / UPDATED / DELETED on a contact or transaction, with the
// client's event id and aggregate id) becomes the same domain command as the REST API
// (TrackerService), with the same validation, and is written with the client's event id.
//
// Idempotent by event id, durably (the record lives in the event store only):
//  - Before writing, the event id is claimed for its content: a `SyncEventClaimed` event
//    in stream `syncevent-{uuid5(ns, user_id + "\n" + event_id)}` whose own id is derived
//    from the content's fingerprint (SHA-256 of the canonical JSON of aggregate_type,
//    aggregate_id, event_type, event_data and version). Identical racers collapse into one
//    claim; a different event under a claimed id is a conflict ("id_reused").
//  - The command is written with the client's event id; a repeat finds that id in the
//    aggregate's stream and is reported accepted again without writing anything.
// An event that cannot be applied is reported in `conflicts`, never written, with a reason:
//   id_reused      the id was used for a different event
//   not_found      the aggregate does not exist (or is another user's)
//   deleted        the aggregate is deleted (an update or delete of something deleted)
//   stale_version  `version` is not the aggregate's current version + 1 (someone changed it)
//   exists         a CREATED whose aggregate id is already taken
//   invalid        the REST validation refused the data (the message names the field)
// Events without a usable envelope (missing or malformed id, aggregate_type, event_type)
// make the whole batch a 400 before anything is written (ParseOfflineBatch).
//
// `version` (optional) of an offline event is the version the aggregate has after it (as
// in GET /api/sync/events): 0 for CREATED, current + 1 for UPDATED/DELETED. Without it an
// update applies to whatever the current version is (like REST without If-Match).
//
// Thread-safety: any thread. Lifetime: the client and the tracker must outlive it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/event_store_client.h"
#include "common/status.h"
#include "common/uuid.h"
#include "tracker/sync_format.h"
#include "tracker/tracker_service.h"

namespace dt::tracker {

inline constexpr size_t kMaxOfflineEvents = 1000;

struct OfflineEvent {
  Uuid id;
  std::string aggregate_type;  // "contact" | "transaction"
  std::string aggregate_id;    // canonical UUID
  SyncKind kind = SyncKind::kCreated;
  nlohmann::json data;         // event_data (an object; DELETED may have none: null)
  std::optional<int64_t> version;
  std::string timestamp;       // as the client sent it ("" when absent)
  std::string fingerprint;     // hex SHA-256 of the canonical content
};

// The POST body: a JSON array of events (or {"events": [...]}). kInvalidArgument naming the
// event's index and field; more than kMaxOfflineEvents is refused too.
Result<std::vector<OfflineEvent>> ParseOfflineBatch(const nlohmann::json& body);

struct SyncOutcome {
  std::string id;
  bool accepted = false;
  bool written = false;                 // accepted and written by this call (not a repeat)
  std::string reason;                   // for conflicts (see above)
  std::string error;                    // human-readable, for conflicts
  std::optional<int64_t> current_version;
  std::string stream;                   // accepted: where the event is
  int64_t event_number = -1;
};

class SyncService {
 public:
  SyncService(client::EventStoreClient& store, TrackerService& tracker)
      : store_(store), tracker_(tracker) {}

  // Applies the events in order. A store failure (kUnavailable, ...) stops the batch and is
  // returned; what was written stays written, and a retry of the batch is safe.
  Result<std::vector<SyncOutcome>> Apply(const std::string& user_id, const std::string& request_id,
                                         const std::vector<OfflineEvent>& events);

 private:
  Result<SyncOutcome> ApplyOne(const std::string& user_id, const std::string& request_id,
                               const OfflineEvent& e);
  // nullopt: no claim yet; true: claimed for this content; false: for another content.
  Result<std::optional<bool>> ReadClaim(const std::string& stream, const OfflineEvent& e);
  Result<bool> Claim(const std::string& user_id, const std::string& request_id,
                     const OfflineEvent& e);
  // Why the command would fail right now (nullopt: it should succeed).
  Result<std::optional<SyncOutcome>> Precheck(const std::string& user_id, const OfflineEvent& e);
  Result<CommandResult> Run(const CommandContext& ctx, const OfflineEvent& e);

  client::EventStoreClient& store_;
  TrackerService& tracker_;
};

// The namespace of claim stream ids (never change it: ids on disk depend on it).
const Uuid& SyncClaimNamespace();

}  // namespace dt::tracker

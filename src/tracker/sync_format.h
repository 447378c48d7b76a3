// SyncFormat: how the domain's events look to the app's offline sync (GET/POST
// /api/sync/events) and to its real-time channel (GET /ws). Pure functions.
//
// The app speaks three event types on two aggregate types: CREATED, UPDATED, DELETED on
// "contact" and "transaction". A domain event maps to one of them by its outcome:
//   ContactCreated / TransactionCreated                 -> CREATED
//   ContactUpdated / TransactionUpdated                 -> UPDATED, except an update that
//                                                          brings a deleted entity back (an
//                                                          undone delete, `restored: true`)
//                                                          -> CREATED
//   ContactDeleted / TransactionDeleted                 -> DELETED
// Settings and every other event are not part of sync (nullopt).
//
// `event_data` of a sync event is the entity's whole state after the event (for DELETED:
// its last state), flat, as the REST API shows it minus the computed fields (no `user_id`,
// `version`, `balance`), plus `comment` (the audit "why") and, for compensating events,
// `undo_of` (the undone event's id). So a client folds events into entities by id:
// CREATED/UPDATED = upsert the state, DELETED = remove.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dt::tracker {

enum class SyncKind { kCreated, kUpdated, kDeleted };

struct SyncView {
  std::string aggregate_type;  // "contact" | "transaction"
  SyncKind kind = SyncKind::kCreated;
  nlohmann::json state;        // the entity after the event, with user_id (as in the event)
  std::string comment;
  std::string undo_of;         // "" unless a compensating event
};

// nullopt when the event is not a contact/transaction event or its data is malformed.
std::optional<SyncView> ToSyncView(std::string_view event_type, const nlohmann::json& data);

// "CREATED" | "UPDATED" | "DELETED".
std::string_view SyncKindName(SyncKind kind);
// Case-insensitive "CREATED" / "UPDATED" / "DELETED" (also "create", "update", "delete").
std::optional<SyncKind> ParseSyncKind(std::string_view text);

// The `event_data` of a sync event (see above).
nlohmann::json SyncEventData(const SyncView& view);

// The WebSocket message type: "contact_created", "transaction_deleted", ...
std::string RealtimeType(const SyncView& view);

}  // namespace dt::tracker

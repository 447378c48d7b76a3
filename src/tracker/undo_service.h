// UndoService: the app's "undo" of an action it just made (DELETE /api/admin/events/{id}).
//
// Events are append-only: undo appends a compensating event to the undone event's stream,
// using the domain's own event types, so the read model, the audit trail, sync and the
// real-time channel need nothing special. The original stays in the history; the
// compensating event carries `undo_of` (the undone event's id) and the comment
// "Undo of <type> <id>":
//   XCreated                    -> XDeleted (deleted_snapshot = the created state)
//   XUpdated                    -> XUpdated back to the state before (changes/previous say
//                                  what was reverted)
//   XDeleted                    -> XUpdated to the deleted state with `restored: true`
//   an update after a delete    -> XDeleted (the entity was deleted before)
//   SettingChanged              -> SettingChanged back to the previous value (the default's
//                                  text when there was none)
// Only the newest event of a stream can be undone (undoing an older one would also revert
// what came after it): otherwise kWrongExpectedVersion with the current version.
// The compensating event's id is uuid5(UndoNamespace, undone event id): a repeated undo
// finds it and answers the same without writing (idempotent), racing undos collapse into one.
// The time window (5 s) is the caller's business (api/undo.cc).
//
// Thread-safety: any thread. Lifetime: the client must outlive the service.
#pragma once

#include <string>

#include "client/event_store_client.h"
#include "common/uuid.h"
#include "tracker/tracker_service.h"

namespace dt::tracker {

struct UndoTarget {
  std::string stream;    // "contact-{id}", "transaction-{id}", "settings-{user_id}"
  int64_t number = 0;    // the undone event's number in its stream
  Uuid event_id;         // the undone event's id
};

class UndoService {
 public:
  explicit UndoService(client::EventStoreClient& store) : store_(store) {}

  // ctx: user_id, request_id (If-Match and idempotency are not used). kNotFound when the
  // stream holds no such event of this user; kWrongExpectedVersion (current version) when
  // the stream changed after the event. The result's body:
  // {message, event_id, undo_event_id, event_type, aggregate_type, aggregate_id, version}.
  Result<CommandResult> Undo(const CommandContext& ctx, const UndoTarget& target);

 private:
  client::EventStoreClient& store_;
};

// The compensating event's id for an undone event.
Uuid UndoEventId(const Uuid& undone);

}  // namespace dt::tracker

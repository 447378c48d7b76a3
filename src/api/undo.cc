// DELETE /api/admin/events/{event_id}: the app's undo of an action it just made.
#include <nlohmann/json.hpp>

#include "api/error_mapping.h"
#include "api/sync_api.h"
#include "client/time_util.h"

namespace dt::api {

using json = nlohmann::json;
using S = http::HttpStatus;

http::Response SyncApi::UndoEvent(const http::Exchange& ex) {
  auto claims = AuthenticateBearer(*d_.jwt, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto id = Uuid::Parse(ex.Param("event_id"));
  if (!id) return JsonError(S::bad_request, "event_id in the path must be a UUID");
  if (Status k = ClaimRequestKey(*d_.events, ex, claims->user_id, json()); !k.ok()) {
    return ErrorFromStatus(k, ex.request_id);
  }
  auto row = d_.store->FindEvent(claims->user_id, id->ToString());
  if (!row.ok()) return ErrorFromStatus(row.status(), ex.request_id);
  if (!row->has_value()) return JsonError(S::not_found, "Event not found");
  const readmodel::EventRow& e = **row;

  auto at = ParseRfc3339Micros(e.occurred_at);
  if (!at) return ErrorFromStatus(Status::Internal("bad occurred_at " + e.occurred_at), ex.request_id);
  int64_t age_us = NowMicros() - *at;
  if (age_us > std::chrono::duration_cast<std::chrono::microseconds>(d_.undo_window).count()) {
    // Undone in time and asked again (a retry after a lost answer): the first answer, below.
    auto undone = d_.store->FindEvent(claims->user_id, tracker::UndoEventId(*id).ToString());
    if (!undone.ok()) return ErrorFromStatus(undone.status(), ex.request_id);
    if (!undone->has_value()) {
      return JsonOk(S::bad_request,
                    {{"error", "Event is too old to delete"}, {"age_seconds", age_us / 1000000}});
    }
  }

  tracker::CommandContext ctx;
  ctx.user_id = claims->user_id;
  ctx.request_id = ex.request_id;
  ctx.source = "undo";
  auto r = d_.undo->Undo(ctx, tracker::UndoTarget{e.stream, e.version, *id});
  if (!r.ok()) {
    if (r.status().Is(Code::kWrongExpectedVersion)) {
      return JsonOk(S::conflict, {{"error", "Cannot undo: " + r.status().message()},
                                  {"current_version", r.status().current_version()}});
    }
    return ErrorFromStatus(r.status(), ex.request_id);
  }
  d_.projector->WaitApplied(r->stream, r->event_number, d_.read_your_writes_timeout, r->replayed);
  return JsonOk(S::ok, r->body);
}

}  // namespace dt::api

#include "tracker/sync_service.h"

#include "client/time_util.h"
#include "tracker/events.h"
#include "tracker/idempotency.h"
#include "tracker/model.h"
#include "tracker/validation.h"

namespace dt::tracker {

using json = nlohmann::json;

namespace {

constexpr std::string_view kClaimPrefix = "syncevent-";
constexpr std::string_view kSyncEventClaimed = "SyncEventClaimed";

Status BadEvent(size_t index, std::string_view field, std::string_view problem) {
  return Status::InvalidArgument("event " + std::to_string(index) + ": field '" +
                                 std::string(field) + "' " + std::string(problem));
}

std::optional<std::string> CanonicalUuid(const json& j) {
  if (!j.is_string()) return std::nullopt;
  auto u = Uuid::Parse(j.get<std::string>());
  if (!u) return std::nullopt;
  return u->ToString();
}

SyncOutcome Conflict(const OfflineEvent& e, std::string reason, std::string error,
                     std::optional<int64_t> current = std::nullopt) {
  SyncOutcome o;
  o.id = e.id.ToString();
  o.reason = std::move(reason);
  o.error = std::move(error);
  o.current_version = current;
  return o;
}

std::string Stream(const OfflineEvent& e) {
  return e.aggregate_type == "contact" ? ContactStream(e.aggregate_id)
                                       : TransactionStream(e.aggregate_id);
}

std::string Noun(const OfflineEvent& e) {
  return e.aggregate_type == "contact" ? "Contact" : "Transaction";
}

// The owner and deletion state of an aggregate's last event (false: not this user's or
// unreadable).
bool OwnedState(const client::ResolvedEvent& last, const std::string& user_id, bool& deleted) {
  json d = json::parse(last.data, nullptr, false);
  if (!d.is_object() || d.value("user_id", "") != user_id) return false;
  deleted = last.type == event_type::kContactDeleted || last.type == event_type::kTransactionDeleted;
  return true;
}

}  // namespace

const Uuid& SyncClaimNamespace() {
  static const Uuid kNs = *Uuid::Parse("6f0e2b7c-3d1a-4e59-b8c4-92a7d5e1f036");
  return kNs;
}

Result<std::vector<OfflineEvent>> ParseOfflineBatch(const json& body) {
  const json* list = &body;
  if (body.is_object() && body.contains("events")) list = &body["events"];
  if (!list->is_array()) {
    return Status::InvalidArgument("request body must be a JSON array of events");
  }
  if (list->size() > kMaxOfflineEvents) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxOfflineEvents) +
                                   " events per request; send the rest in another request");
  }
  std::vector<OfflineEvent> out;
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const json& j = (*list)[i];
    if (!j.is_object()) {
      return Status::InvalidArgument("event " + std::to_string(i) + " must be a JSON object");
    }
    OfflineEvent e;
    auto id = j.find("id");
    if (id == j.end()) return BadEvent(i, "id", "is required");
    auto uid = CanonicalUuid(*id);
    if (!uid) return BadEvent(i, "id", "must be a UUID");
    e.id = *Uuid::Parse(*uid);

    auto at = j.find("aggregate_type");
    if (at == j.end() || !at->is_string()) return BadEvent(i, "aggregate_type", "is required");
    std::string type = at->get<std::string>();
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type != "contact" && type != "transaction") {
      return BadEvent(i, "aggregate_type", "must be \"contact\" or \"transaction\"");
    }
    e.aggregate_type = type;

    auto et = j.find("event_type");
    if (et == j.end() || !et->is_string()) return BadEvent(i, "event_type", "is required");
    auto kind = ParseSyncKind(et->get<std::string>());
    if (!kind) return BadEvent(i, "event_type", "must be CREATED, UPDATED or DELETED");
    e.kind = *kind;

    auto data = j.find("event_data");
    if (data != j.end() && data->is_string()) {
      // Some clients send the data as a JSON text.
      e.data = json::parse(data->get<std::string>(), nullptr, false);
      if (!e.data.is_object()) return BadEvent(i, "event_data", "must be a JSON object");
    } else if (data != j.end() && !data->is_null()) {
      if (!data->is_object()) return BadEvent(i, "event_data", "must be a JSON object");
      e.data = *data;
    } else if (e.kind != SyncKind::kDeleted) {
      return BadEvent(i, "event_data", "is required");
    }

    auto agg = j.find("aggregate_id");
    std::optional<std::string> aid;
    if (agg != j.end() && !agg->is_null()) {
      aid = CanonicalUuid(*agg);
      if (!aid) return BadEvent(i, "aggregate_id", "must be a UUID");
    } else if (e.data.is_object() && e.data.contains("id")) {
      aid = CanonicalUuid(e.data["id"]);
    }
    if (!aid) return BadEvent(i, "aggregate_id", "is required");
    e.aggregate_id = *aid;

    auto v = j.find("version");
    if (v != j.end() && !v->is_null()) {
      if (!v->is_number_integer() || v->get<int64_t>() < 0) {
        return BadEvent(i, "version", "must be a non-negative integer");
      }
      e.version = v->get<int64_t>();
    }
    auto ts = j.find("timestamp");
    if (ts != j.end() && ts->is_string()) e.timestamp = ts->get<std::string>();

    json content = {{"aggregate_type", e.aggregate_type},
                    {"aggregate_id", e.aggregate_id},
                    {"event_type", SyncKindName(e.kind)},
                    {"event_data", e.data},
                    {"version", e.version ? json(*e.version) : json(nullptr)}};
    e.fingerprint = Sha256Hex(content.dump());
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<SyncOutcome>> SyncService::Apply(const std::string& user_id,
                                                    const std::string& request_id,
                                                    const std::vector<OfflineEvent>& events) {
  std::vector<SyncOutcome> out;
  out.reserve(events.size());
  for (const auto& e : events) {
    DT_ASSIGN_OR_RETURN(SyncOutcome o, ApplyOne(user_id, request_id, e));
    out.push_back(std::move(o));
  }
  return out;
}

Result<SyncOutcome> SyncService::ApplyOne(const std::string& user_id,
                                          const std::string& request_id, const OfflineEvent& e) {
  const Uuid claim_id = Uuid::NameBased(SyncClaimNamespace(), user_id + "\n" + e.id.ToString());
  const std::string claim_stream = std::string(kClaimPrefix) + claim_id.ToString();
  DT_ASSIGN_OR_RETURN(std::optional<bool> claim, ReadClaim(claim_stream, e));
  if (claim && !*claim) {
    return Conflict(e, "id_reused", "event id " + e.id.ToString() + " was already used for a different event");
  }
  if (!claim) {
    // Refuse what cannot apply before claiming, so a refused id stays free.
    DT_ASSIGN_OR_RETURN(std::optional<SyncOutcome> refused, Precheck(user_id, e));
    if (refused) {
      // An identical racer may have claimed and written this very event since the claim was
      // read (its aggregate then "exists"): that is this event, accepted, not a conflict.
      DT_ASSIGN_OR_RETURN(claim, ReadClaim(claim_stream, e));
      if (!claim) return std::move(*refused);
    } else {
      DT_ASSIGN_OR_RETURN(bool mine, Claim(user_id, request_id, e));
      claim = mine;
    }
    if (!*claim) {
      return Conflict(e, "id_reused", "event id " + e.id.ToString() + " was already used for a different event");
    }
  }
  CommandContext ctx;
  ctx.user_id = user_id;
  ctx.request_id = request_id;
  ctx.event_id = e.id;
  ctx.source = "sync";
  ctx.extra_metadata = {{"sync_event_type", SyncKindName(e.kind)}};
  if (!e.timestamp.empty()) ctx.extra_metadata["client_timestamp"] = e.timestamp;
  if (e.kind == SyncKind::kCreated) {
    ctx.aggregate_id = e.aggregate_id;
  } else if (e.version) {
    ctx.if_match = *e.version - 1;
  }
  auto r = Run(ctx, e);
  if (r.ok()) {
    SyncOutcome o;
    o.id = e.id.ToString();
    o.accepted = true;
    o.written = !r->replayed;
    o.stream = r->stream;
    o.event_number = r->event_number;
    return o;
  }
  const Status& s = r.status();
  switch (s.code()) {
    case Code::kInvalidArgument:
      return Conflict(e, "invalid", s.message());
    case Code::kWrongExpectedVersion:
      return Conflict(e, "stale_version",
                      Noun(e) + " is at version " + std::to_string(s.current_version()) +
                          "; this event was made for version " +
                          std::to_string(e.version.value_or(0) - 1),
                      s.current_version());
    case Code::kConflict:
      return Conflict(e, "exists", Noun(e) + " id " + e.aggregate_id + " is already in use");
    case Code::kNotFound: {
      // Deleted or missing (possibly changed since the check): say which.
      DT_ASSIGN_OR_RETURN(std::optional<SyncOutcome> why, Precheck(user_id, e));
      if (why && why->reason == "deleted") return std::move(*why);
      return Conflict(e, "not_found", s.message().empty() ? Noun(e) + " not found" : s.message());
    }
    default:
      return s;
  }
}

Result<std::optional<bool>> SyncService::ReadClaim(const std::string& stream,
                                                   const OfflineEvent& e) {
  auto page = store_.ReadStreamForward(stream, 0, 1);
  if (!page.ok()) {
    if (page.status().Is(Code::kStreamNotFound)) return std::optional<bool>();
    return page.status();
  }
  if (page->events.empty()) return std::optional<bool>();
  json d = json::parse(page->events[0].data, nullptr, false);
  return std::optional<bool>(d.is_object() && d.value("fingerprint", "") == e.fingerprint);
}

Result<bool> SyncService::Claim(const std::string& user_id, const std::string& request_id,
                                const OfflineEvent& e) {
  const Uuid claim_id = Uuid::NameBased(SyncClaimNamespace(), user_id + "\n" + e.id.ToString());
  const std::string stream = std::string(kClaimPrefix) + claim_id.ToString();
  json data = {{"user_id", user_id},
               {"event_id", e.id.ToString()},
               {"aggregate_type", e.aggregate_type},
               {"aggregate_id", e.aggregate_id},
               {"event_type", SyncKindName(e.kind)},
               {"fingerprint", e.fingerprint},
               {"occurred_at", FormatRfc3339Micros(NowMicros())}};
  json meta = {{"request_id", request_id}, {"user_id", user_id}, {"source", "sync"}};
  client::ProposedEvent pe{Uuid::NameBased(claim_id, "claim/" + e.fingerprint),
                           std::string(kSyncEventClaimed), data.dump(), meta.dump()};
  auto r = store_.Append(stream, client::kNoStream, {std::move(pe)});
  if (r.ok()) return true;  // ours, or an identical racer's (same event id)
  if (!r.status().Is(Code::kWrongExpectedVersion)) return r.status();
  DT_ASSIGN_OR_RETURN(std::optional<bool> claim, ReadClaim(stream, e));
  if (!claim) return Status::Internal("sync claim vanished: " + stream);
  return *claim;
}

Result<std::optional<SyncOutcome>> SyncService::Precheck(const std::string& user_id,
                                                         const OfflineEvent& e) {
  using Out = std::optional<SyncOutcome>;
  const bool create = e.kind == SyncKind::kCreated;
  Status valid = Status::Ok();
  if (e.kind == SyncKind::kDeleted) {
    valid = ParseComment(e.data).status();
  } else if (e.aggregate_type == "contact") {
    valid = ParseContactInput(e.data, create).status();
  } else {
    valid = ParseTransactionInput(e.data, create).status();
  }
  if (!valid.ok()) return Out(Conflict(e, "invalid", valid.message()));

  auto page = store_.ReadStreamBackward(Stream(e), -1, 1);
  bool exists = page.ok() && !page->events.empty();
  if (!page.ok() && !page.status().Is(Code::kStreamNotFound)) return page.status();
  if (create) {
    if (exists) {
      return Out(Conflict(e, "exists", Noun(e) + " id " + e.aggregate_id + " is already in use"));
    }
    if (e.aggregate_type == "transaction") {
      auto cid = e.data.find("contact_id");
      std::string contact = cid != e.data.end() && cid->is_string() ? cid->get<std::string>() : "";
      auto u = Uuid::Parse(contact);
      if (!u) return Out();  // validation above reports it
      auto c = store_.ReadStreamBackward(ContactStream(u->ToString()), -1, 1);
      if (!c.ok() && !c.status().Is(Code::kStreamNotFound)) return c.status();
      bool deleted = false;
      if (!c.ok() || c->events.empty() || !OwnedState(c->events[0], user_id, deleted) || deleted) {
        return Out(Conflict(e, "not_found", "Contact not found"));
      }
    }
    return Out();
  }
  bool deleted = false;
  if (!exists || !OwnedState(page->events[0], user_id, deleted)) {
    return Out(Conflict(e, "not_found", Noun(e) + " not found"));
  }
  int64_t current = page->events[0].number;
  if (deleted) {
    return Out(Conflict(e, "deleted", Noun(e) + " was deleted", current));
  }
  if (e.version && *e.version != current + 1) {
    return Out(Conflict(e, "stale_version",
                        Noun(e) + " is at version " + std::to_string(current) +
                            "; this event was made for version " + std::to_string(*e.version - 1),
                        current));
  }
  return Out();
}

Result<CommandResult> SyncService::Run(const CommandContext& ctx, const OfflineEvent& e) {
  const bool contact = e.aggregate_type == "contact";
  switch (e.kind) {
    case SyncKind::kCreated:
      return contact ? tracker_.CreateContact(ctx, e.data) : tracker_.CreateTransaction(ctx, e.data);
    case SyncKind::kUpdated:
      return contact ? tracker_.UpdateContact(ctx, e.aggregate_id, e.data)
                     : tracker_.UpdateTransaction(ctx, e.aggregate_id, e.data);
    case SyncKind::kDeleted:
      return contact ? tracker_.DeleteContact(ctx, e.aggregate_id, e.data)
                     : tracker_.DeleteTransaction(ctx, e.aggregate_id, e.data);
  }
  return Status::Internal("unknown sync event kind");
}

}  // namespace dt::tracker

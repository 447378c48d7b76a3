#include "tracker/tracker_service.h"

#include <random>
#include <thread>
#include <type_traits>

#include "client/time_util.h"
#include "common/text_codec.h"
#include "tracker/event_reader.h"
#include "tracker/events.h"
#include "tracker/validation.h"

namespace dt::tracker {

using json = nlohmann::json;
using client::ProposedEvent;
using client::ResolvedEvent;

namespace {

struct Decision {
  std::string_view type;
  json data;
  bool unchanged = false;  // nothing to change: no event (data: only what the answer needs)
  // A create may give its event data as text instead (written without building `data`) and
  // its answer's body with it.
  std::string text{};
  std::optional<json> body{};
  // Or its answer's body as text up to the value of its last member, "version" (e.g.
  // AppendTransactionViewUpToVersion): the event's number and '}' complete it.
  std::string body_text{};
};

std::string EventText(const Decision& d) { return d.text.empty() ? d.data.dump() : d.text; }

// The answer for the fresh event `number` the command decided on.
Result<CommandResult> FreshAnswer(const std::string& stream, int64_t number, Decision& d) {
  if (!d.body_text.empty()) {
    CommandResult r;
    r.stream = stream;
    r.event_number = number;
    r.created = true;
    r.body_text = std::move(d.body_text);
    r.body_text += std::to_string(number);
    r.body_text += '}';
    return r;
  }
  if (!d.body) return ResultFromEventData(stream, number, d.type, d.data);
  CommandResult r;
  r.stream = stream;
  r.event_number = number;
  r.created = true;
  r.body = std::move(*d.body);
  r.body["version"] = number;
  return r;
}

std::string Now() { return FormatRfc3339Micros(NowMicros()); }

// A randomised pause before retry `attempt` (1, 2, ...) after losing a version race.
void Backoff(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  int cap_us = std::min(20000, 250 << std::min(attempt, 7));
  std::this_thread::sleep_for(
      std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap_us)(rng)));
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A command whose event id is fixed in advance (an Idempotency-Key or an explicit id) looks
// for that id in the stream first and answers from the stored event when found.
bool FixedEventId(const CommandContext& ctx) { return ctx.event_id || ctx.idempotency; }

Uuid EventIdFor(const CommandContext& ctx) {
  if (ctx.event_id) return *ctx.event_id;
  if (ctx.idempotency) return ctx.idempotency->EventId();
  return Uuid::Random();
}

// The commands' reader of stored events (each thread keeps its simdjson buffers).
EventReader& Reader() {
  thread_local EventReader reader;
  return reader;
}

bool ContactFromEvent(const ResolvedEvent& e, Contact& c) {
  EventReader& r = Reader();
  bool deleted = e.type == event_type::kContactDeleted;
  if (!r.Parse(e.data) || !r.ContactAt(deleted ? "deleted_snapshot" : "contact", c)) return false;
  c.is_deleted = deleted;
  c.version = e.number;
  return true;
}

bool TransactionFromEvent(const ResolvedEvent& e, Transaction& t) {
  EventReader& r = Reader();
  bool deleted = e.type == event_type::kTransactionDeleted;
  if (!r.Parse(e.data) || !r.TransactionAt(deleted ? "deleted_snapshot" : "transaction", t)) {
    return false;
  }
  t.is_deleted = deleted;
  t.version = e.number;
  return true;
}

template <typename T>
void Apply(const Field<T>& f, const char* name, T& target, const json& old_value, json& changes,
           json& previous) {
  if (!f.present || f.value == target) return;
  previous[name] = old_value;
  target = f.value;
  changes[name] = f.value;
}

json OptJson(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

void ApplyOpt(const Field<std::optional<std::string>>& f, const char* name,
              std::optional<std::string>& target, json& changes, json& previous) {
  if (!f.present || f.value == target) return;
  previous[name] = OptJson(target);
  target = f.value;
  changes[name] = OptJson(f.value);
}

}  // namespace

bool IsDomainStream(std::string_view stream) {
  return StartsWith(stream, kContactPrefix) || StartsWith(stream, kTransactionPrefix) ||
         StartsWith(stream, kSettingsPrefix);
}

Result<CommandResult> ResultFromEvent(const ResolvedEvent& e) {
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object()) return Status::Internal("stored event " + e.stream + " is not JSON");
  return ResultFromEventData(e.stream, e.number, e.type, d);
}

Result<CommandResult> ResultFromEventData(const std::string& stream, int64_t number,
                                          std::string_view type, const json& d) {
  CommandResult r;
  r.stream = stream;
  r.event_number = number;
  ResolvedEvent e;  // only stream, number and type are read below
  e.stream = stream;
  e.number = number;
  e.type = std::string(type);
  if (e.type == event_type::kContactCreated) {
    Contact c;
    auto it = d.find("contact");
    if (it == d.end() || !ContactFromJson(*it, c)) {
      return Status::Internal("bad ContactCreated in " + e.stream);
    }
    c.version = number;
    r.created = true;
    r.body = ContactView(c, 0, {});
  } else if (e.type == event_type::kContactUpdated) {
    r.body = {{"id", d.value("contact_id", "")},
              {"message", "Contact updated successfully"},
              {"version", e.number}};
  } else if (e.type == event_type::kContactDeleted) {
    r.body = {{"id", d.value("contact_id", "")}, {"message", "Contact deleted successfully"}};
  } else if (e.type == event_type::kTransactionCreated) {
    Transaction t;
    auto it = d.find("transaction");
    if (it == d.end() || !TransactionFromJson(*it, t)) {
      return Status::Internal("bad TransactionCreated in " + e.stream);
    }
    t.version = number;
    r.created = true;
    r.body = TransactionView(t);
  } else if (e.type == event_type::kTransactionUpdated) {
    r.body = {{"id", d.value("transaction_id", "")},
              {"message", "Transaction updated successfully"},
              {"version", e.number}};
  } else if (e.type == event_type::kTransactionDeleted) {
    r.body = {{"id", d.value("transaction_id", "")},
              {"message", "Transaction deleted successfully"}};
  } else if (e.type == event_type::kSettingChanged) {
    r.body = {{"key", d.value("key", "")}, {"value", d.value("value", "")}};
  } else {
    return Status::Internal("no answer for event type " + e.type);
  }
  return r;
}

namespace {
Result<CommandResult> Replayed(const ResolvedEvent& e) {
  auto r = ResultFromEvent(e);
  if (r.ok()) r->replayed = true;
  return r;
}
}  // namespace

struct TrackerService::Loaded {
  bool exists = false;
  int64_t version = -1;
  std::optional<ResolvedEvent> last;
  std::optional<ResolvedEvent> replay;  // the event this idempotent request already wrote
};

Result<TrackerService::Loaded> TrackerService::Load(const std::string& stream,
                                                    const CommandContext& ctx) {
  Loaded l;
  if (FixedEventId(ctx)) {
    std::vector<ResolvedEvent> events;
    Status s = client::ReadWholeStream(store_, stream, events);
    if (s.Is(Code::kStreamNotFound)) return l;
    if (!s.ok()) return s;
    if (events.empty()) return l;
    Uuid wanted = EventIdFor(ctx);
    for (auto& e : events) {
      if (e.id == wanted) l.replay = e;
    }
    l.exists = true;
    l.version = events.back().number;
    l.last = std::move(events.back());
    return l;
  }
  auto page = store_.ReadStreamBackward(stream, -1, 1);
  if (!page.ok()) {
    if (page.status().Is(Code::kStreamNotFound)) return l;
    return page.status();
  }
  if (page->events.empty()) return l;
  l.exists = true;
  l.version = page->events[0].number;
  l.last = std::move(page->events[0]);
  return l;
}

std::string TrackerService::Metadata(const CommandContext& ctx) const {
  if (!ctx.extra_metadata.is_object() && !ctx.idempotency) {
    // The common case, written as json::dump writes it (members in name order).
    std::string m = "{\"request_id\":";
    AppendJsonString(m, ctx.request_id);
    m += ",\"source\":";
    AppendJsonString(m, ctx.source);
    m += ",\"user_id\":";
    AppendJsonString(m, ctx.user_id);
    m += '}';
    return m;
  }
  json m = {{"request_id", ctx.request_id}, {"user_id", ctx.user_id}, {"source", ctx.source}};
  if (ctx.extra_metadata.is_object()) {
    for (auto it = ctx.extra_metadata.begin(); it != ctx.extra_metadata.end(); ++it) {
      m[it.key()] = it.value();
    }
  }
  if (ctx.idempotency) {
    m["idempotency_key"] = ctx.idempotency->key;
    m["request_fingerprint"] = ctx.idempotency->fingerprint;
  }
  return m.dump();
}

Result<CommandResult> TrackerService::Finish(const CommandContext& ctx, const std::string& stream,
                                             const ProposedEvent& event, const json& data,
                                             int64_t number) {
  if (FixedEventId(ctx)) {
    // An identical racer may have written "our" event: answer from what is stored. It was
    // written just now (by this request or the racer), so it is not a replay.
    auto page = store_.ReadStreamForward(stream, number, 1);
    if (!page.ok()) return page.status();
    if (page->events.empty()) return Status::Internal("appended event not readable");
    return ResultFromEvent(page->events[0]);
  }
  return ResultFromEventData(stream, number, event.type, data);
}

Result<CommandResult> TrackerService::Unchanged(const CommandContext& ctx,
                                                const std::string& stream, std::string_view type,
                                                const json& data, int64_t version) {
  DT_ASSIGN_OR_RETURN(CommandResult r, ResultFromEventData(stream, version, type, data));
  r.replayed = true;  // nothing written: the event answered for may predate this process
  if (ctx.idempotency) {
    json record = {{"stream", stream}, {"event_number", version}, {"type", type}, {"data", data}};
    ProposedEvent pe{ctx.idempotency->EventId(), std::string(event_type::kUpdateChangedNothing),
                     record.dump(), Metadata(ctx)};
    // An identical racer's record has the same id: the store keeps one.
    auto a = store_.Append(ctx.idempotency->Stream(), client::kAny, {pe});
    if (!a.ok()) return a.status();
  }
  return r;
}

Result<std::optional<CommandResult>> TrackerService::RecordedUnchanged(
    const CommandContext& ctx, const std::vector<ResolvedEvent>* key_events) {
  std::vector<ResolvedEvent> read;
  if (!key_events) {
    auto page = store_.ReadStreamForward(ctx.idempotency->Stream(), 0, kKeyStreamReadCount);
    if (!page.ok()) {
      if (page.status().Is(Code::kStreamNotFound)) return std::optional<CommandResult>();
      return page.status();
    }
    read = std::move(page->events);
    key_events = &read;
  }
  const Uuid wanted = ctx.idempotency->EventId();
  for (const auto& e : *key_events) {
    if (e.id != wanted || e.type != event_type::kUpdateChangedNothing) continue;
    json d = json::parse(e.data, nullptr, false);
    if (!d.is_object() || !d.contains("data")) return Status::Internal("bad " + e.type);
    DT_ASSIGN_OR_RETURN(CommandResult r,
                        ResultFromEventData(d.value("stream", ""), d.value("event_number", -1),
                                            d.value("type", ""), d["data"]));
    r.replayed = true;
    return std::optional<CommandResult>(std::move(r));
  }
  return std::optional<CommandResult>();
}

template <typename Decide>
Result<CommandResult> TrackerService::Change(const CommandContext& ctx, const std::string& stream,
                                             Decide&& decide) {
  // A decide that takes an optional last event may start the stream; one that takes the
  // event itself changes an existing aggregate (a missing one is not found).
  constexpr bool kMayCreate = std::is_invocable_v<Decide&, const std::optional<ResolvedEvent>&>;
  // The claim's read of the key's stream serves the first attempt's look for a recorded
  // "changed nothing" answer; an attempt after a lost version race reads the stream again.
  std::vector<ResolvedEvent> key_events;
  if (ctx.idempotency) {
    DT_RETURN_IF_ERROR(ClaimIdempotencyKey(store_, *ctx.idempotency, ctx.user_id,
                                           ctx.request_id, &key_events));
  }
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    DT_ASSIGN_OR_RETURN(Loaded l, Load(stream, ctx));
    if (l.replay) return Replayed(*l.replay);
    if (!l.exists && !kMayCreate) return Status::NotFound("not found");
    if (ctx.idempotency && !ctx.event_id) {
      DT_ASSIGN_OR_RETURN(std::optional<CommandResult> recorded,
                          RecordedUnchanged(ctx, attempt == 0 ? &key_events : nullptr));
      if (recorded) return std::move(*recorded);
    }
    auto decided = [&] {
      if constexpr (kMayCreate) {
        return decide(l.last);
      } else {
        return decide(*l.last);
      }
    }();
    DT_ASSIGN_OR_RETURN(Decision d, std::move(decided));
    if (ctx.if_match && *ctx.if_match != l.version) {
      return Status::WrongExpectedVersion(l.version, "version mismatch");
    }
    if (d.unchanged && !ctx.event_id) return Unchanged(ctx, stream, d.type, d.data, l.version);
    int64_t expected = ctx.if_match ? *ctx.if_match : l.version;
    ProposedEvent pe{EventIdFor(ctx),
                     std::string(d.type), d.data.dump(), Metadata(ctx)};
    auto r = store_.Append(stream, expected, {pe});
    if (r.ok()) return Finish(ctx, stream, pe, d.data, r->last_number);
    if (!r.status().Is(Code::kWrongExpectedVersion)) return r.status();
    if (ctx.if_match) {
      return Status::WrongExpectedVersion(r.status().current_version(), "version mismatch");
    }
    Backoff(attempt + 1);
  }
  return Status::Timeout("too many concurrent changes to " + stream + "; retry");
}

template <typename Build>
Result<CommandResult> TrackerService::Create(const CommandContext& ctx, const std::string& prefix,
                                             Build&& build, Durable durable) {
  std::string id = ctx.aggregate_id ? *ctx.aggregate_id
                    : ctx.idempotency ? ctx.idempotency->AggregateId().ToString()
                                      : Uuid::TimeOrdered().ToString();  // see Uuid::TimeOrdered
  std::string stream = prefix + id;
  if (durable && !FixedEventId(ctx) && !ctx.aggregate_id) {
    // A fresh random id: the stream is new, so the event will be number 0 and the answer is
    // known before the append; nothing is read back.
    DT_ASSIGN_OR_RETURN(Decision d, build(id));
    ProposedEvent pe{EventIdFor(ctx), std::string(d.type), EventText(d), Metadata(ctx)};
    DT_ASSIGN_OR_RETURN(CommandResult result, FreshAnswer(stream, 0, d));
    std::vector<ProposedEvent> events;
    events.push_back(std::move(pe));
    store_.AppendAsync(stream, client::kNoStream, std::move(events),
                       [durable = std::move(durable)](Result<client::AppendResult> r) {
                         if (r.ok() && r->last_number != 0) {
                           return durable(Status::Internal("new stream not at event 0"));
                         }
                         durable(r.ok() ? Status::Ok() : r.status());
                       });
    return result;
  }
  auto r = CreateBlocking(ctx, stream, id, build);
  if (r.ok() && durable) durable(Status::Ok());
  return r;
}

template <typename Build>
Result<CommandResult> TrackerService::CreateBlocking(const CommandContext& ctx,
                                                     const std::string& stream,
                                                     const std::string& id, Build& build) {
  if (FixedEventId(ctx)) {
    DT_ASSIGN_OR_RETURN(Loaded l, Load(stream, ctx));
    if (l.replay) return Replayed(*l.replay);
    if (l.exists && ctx.aggregate_id) return Status::Conflict("id already in use: " + id);
    if (l.exists) return Status::Internal("derived aggregate id already in use: " + stream);
  }
  DT_ASSIGN_OR_RETURN(Decision d, build(id));
  ProposedEvent pe{EventIdFor(ctx), std::string(d.type), EventText(d), Metadata(ctx)};
  auto r = store_.Append(stream, client::kNoStream, {pe});
  if (r.ok()) {
    // A fixed event id may have been written by an identical racer: Finish reads it back.
    if ((d.body || !d.body_text.empty()) && !FixedEventId(ctx)) {
      DT_ASSIGN_OR_RETURN(CommandResult fresh, FreshAnswer(stream, r->last_number, d));
      // Callers of the blocking commands (sync, tools) read the answer's tree.
      if (fresh.body.is_null() && !fresh.body_text.empty()) fresh.body = json::parse(fresh.body_text);
      return fresh;
    }
    return Finish(ctx, stream, pe, d.data, r->last_number);
  }
  if (r.status().Is(Code::kWrongExpectedVersion) && FixedEventId(ctx)) {
    DT_ASSIGN_OR_RETURN(Loaded l, Load(stream, ctx));
    if (l.replay) return Replayed(*l.replay);
  }
  if (r.status().Is(Code::kWrongExpectedVersion) && ctx.aggregate_id) {
    return Status::Conflict("id already in use: " + id);
  }
  return r.status();
}

Result<Contact> TrackerService::LoadLiveContact(const std::string& user_id,
                                                const std::string& contact_id) {
  if (contacts_) {
    auto known = contacts_(user_id, contact_id);
    if (known.ok() && known->has_value() && !(*known)->is_deleted && (*known)->user_id == user_id) {
      return std::move(**known);
    }
  }
  auto page = store_.ReadStreamBackward(ContactStream(contact_id), -1, 1);
  if (!page.ok()) {
    if (page.status().Is(Code::kStreamNotFound)) return Status::NotFound("Contact not found");
    return page.status();
  }
  Contact c;
  if (page->events.empty() || !ContactFromEvent(page->events[0], c) || c.user_id != user_id ||
      c.is_deleted) {
    return Status::NotFound("Contact not found");
  }
  return c;
}

// ------------------------------------------------------------------ contacts

Result<CommandResult> TrackerService::CreateContact(const CommandContext& ctx, const json& body,
                                                    Durable durable) {
  DT_ASSIGN_OR_RETURN(ContactInput in, ParseContactInput(body, true));
  if (ctx.idempotency) {
    DT_RETURN_IF_ERROR(ClaimIdempotencyKey(store_, *ctx.idempotency, ctx.user_id, ctx.request_id));
  }
  return Create(ctx, std::string(kContactPrefix), [&](const std::string& id) -> Result<Decision> {
    Contact c;
    c.id = id;
    c.user_id = ctx.user_id;
    c.name = in.name.value;
    c.username = in.username.value;
    c.phone = in.phone.value;
    c.email = in.email.value;
    c.notes = in.notes.value;
    c.created_at = c.updated_at = Now();
    json data = {{"user_id", ctx.user_id},   {"contact_id", id},
                 {"contact", ContactToJson(c)}, {"comment", in.comment},
                 {"occurred_at", c.created_at}};
    return Decision{event_type::kContactCreated, std::move(data)};
  }, std::move(durable));
}

Result<CommandResult> TrackerService::UpdateContact(const CommandContext& ctx,
                                                    const std::string& id, const json& body) {
  DT_ASSIGN_OR_RETURN(ContactInput in, ParseContactInput(body, false));
  auto r = Change(ctx, ContactStream(id), [&](const ResolvedEvent& last) -> Result<Decision> {
    Contact c;
    if (!ContactFromEvent(last, c) || c.user_id != ctx.user_id || c.is_deleted) {
      return Status::NotFound("Contact not found");
    }
    json changes = json::object(), previous = json::object();
    Apply(in.name, "name", c.name, json(c.name), changes, previous);
    ApplyOpt(in.username, "username", c.username, changes, previous);
    ApplyOpt(in.phone, "phone", c.phone, changes, previous);
    ApplyOpt(in.email, "email", c.email, changes, previous);
    ApplyOpt(in.notes, "notes", c.notes, changes, previous);
    if (changes.empty()) {
      return Decision{event_type::kContactUpdated, json{{"contact_id", c.id}}, true};
    }
    c.updated_at = Now();
    json data = {{"user_id", ctx.user_id}, {"contact_id", c.id},   {"changes", changes},
                 {"previous", previous},   {"contact", ContactToJson(c)},
                 {"comment", in.comment},  {"occurred_at", c.updated_at}};
    return Decision{event_type::kContactUpdated, std::move(data)};
  });
  if (!r.ok() && r.status().Is(Code::kNotFound)) return Status::NotFound("Contact not found");
  return r;
}

Result<CommandResult> TrackerService::DeleteContact(const CommandContext& ctx,
                                                    const std::string& id, const json& body) {
  DT_ASSIGN_OR_RETURN(std::string comment, ParseComment(body));
  auto r = Change(ctx, ContactStream(id), [&](const ResolvedEvent& last) -> Result<Decision> {
    Contact c;
    if (!ContactFromEvent(last, c) || c.user_id != ctx.user_id || c.is_deleted) {
      return Status::NotFound("Contact not found");
    }
    std::string now = Now();
    json data = {{"user_id", ctx.user_id}, {"contact_id", c.id},
                 {"deleted_snapshot", ContactToJson(c)}, {"comment", comment},
                 {"occurred_at", now}};
    return Decision{event_type::kContactDeleted, std::move(data)};
  });
  if (!r.ok() && r.status().Is(Code::kNotFound)) return Status::NotFound("Contact not found");
  return r;
}

// ------------------------------------------------------------------ transactions

Result<CommandResult> TrackerService::CreateTransaction(const CommandContext& ctx,
                                                        const json& body, Durable durable) {
  DT_ASSIGN_OR_RETURN(TransactionInput in, ParseTransactionInput(body, true));
  if (ctx.idempotency) {
    DT_RETURN_IF_ERROR(ClaimIdempotencyKey(store_, *ctx.idempotency, ctx.user_id, ctx.request_id));
  }
  return Create(ctx, std::string(kTransactionPrefix),
                [&](const std::string& id) -> Result<Decision> {
                  DT_RETURN_IF_ERROR(LoadLiveContact(ctx.user_id, in.contact_id.value).status());
                  Transaction t;
                  t.id = id;
                  t.user_id = ctx.user_id;
                  t.contact_id = in.contact_id.value;
                  t.type = in.type.value;
                  t.direction = in.direction.value;
                  t.amount = in.amount.value;
                  t.currency = in.currency.value;
                  t.description = in.description.value;
                  t.transaction_date = in.transaction_date.value;
                  t.due_date = in.due_date.value;
                  t.created_at = t.updated_at = Now();
                  t.version = 0;
                  Decision d{event_type::kTransactionCreated, json()};
                  // What {user_id, transaction_id, contact_id, transaction, comment,
                  // occurred_at} dumps to (members in name order), written directly.
                  std::string& x = d.text;
                  x.reserve(640);
                  x += "{\"comment\":";
                  AppendJsonString(x, in.comment);
                  x += ",\"contact_id\":";
                  AppendJsonString(x, t.contact_id);
                  x += ",\"occurred_at\":";
                  AppendJsonString(x, t.created_at);
                  x += ",\"transaction\":";
                  AppendTransactionJson(x, t);
                  x += ",\"transaction_id\":";
                  AppendJsonString(x, id);
                  x += ",\"user_id\":";
                  AppendJsonString(x, ctx.user_id);
                  x += '}';
                  d.body_text.reserve(448);
                  AppendTransactionViewUpToVersion(d.body_text, t);
                  return d;
                }, std::move(durable));
}

Result<CommandResult> TrackerService::UpdateTransaction(const CommandContext& ctx,
                                                        const std::string& id, const json& body) {
  DT_ASSIGN_OR_RETURN(TransactionInput in, ParseTransactionInput(body, false));
  auto r = Change(ctx, TransactionStream(id), [&](const ResolvedEvent& last) -> Result<Decision> {
    Transaction t;
    if (!TransactionFromEvent(last, t) || t.user_id != ctx.user_id || t.is_deleted) {
      return Status::NotFound("Transaction not found");
    }
    if (in.contact_id.present && in.contact_id.value != t.contact_id) {
      auto c = LoadLiveContact(ctx.user_id, in.contact_id.value);
      if (!c.ok()) return c.status();
    }
    json changes = json::object(), previous = json::object();
    Apply(in.contact_id, "contact_id", t.contact_id, json(t.contact_id), changes, previous);
    Apply(in.type, "type", t.type, json(t.type), changes, previous);
    Apply(in.direction, "direction", t.direction, json(t.direction), changes, previous);
    Apply(in.amount, "amount", t.amount, json(t.amount), changes, previous);
    Apply(in.currency, "currency", t.currency, json(t.currency), changes, previous);
    ApplyOpt(in.description, "description", t.description, changes, previous);
    Apply(in.transaction_date, "transaction_date", t.transaction_date, json(t.transaction_date),
          changes, previous);
    ApplyOpt(in.due_date, "due_date", t.due_date, changes, previous);
    if (changes.empty()) {
      return Decision{event_type::kTransactionUpdated, json{{"transaction_id", t.id}}, true};
    }
    t.updated_at = Now();
    json data = {{"user_id", ctx.user_id},
                 {"transaction_id", t.id},
                 {"contact_id", t.contact_id},
                 {"changes", changes},
                 {"previous", previous},
                 {"transaction", TransactionToJson(t)},
                 {"comment", in.comment},
                 {"occurred_at", t.updated_at}};
    return Decision{event_type::kTransactionUpdated, std::move(data)};
  });
  if (!r.ok() && r.status().Is(Code::kNotFound) && r.status().message() == "not found") {
    return Status::NotFound("Transaction not found");
  }
  return r;
}

Result<CommandResult> TrackerService::DeleteTransaction(const CommandContext& ctx,
                                                        const std::string& id, const json& body) {
  DT_ASSIGN_OR_RETURN(std::string comment, ParseComment(body));
  auto r = Change(ctx, TransactionStream(id), [&](const ResolvedEvent& last) -> Result<Decision> {
    Transaction t;
    if (!TransactionFromEvent(last, t) || t.user_id != ctx.user_id || t.is_deleted) {
      return Status::NotFound("Transaction not found");
    }
    json data = {{"user_id", ctx.user_id},
                 {"transaction_id", t.id},
                 {"contact_id", t.contact_id},
                 {"deleted_snapshot", TransactionToJson(t)},
                 {"comment", comment},
                 {"occurred_at", Now()}};
    return Decision{event_type::kTransactionDeleted, std::move(data)};
  });
  if (!r.ok() && r.status().Is(Code::kNotFound)) return Status::NotFound("Transaction not found");
  return r;
}

// ------------------------------------------------------------------ settings

Result<CommandResult> TrackerService::SetSetting(const CommandContext& ctx, const std::string& key,
                                                 const json& body) {
  DT_ASSIGN_OR_RETURN(SettingInput in, ParseSettingInput(key, body));
  // A setting's answer carries no version: If-Match is not applied to settings.
  CommandContext c = ctx;
  c.if_match.reset();
  return Change(c, SettingsStream(ctx.user_id),
                [&](const std::optional<ResolvedEvent>& last) -> Result<Decision> {
    json settings = json::object();
    if (last) {
      json d = json::parse(last->data, nullptr, false);
      if (d.is_object() && d.contains("settings") && d["settings"].is_object()) {
        settings = d["settings"];
      }
    }
    json previous = settings.contains(in.key) ? settings[in.key] : json(nullptr);
    if (last && previous == in.value) {
      return Decision{event_type::kSettingChanged, json{{"key", in.key}, {"value", in.value}},
                      true};
    }
    settings[in.key] = in.value;
    json data = {{"user_id", ctx.user_id}, {"key", in.key},       {"value", in.value},
                 {"previous_value", previous}, {"settings", settings},
                 {"comment", in.comment},  {"occurred_at", Now()}};
    return Decision{event_type::kSettingChanged, std::move(data)};
  });
}

Result<std::vector<ResolvedEvent>> TrackerService::History(const std::string& user_id,
                                                           const std::string& stream) {
  std::vector<ResolvedEvent> events;
  Status s = client::ReadWholeStream(store_, stream, events);
  if (s.Is(Code::kStreamNotFound) || (s.ok() && events.empty())) {
    return Status::NotFound("not found");
  }
  if (!s.ok()) return s;
  json first = json::parse(events.front().data, nullptr, false);
  if (!first.is_object() || first.value("user_id", "") != user_id) {
    return Status::NotFound("not found");
  }
  return events;
}

}  // namespace dt::tracker

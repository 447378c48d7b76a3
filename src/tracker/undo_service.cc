#include "tracker/undo_service.h"

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "tracker/events.h"
#include "tracker/model.h"

namespace dt::tracker {

using json = nlohmann::json;
using client::ResolvedEvent;
namespace et = event_type;

namespace {

const Uuid& UndoNamespace() {
  static const Uuid kNs = *Uuid::Parse("c2d9e4a1-7b35-4f08-a6e2-5d1b8f3c0e97");
  return kNs;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

struct Kind {
  std::string aggregate_type;  // contact | transaction | settings
  std::string aggregate_id;
  std::string_view created, updated, deleted;  // event types (empty for settings)
  const char* state_key = "";                  // "contact" | "transaction"
  const char* id_key = "";                     // "contact_id" | "transaction_id"
};

std::optional<Kind> KindOf(const std::string& stream) {
  Kind k;
  if (StartsWith(stream, kContactPrefix)) {
    k = {"contact", stream.substr(kContactPrefix.size()), et::kContactCreated,
         et::kContactUpdated, et::kContactDeleted, "contact", "contact_id"};
  } else if (StartsWith(stream, kTransactionPrefix)) {
    k = {"transaction", stream.substr(kTransactionPrefix.size()), et::kTransactionCreated,
         et::kTransactionUpdated, et::kTransactionDeleted, "transaction", "transaction_id"};
  } else if (StartsWith(stream, kSettingsPrefix)) {
    k.aggregate_type = "settings";
    k.aggregate_id = stream.substr(kSettingsPrefix.size());
  } else {
    return std::nullopt;
  }
  return k;
}

// The entity state an event leaves behind, and whether it is deleted.
bool StateOf(const Kind& k, const ResolvedEvent& e, json& state, bool& deleted) {
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object()) return false;
  deleted = e.type == k.deleted;
  auto it = d.find(deleted ? "deleted_snapshot" : k.state_key);
  if (it == d.end() || !it->is_object()) return false;
  state = *it;
  return true;
}

std::string DefaultText(const std::string& key) {
  auto it = DefaultSettings().find(key);
  if (it == DefaultSettings().end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

Result<CommandResult> Answer(const Kind& k, const Uuid& undone, const ResolvedEvent& comp) {
  CommandResult r;
  r.stream = comp.stream;
  r.event_number = comp.number;
  r.body = {{"message", "Event undone"},
            {"event_id", undone.ToString()},
            {"undo_event_id", comp.id.ToString()},
            {"event_type", comp.type},
            {"aggregate_type", k.aggregate_type},
            {"aggregate_id", k.aggregate_id},
            {"version", comp.number}};
  return r;
}

}  // namespace

Uuid UndoEventId(const Uuid& undone) { return Uuid::NameBased(UndoNamespace(), undone.ToString()); }

Result<CommandResult> UndoService::Undo(const CommandContext& ctx, const UndoTarget& target) {
  auto kind = KindOf(target.stream);
  if (!kind) return Status::NotFound("Event not found");
  const Kind& k = *kind;
  std::vector<ResolvedEvent> events;
  Status s = client::ReadWholeStream(store_, target.stream, events);
  if (s.Is(Code::kStreamNotFound)) return Status::NotFound("Event not found");
  if (!s.ok()) return s;

  const Uuid comp_id = UndoEventId(target.event_id);
  size_t at = events.size();
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].number == target.number) at = i;
    if (events[i].id == comp_id) {
      auto r = Answer(k, target.event_id, events[i]);
      if (r.ok()) r->replayed = true;
      return r;
    }
  }
  if (at == events.size() || events[at].id != target.event_id) return Status::NotFound("Event not found");
  const ResolvedEvent& undone = events[at];
  json d = json::parse(undone.data, nullptr, false);
  if (!d.is_object() || d.value("user_id", "") != ctx.user_id) return Status::NotFound("Event not found");
  const int64_t last = events.back().number;
  if (last != target.number) {
    return Status::WrongExpectedVersion(
        last, "the " + k.aggregate_type + " changed after this event; undo the later change first");
  }

  const std::string now = FormatRfc3339Micros(NowMicros());
  const std::string comment = "Undo of " + undone.type + " " + target.event_id.ToString();
  std::string type;
  json data;
  if (k.aggregate_type == "settings") {
    if (undone.type != et::kSettingChanged) return Status::NotFound("Event not found");
    std::string key = d.value("key", "");
    json prev = d.contains("previous_value") ? d["previous_value"] : json(nullptr);
    std::string value = prev.is_string() ? prev.get<std::string>() : DefaultText(key);
    json settings = d.contains("settings") && d["settings"].is_object() ? d["settings"] : json::object();
    settings[key] = value;
    type = std::string(et::kSettingChanged);
    data = {{"user_id", ctx.user_id},     {"key", key},           {"value", value},
            {"previous_value", d.value("value", "")}, {"settings", settings},
            {"comment", comment},         {"occurred_at", now},   {"undo_of", target.event_id.ToString()}};
  } else {
    json cur;
    bool cur_deleted = false;
    if (!StateOf(k, undone, cur, cur_deleted)) return Status::Internal("unreadable event in " + target.stream);
    json prev;
    bool prev_deleted = false;
    bool has_prev = at > 0 && undone.type != k.created;
    if (has_prev && !StateOf(k, events[at - 1], prev, prev_deleted)) {
      return Status::Internal("unreadable event in " + target.stream);
    }
    data = {{"user_id", ctx.user_id}, {k.id_key, k.aggregate_id}};
    if (k.aggregate_type == "transaction") data["contact_id"] = cur.value("contact_id", "");
    if (!has_prev || prev_deleted) {
      // Undo of a create (or of a restore): the entity is gone again.
      type = std::string(k.deleted);
      data["deleted_snapshot"] = cur;
    } else {
      type = std::string(k.updated);
      json changes = json::object(), previous = json::object();
      for (auto it = prev.begin(); it != prev.end(); ++it) {
        if (it.key() == "updated_at") continue;
        json now_value = cur.contains(it.key()) ? cur[it.key()] : json(nullptr);
        if (now_value != it.value()) {
          changes[it.key()] = it.value();
          previous[it.key()] = now_value;
        }
      }
      prev["updated_at"] = now;
      if (k.aggregate_type == "transaction") data["contact_id"] = prev.value("contact_id", "");
      data["changes"] = changes;
      data["previous"] = previous;
      data[k.state_key] = prev;
      if (cur_deleted) data["restored"] = true;
    }
    data["comment"] = comment;
    data["occurred_at"] = now;
    data["undo_of"] = target.event_id.ToString();
  }

  json meta = {{"request_id", ctx.request_id}, {"user_id", ctx.user_id}, {"source", "undo"},
               {"undo_of", target.event_id.ToString()}};
  client::ProposedEvent pe{comp_id, type, data.dump(), meta.dump()};
  auto r = store_.Append(target.stream, target.number, {pe});
  if (r.ok()) {
    ResolvedEvent e;
    e.stream = target.stream;
    e.number = r->last_number;
    e.id = comp_id;
    e.type = type;
    return Answer(k, target.event_id, e);
  }
  if (!r.status().Is(Code::kWrongExpectedVersion)) return r.status();
  // Lost a race: a concurrent undo of the same event wrote the same id, or something else
  // changed the stream.
  auto page = store_.ReadStreamForward(target.stream, target.number + 1, 1);
  if (page.ok() && !page->events.empty() && page->events[0].id == comp_id) {
    auto again = Answer(k, target.event_id, page->events[0]);
    if (again.ok()) again->replayed = true;
    return again;
  }
  return Status::WrongExpectedVersion(
      r.status().current_version(),
      "the " + k.aggregate_type + " changed after this event; undo the later change first");
}

}  // namespace dt::tracker

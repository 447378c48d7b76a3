#include "tracker/sync_format.h"

#include <cctype>

#include "tracker/events.h"

namespace dt::tracker {

using json = nlohmann::json;
namespace et = event_type;

std::optional<SyncView> ToSyncView(std::string_view type, const json& data) {
  if (!data.is_object()) return std::nullopt;
  SyncView v;
  const char* state_key = nullptr;
  if (type == et::kContactCreated || type == et::kContactUpdated || type == et::kContactDeleted) {
    v.aggregate_type = "contact";
    state_key = type == et::kContactDeleted ? "deleted_snapshot" : "contact";
  } else if (type == et::kTransactionCreated || type == et::kTransactionUpdated ||
             type == et::kTransactionDeleted) {
    v.aggregate_type = "transaction";
    state_key = type == et::kTransactionDeleted ? "deleted_snapshot" : "transaction";
  } else {
    return std::nullopt;
  }
  auto it = data.find(state_key);
  if (it == data.end() || !it->is_object() || !it->contains("id")) return std::nullopt;
  v.state = *it;
  if (type.ends_with("Created")) {
    v.kind = SyncKind::kCreated;
  } else if (type.ends_with("Deleted")) {
    v.kind = SyncKind::kDeleted;
  } else {
    auto r = data.find("restored");
    v.kind = r != data.end() && r->is_boolean() && r->get<bool>() ? SyncKind::kCreated
                                                                   : SyncKind::kUpdated;
  }
  auto c = data.find("comment");
  if (c != data.end() && c->is_string()) v.comment = c->get<std::string>();
  auto u = data.find("undo_of");
  if (u != data.end() && u->is_string()) v.undo_of = u->get<std::string>();
  return v;
}

std::string_view SyncKindName(SyncKind kind) {
  switch (kind) {
    case SyncKind::kCreated: return "CREATED";
    case SyncKind::kUpdated: return "UPDATED";
    case SyncKind::kDeleted: return "DELETED";
  }
  return "UPDATED";
}

std::optional<SyncKind> ParseSyncKind(std::string_view text) {
  std::string up;
  for (char c : text) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (up == "CREATED" || up == "CREATE") return SyncKind::kCreated;
  if (up == "UPDATED" || up == "UPDATE") return SyncKind::kUpdated;
  if (up == "DELETED" || up == "DELETE") return SyncKind::kDeleted;
  return std::nullopt;
}

json SyncEventData(const SyncView& view) {
  json d = view.state;
  d.erase("user_id");
  d["comment"] = view.comment.empty() ? std::string(kDefaultComment) : view.comment;
  if (!view.undo_of.empty()) d["undo_of"] = view.undo_of;
  return d;
}

std::string RealtimeType(const SyncView& view) {
  std::string kind = view.kind == SyncKind::kCreated   ? "created"
                     : view.kind == SyncKind::kDeleted ? "deleted"
                                                       : "updated";
  return view.aggregate_type + "_" + kind;
}

}  // namespace dt::tracker

// The domain's entities as plain values, and their JSON form inside events.
//
// A Contact or Transaction here is the aggregate's state after some event: what the
// projector writes into the read model and what the API answers. `version` is the event
// number of the stream's last event; it is not part of the JSON stored in events (the event
// number is).
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace dt::tracker {

struct Contact {
  std::string id;
  std::string user_id;
  std::string name;
  std::optional<std::string> username, phone, email, notes;
  std::string created_at, updated_at;  // RFC 3339 UTC
  int64_t version = -1;
  bool is_deleted = false;
};

struct Transaction {
  std::string id;
  std::string user_id;
  std::string contact_id;
  std::string type;       // "money" | "item"
  std::string direction;  // "lent" | "owed"
  int64_t amount = 0;     // minor units, > 0
  std::string currency;   // three upper-case letters
  std::optional<std::string> description;
  std::string transaction_date;         // YYYY-MM-DD
  std::optional<std::string> due_date;  // YYYY-MM-DD
  std::string created_at, updated_at;
  int64_t version = -1;
  bool is_deleted = false;
};

// Settings a user has not set answer these defaults (the app's).
const nlohmann::json& DefaultSettings();
// A stored string value in the JSON type of the setting's default (bool, number), else
// the string itself.
nlohmann::json TypedSettingValue(const std::string& key, const std::string& value);

// State <-> JSON inside events (no version / is_deleted: those come from the stream).
nlohmann::json ContactToJson(const Contact& c);
bool ContactFromJson(const nlohmann::json& j, Contact& out);
nlohmann::json TransactionToJson(const Transaction& t);
// Appends TransactionToJson(t).dump() without building the tree (strings through
// dt::AppendJsonString): a create's event data is written straight into its text, in the
// form every other event is stored in.
void AppendTransactionJson(std::string& out, const Transaction& t);
bool TransactionFromJson(const nlohmann::json& j, Transaction& out);

// The API's view: the state plus version, is_deleted; contacts also balance and balances.
nlohmann::json ContactView(const Contact& c, int64_t balance,
                           const std::map<std::string, int64_t>& balances);
nlohmann::json TransactionView(const Transaction& t);
// Appends TransactionView(t).dump() without building the tree, all but its last member
// ("version", which sorts last) and the closing brace: a create's answer is written as text
// before the number of its event is known (see CommandResult::body_text).
void AppendTransactionViewUpToVersion(std::string& out, const Transaction& t);

// +amount for lent money, -amount for owed money, 0 for items.
int64_t SignedAmount(const Transaction& t);

}  // namespace dt::tracker

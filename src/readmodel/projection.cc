#include "readmodel/projection.h"

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "tracker/events.h"

namespace dt::readmodel {

using json = nlohmann::json;
namespace et = tracker::event_type;

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

template <typename Row>
void Upsert(std::vector<Row>& rows, std::unordered_map<std::string, size_t>& index,
            const std::string& key, Row&& row) {
  auto [it, inserted] = index.try_emplace(key, rows.size());
  if (inserted) {
    rows.push_back(std::move(row));
  } else if (row.version > rows[it->second].version) {
    rows[it->second] = std::move(row);
  }
}

}  // namespace

bool BatchBuilder::Add(const client::ResolvedEvent& e, int64_t& next_seq) {
  client::ResolvedEvent copy = e;
  return Add(std::move(copy), next_seq);
}

bool BatchBuilder::Add(client::ResolvedEvent&& e, int64_t& next_seq) {
  std::string_view aggregate_type;
  std::string aggregate_id;
  if (StartsWith(e.stream, tracker::kContactPrefix)) {
    aggregate_type = "contact";
    aggregate_id = e.stream.substr(tracker::kContactPrefix.size());
  } else if (StartsWith(e.stream, tracker::kTransactionPrefix)) {
    aggregate_type = "transaction";
    aggregate_id = e.stream.substr(tracker::kTransactionPrefix.size());
  } else if (StartsWith(e.stream, tracker::kSettingsPrefix)) {
    aggregate_type = "settings";
    aggregate_id = e.stream.substr(tracker::kSettingsPrefix.size());
  } else {
    return false;
  }
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object()) return false;
  std::string user_id = d.value("user_id", "");
  if (user_id.empty()) return false;

  if (e.type == et::kContactCreated || e.type == et::kContactUpdated ||
      e.type == et::kContactDeleted) {
    bool deleted = e.type == et::kContactDeleted;
    auto it = d.find(deleted ? "deleted_snapshot" : "contact");
    tracker::Contact c;
    if (it == d.end() || !tracker::ContactFromJson(*it, c)) return false;
    c.version = e.number;
    c.is_deleted = deleted;
    Upsert(batch_.contacts, contact_index_, c.id, std::move(c));
  } else if (e.type == et::kTransactionCreated || e.type == et::kTransactionUpdated ||
             e.type == et::kTransactionDeleted) {
    bool deleted = e.type == et::kTransactionDeleted;
    auto it = d.find(deleted ? "deleted_snapshot" : "transaction");
    tracker::Transaction t;
    if (it == d.end() || !tracker::TransactionFromJson(*it, t)) return false;
    t.version = e.number;
    if (deleted) {
      AddBalance(t, -1);
    } else {
      if (e.type == et::kTransactionUpdated) {
        json old_state = *it;
        auto prev = d.find("previous");
        if (prev != d.end() && prev->is_object()) {
          for (auto p = prev->begin(); p != prev->end(); ++p) old_state[p.key()] = p.value();
        }
        tracker::Transaction old;
        if (tracker::TransactionFromJson(old_state, old)) AddBalance(old, -1);
      }
      AddBalance(t, +1);
    }
    t.is_deleted = deleted;
    Upsert(batch_.transactions, transaction_index_, t.id, std::move(t));
  } else if (e.type == et::kSettingChanged) {
    SettingRow r{user_id, d.value("key", ""), d.value("value", ""), e.number};
    if (r.key.empty()) return false;
    Upsert(batch_.settings, setting_index_, r.user_id + "\n" + r.key, std::move(r));
  } else {
    return false;
  }

  EventRow row;
  row.seq = next_seq++;
  row.event_id = e.id.ToString();
  row.stream = e.stream;
  row.version = e.number;
  row.user_id = std::move(user_id);
  row.aggregate_type = std::string(aggregate_type);
  row.aggregate_id = std::move(aggregate_id);
  row.event_type = e.type;
  row.occurred_at = d.value("occurred_at", "");
  if (row.occurred_at.empty()) row.occurred_at = FormatRfc3339Micros(e.created_us);
  row.data = std::move(e.data);
  batch_.events.push_back(std::move(row));
  ++events_;
  return true;
}

void BatchBuilder::AddBalance(const tracker::Transaction& t, int64_t sign) {
  if (t.type != "money") return;
  int64_t amount = (t.direction == "lent" ? t.amount : -t.amount) * sign;
  std::string key = t.user_id + "\n" + t.contact_id + "\n" + t.currency;
  auto [it, inserted] = balance_index_.try_emplace(key, batch_.balances.size());
  if (inserted) {
    batch_.balances.push_back(BalanceDelta{t.user_id, t.contact_id, t.currency, amount});
  } else {
    batch_.balances[it->second].delta += amount;
  }
}

Batch BatchBuilder::Take() {
  Batch out = std::move(batch_);
  batch_ = Batch{};
  events_ = 0;
  contact_index_.clear();
  transaction_index_.clear();
  setting_index_.clear();
  balance_index_.clear();
  return out;
}

}  // namespace dt::readmodel

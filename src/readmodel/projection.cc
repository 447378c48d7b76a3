#include "readmodel/projection.h"

#include "client/time_util.h"
#include "tracker/events.h"

namespace dt::readmodel {

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
  const tracker::EventReader& d = reader_;
  if (!reader_.Parse(e.data)) return false;
  auto user = d.String("user_id");
  if (!user || user->empty()) return false;

  if (e.type == et::kContactCreated || e.type == et::kContactUpdated ||
      e.type == et::kContactDeleted) {
    bool deleted = e.type == et::kContactDeleted;
    tracker::Contact c;
    if (!d.ContactAt(deleted ? "deleted_snapshot" : "contact", c)) return false;
    c.version = e.number;
    c.is_deleted = deleted;
    Upsert(batch_.contacts, contact_index_, c.id, std::move(c));
  } else if (e.type == et::kTransactionCreated || e.type == et::kTransactionUpdated ||
             e.type == et::kTransactionDeleted) {
    bool deleted = e.type == et::kTransactionDeleted;
    const char* member = deleted ? "deleted_snapshot" : "transaction";
    tracker::Transaction t;
    if (!d.TransactionAt(member, t)) return false;
    t.version = e.number;
    if (deleted) {
      AddBalance(t, -1);
    } else {
      if (e.type == et::kTransactionUpdated) {
        // The state before: this state with the `previous` values put back.
        tracker::Transaction old;
        if (d.TransactionAt(member, "previous", old)) AddBalance(old, -1);
      }
      AddBalance(t, +1);
    }
    t.is_deleted = deleted;
    Upsert(batch_.transactions, transaction_index_, t.id, std::move(t));
  } else if (e.type == et::kSettingChanged) {
    auto key = d.String("key");
    if (!key || key->empty()) return false;
    SettingRow r{std::string(*user), std::string(*key), std::string(d.String("value").value_or("")),
                 e.number};
    Upsert(batch_.settings, setting_index_, r.user_id + "\n" + r.key, std::move(r));
  } else {
    return false;
  }

  EventRow row;
  row.seq = next_seq++;
  row.event_id = e.id.ToString();
  row.stream = std::move(e.stream);
  row.version = e.number;
  row.user_id = std::string(*user);
  row.aggregate_type = std::string(aggregate_type);
  row.aggregate_id = std::move(aggregate_id);
  row.event_type = std::move(e.type);
  row.occurred_at = std::string(d.String("occurred_at").value_or(""));
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

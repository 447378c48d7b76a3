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

constexpr int64_t kMaxAmount = 1'000'000'000'000'000;  // 10^15, as the API accepts

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629), 0 when there is none.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return c == 0 ? 0 : 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

bool RepairText(std::string& s) {
  size_t i = 0;
  // Fast path: plain ASCII without NUL, then well-formed sequences.
  while (i < s.size()) {
    size_t n = Utf8SequenceAt(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return false;
  std::string out = s.substr(0, i);
  while (i < s.size()) {
    size_t n = Utf8SequenceAt(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  s = std::move(out);
  return true;
}

bool BatchBuilder::Skip(const client::ResolvedEvent& e, std::string_view reason) {
  ++problems_.skipped;
  if (problems_.skipped_what.size() < kMaxDescribed) {
    std::string what = e.stream + "@" + std::to_string(e.number) + " " + e.type + ": ";
    what += reason;
    RepairText(what);
    problems_.skipped_what.push_back(std::move(what));
  }
  return false;
}

BatchBuilder::Problems BatchBuilder::TakeProblems() {
  Problems out = std::move(problems_);
  problems_ = Problems{};
  return out;
}

bool BatchBuilder::Add(const client::ResolvedEvent& e, int64_t& next_seq) {
  client::ResolvedEvent copy = e;
  return Add(std::move(copy), next_seq);
}

bool BatchBuilder::Add(client::ResolvedEvent&& e, int64_t& next_seq) {
  std::string_view aggregate_type;
  size_t prefix = 0;
  if (StartsWith(e.stream, tracker::kContactPrefix)) {
    aggregate_type = "contact";
    prefix = tracker::kContactPrefix.size();
  } else if (StartsWith(e.stream, tracker::kTransactionPrefix)) {
    aggregate_type = "transaction";
    prefix = tracker::kTransactionPrefix.size();
  } else if (StartsWith(e.stream, tracker::kSettingsPrefix)) {
    aggregate_type = "settings";
    prefix = tracker::kSettingsPrefix.size();
  } else {
    return false;
  }
  if (StartsWith(e.type, "$")) return false;  // the store's own events (metadata, tombstones)
  const tracker::EventReader& d = reader_;
  if (!reader_.Parse(e.data)) return Skip(e, "the data is not a readable JSON object");
  auto user = d.String("user_id");
  if (!user || user->empty()) return Skip(e, "no user_id");
  auto amount_ok = [](const tracker::Transaction& t) {
    return t.amount >= 0 && t.amount <= kMaxAmount;
  };

  bool repaired = false;
  auto repair = [&](std::string& text) { repaired |= RepairText(text); };
  auto repair_opt = [&](std::optional<std::string>& text) {
    if (text) repaired |= RepairText(*text);
  };
  if (e.type == et::kContactCreated || e.type == et::kContactUpdated ||
      e.type == et::kContactDeleted) {
    bool deleted = e.type == et::kContactDeleted;
    tracker::Contact c;
    if (!d.ContactAt(deleted ? "deleted_snapshot" : "contact", c)) {
      return Skip(e, deleted ? "no readable deleted_snapshot" : "no readable contact");
    }
    c.version = e.number;
    c.is_deleted = deleted;
    for (std::string* t : {&c.id, &c.user_id, &c.name, &c.created_at, &c.updated_at}) repair(*t);
    for (auto* t : {&c.username, &c.phone, &c.email, &c.notes}) repair_opt(*t);
    Upsert(batch_.contacts, contact_index_, c.id, std::move(c));
  } else if (e.type == et::kTransactionCreated || e.type == et::kTransactionUpdated ||
             e.type == et::kTransactionDeleted) {
    bool deleted = e.type == et::kTransactionDeleted;
    const char* member = deleted ? "deleted_snapshot" : "transaction";
    tracker::Transaction t;
    if (!d.TransactionAt(member, t)) {
      return Skip(e, deleted ? "no readable deleted_snapshot" : "no readable transaction");
    }
    // Larger amounts could overflow a balance's 64-bit sum in the store.
    if (!amount_ok(t)) return Skip(e, "amount outside 0..10^15");
    tracker::Transaction old;
    bool has_old = e.type == et::kTransactionUpdated && d.TransactionAt(member, "previous", old);
    if (has_old && !amount_ok(old)) return Skip(e, "previous amount outside 0..10^15");
    t.version = e.number;
    for (std::string* x : {&t.id, &t.user_id, &t.contact_id, &t.type, &t.direction, &t.currency,
                           &t.transaction_date, &t.created_at, &t.updated_at}) {
      repair(*x);
    }
    for (auto* x : {&t.description, &t.due_date}) repair_opt(*x);
    if (deleted) {
      AddBalance(t, -1);
    } else {
      // An update's state before: this state with the `previous` values put back.
      if (has_old) {
        for (std::string* x : {&old.user_id, &old.contact_id, &old.currency}) RepairText(*x);
        AddBalance(old, -1);
      }
      AddBalance(t, +1);
    }
    t.is_deleted = deleted;
    Upsert(batch_.transactions, transaction_index_, t.id, std::move(t));
  } else if (e.type == et::kSettingChanged) {
    auto key = d.String("key");
    if (!key || key->empty()) return Skip(e, "no key");
    SettingRow r{std::string(*user), std::string(*key), std::string(d.String("value").value_or("")),
                 e.number};
    for (std::string* x : {&r.user_id, &r.key, &r.value}) repair(*x);
    Upsert(batch_.settings, setting_index_, r.user_id + "\n" + r.key, std::move(r));
  } else {
    return Skip(e, "unknown event type");
  }

  EventRow row;
  row.seq = next_seq++;
  row.event_id = e.id.ToString();
  row.version = e.number;
  row.user_id = std::string(*user);
  row.aggregate_type = std::string(aggregate_type);
  row.aggregate_id = e.stream.substr(prefix);
  row.occurred_at = std::string(d.String("occurred_at").value_or(""));
  if (row.occurred_at.empty()) row.occurred_at = FormatRfc3339Micros(e.created_us);
  // The data passed Parse(), so it is well-formed UTF-8 JSON: U+0000 only as an escape.
  for (std::string* x : {&row.user_id, &row.aggregate_id, &row.occurred_at}) repair(*x);
  if (repaired || RepairText(e.stream) || RepairText(e.type)) {
    RepairText(e.stream);
    RepairText(e.type);
    ++problems_.repaired;
    if (problems_.repaired_what.size() < kMaxDescribed) {
      problems_.repaired_what.push_back(e.stream + "@" + std::to_string(e.number) + " " + e.type);
    }
  }
  row.stream = std::move(e.stream);
  row.event_type = std::move(e.type);
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

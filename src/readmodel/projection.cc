#include "readmodel/projection.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <tuple>

#include "client/time_util.h"
#include "tracker/events.h"

namespace dt::readmodel {

namespace et = tracker::event_type;

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Keeps the newest version of a key's row: `same(position)` tells whether the row there has
// this row's key. The row not kept goes to `spare` (when given) for its strings' buffers.
template <typename Row, typename Same>
void Upsert(std::vector<Row>& rows, detail::RowIndex& index, uint64_t hash, Same same,
            Row&& row, std::vector<Row>* spare = nullptr) {
  auto [position, inserted] = index.Find(hash, rows.size(), same);
  if (inserted) {
    rows.push_back(std::move(row));
    return;
  }
  if (row.version > rows[position].version) std::swap(rows[position], row);
  if (spare) spare->push_back(std::move(row));
}

// A row given back to Recycle() (its strings keep their buffers), else a new one.
template <typename Row>
Row TakeSpare(std::vector<Row>& spare) {
  if (spare.empty()) return Row{};
  Row row = std::move(spare.back());
  spare.pop_back();
  return row;
}

// Uuid::ToString() into `out`'s buffer.
void AssignUuid(const Uuid& id, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char text[36];
  size_t n = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text[n++] = '-';
    text[n++] = kHex[id.bytes[i] >> 4];
    text[n++] = kHex[id.bytes[i] & 0xF];
  }
  out.assign(text, n);
}

uint64_t Hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
uint64_t Hash(std::string_view a, std::string_view b) {
  uint64_t h = Hash(a);
  return h ^ (Hash(b) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
}
uint64_t Hash(std::string_view a, std::string_view b, std::string_view c) {
  uint64_t h = Hash(a, b);
  return h ^ (Hash(c) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
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
  // Fast path: plain ASCII without NUL eight bytes at a time (no byte with its high bit set,
  // none zero), then well-formed sequences.
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  while (i + 8 <= s.size()) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & kHighs) != 0 || ((w - kOnes) & ~w & kHighs) != 0) break;
    i += 8;
  }
  // The last bytes of plain ASCII (1..0x7F) one by one, without the general decoder.
  while (i < s.size() && static_cast<unsigned char>(s[i] - 1) < 0x7F) ++i;
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

bool BatchBuilder::Skip(const client::ResolvedEventView& e, std::string_view reason) {
  ++problems_.skipped;
  if (problems_.skipped_what.size() < kMaxDescribed) {
    std::string what(e.stream);
    what += "@";
    what += std::to_string(e.number);
    what += " ";
    what += e.type;
    what += ": ";
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

namespace {
client::ResolvedEventView ViewOf(const client::ResolvedEvent& e) {
  return client::ResolvedEventView{e.stream, e.number, e.id,        e.type,
                                   e.data,   e.metadata, e.created_us};
}
}  // namespace

bool BatchBuilder::Add(const client::ResolvedEvent& e, int64_t& next_seq) {
  return AddEvent(ViewOf(e), nullptr, next_seq);
}

bool BatchBuilder::Add(client::ResolvedEvent&& e, int64_t& next_seq) {
  return AddEvent(ViewOf(e), &e, next_seq);
}

bool BatchBuilder::Add(const client::ResolvedEventView& e, int64_t& next_seq) {
  return AddEvent(e, nullptr, next_seq);
}

bool BatchBuilder::AddEvent(const client::ResolvedEventView& e, client::ResolvedEvent* owned,
                            int64_t& next_seq) {
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

  // The data passed Parse(): well-formed UTF-8 (simdjson checks it), so text read from it
  // needs repairing only for U+0000, which JSON text holds only as an escape (a backslash,
  // 'u', 0000). Without one anywhere in the data there is nothing to repair (that search
  // costs less than looking at each string).
  const bool may_hold_nul = e.data.find("\\u0000") != std::string_view::npos;
  bool repaired = false;
  auto repair = [&](std::string& text) {
    if (may_hold_nul) repaired |= RepairText(text);
  };
  auto repair_opt = [&](std::optional<std::string>& text) {
    if (may_hold_nul && text) repaired |= RepairText(*text);
  };
  if (e.type == et::kContactCreated || e.type == et::kContactUpdated ||
      e.type == et::kContactDeleted) {
    bool deleted = e.type == et::kContactDeleted;
    tracker::Contact c = TakeSpare(spare_contacts_);
    if (!d.ContactAt(deleted ? "deleted_snapshot" : "contact", c)) {
      return Skip(e, deleted ? "no readable deleted_snapshot" : "no readable contact");
    }
    c.version = e.number;
    c.is_deleted = deleted;
    for (std::string* t : {&c.id, &c.user_id, &c.name, &c.created_at, &c.updated_at}) repair(*t);
    for (auto* t : {&c.username, &c.phone, &c.email, &c.notes}) repair_opt(*t);
    const uint64_t h = Hash(c.id);
    Upsert(batch_.contacts, contact_index_, h,
           [&](size_t p) { return batch_.contacts[p].id == c.id; }, std::move(c),
           &spare_contacts_);
  } else if (e.type == et::kTransactionCreated || e.type == et::kTransactionUpdated ||
             e.type == et::kTransactionDeleted) {
    bool deleted = e.type == et::kTransactionDeleted;
    const char* member = deleted ? "deleted_snapshot" : "transaction";
    tracker::Transaction t = TakeSpare(spare_transactions_);
    if (!d.TransactionAt(member, t)) {
      return Skip(e, deleted ? "no readable deleted_snapshot" : "no readable transaction");
    }
    // Larger amounts could overflow a balance's 64-bit sum in the store.
    if (!amount_ok(t)) return Skip(e, "amount outside 0..10^15");
    tracker::Transaction& old = previous_;
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
        if (may_hold_nul) {
          for (std::string* x : {&old.user_id, &old.contact_id, &old.currency}) RepairText(*x);
        }
        AddBalance(old, -1);
      }
      AddBalance(t, +1);
    }
    t.is_deleted = deleted;
    const uint64_t h = Hash(t.id);
    Upsert(batch_.transactions, transaction_index_, h,
           [&](size_t p) { return batch_.transactions[p].id == t.id; }, std::move(t),
           &spare_transactions_);
  } else if (e.type == et::kSettingChanged) {
    auto key = d.String("key");
    if (!key || key->empty()) return Skip(e, "no key");
    SettingRow r{std::string(*user), std::string(*key), std::string(d.String("value").value_or("")),
                 e.number};
    for (std::string* x : {&r.user_id, &r.key, &r.value}) repair(*x);
    const uint64_t h = Hash(r.user_id, r.key);
    Upsert(batch_.settings, setting_index_, h, [&](size_t p) {
      return batch_.settings[p].user_id == r.user_id && batch_.settings[p].key == r.key;
    }, std::move(r));
  } else {
    return Skip(e, "unknown event type");
  }

  EventRow row = TakeSpare(spare_events_);
  row.seq = next_seq++;
  AssignUuid(e.id, row.event_id);
  row.version = e.number;
  row.user_id.assign(*user);
  row.aggregate_type.assign(aggregate_type);
  row.aggregate_id.assign(e.stream, prefix);
  auto occurred = d.String("occurred_at");
  if (occurred && !occurred->empty()) {
    row.occurred_at.assign(*occurred);
  } else {
    row.occurred_at = FormatRfc3339Micros(e.created_us);
  }
  repair(row.user_id);
  repair(row.occurred_at);
  repaired |= RepairText(row.aggregate_id);  // from the stream's name, not from the data
  if (owned) {
    row.stream = std::move(owned->stream);
    row.event_type = std::move(owned->type);
    row.data = std::move(owned->data);
  } else {
    row.stream.assign(e.stream);
    row.event_type.assign(e.type);
    row.data.assign(e.data);
  }
  const bool stream_repaired = RepairText(row.stream);
  const bool type_repaired = RepairText(row.event_type);
  if (repaired || stream_repaired || type_repaired) {
    ++problems_.repaired;
    if (problems_.repaired_what.size() < kMaxDescribed) {
      problems_.repaired_what.push_back(row.stream + "@" + std::to_string(row.version) + " " +
                                        row.event_type);
    }
  }
  batch_.events.push_back(std::move(row));
  ++events_;
  return true;
}

void BatchBuilder::Recycle(Batch&& spent) {
  // Enough for the rows of a few batches and of one fold of a rebuild; more is freed.
  constexpr size_t kMaxSpareEvents = 1 << 16, kMaxSpareRows = 1 << 19;
  auto keep = [](auto& rows, auto& spare, size_t max) {
    if (spare.empty() && rows.size() <= max) {
      spare.swap(rows);
      return;
    }
    for (auto& row : rows) {
      if (spare.size() >= max) break;
      spare.push_back(std::move(row));
    }
  };
  keep(spent.events, spare_events_, kMaxSpareEvents);
  keep(spent.contacts, spare_contacts_, kMaxSpareRows);
  keep(spent.transactions, spare_transactions_, kMaxSpareRows);
  spent = Batch{};
}

void BatchBuilder::AddBalance(const tracker::Transaction& t, int64_t sign) {
  if (t.type != "money") return;
  int64_t amount = (t.direction == "lent" ? t.amount : -t.amount) * sign;
  auto [position, inserted] = balance_index_.Find(
      Hash(t.user_id, t.contact_id, t.currency), batch_.balances.size(), [&](size_t p) {
        const BalanceDelta& d = batch_.balances[p];
        return d.user_id == t.user_id && d.contact_id == t.contact_id && d.currency == t.currency;
      });
  if (inserted) {
    batch_.balances.push_back(BalanceDelta{t.user_id, t.contact_id, t.currency, amount});
  } else {
    batch_.balances[position].delta += amount;
  }
}

namespace {

// The first eight bytes of `s` as a big-endian number, zero-padded: a < b implies
// Prefix(a) <= Prefix(b), so rows are ordered by prefix first and compared in full only when
// their prefixes are equal (then mostly the same first key column).
uint64_t Prefix(const std::string& s) {
  uint64_t p = 0;
  for (size_t i = 0; i < 8; ++i) {
    p = (p << 8) | (i < s.size() ? static_cast<unsigned char>(s[i]) : 0u);
  }
  return p;
}

// Sorts `rows` by `key` (a tuple of the key's strings, the first of which `first` names),
// moving each row once. The sort itself runs over a contiguous array of prefixes: comparing
// the rows' strings directly would read them from all over memory.
template <typename Row, typename First, typename Key>
void SortByKey(std::vector<Row>& rows, First first, Key key) {
  struct Slot {
    uint64_t prefix;
    uint32_t index;
  };
  std::vector<Slot> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    order[i] = Slot{Prefix(first(rows[i])), static_cast<uint32_t>(i)};
  }
  std::sort(order.begin(), order.end(), [&](const Slot& a, const Slot& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return key(rows[a.index]) < key(rows[b.index]);
  });
  std::vector<Row> sorted;
  sorted.reserve(rows.size());
  for (const Slot& s : order) sorted.push_back(std::move(rows[s.index]));
  rows = std::move(sorted);
}

}  // namespace

namespace detail {

void RowIndex::clear() {
  if (used_ == 0) return;
  std::fill(slots_.begin(), slots_.end(), Slot{});
  used_ = 0;
}

void RowIndex::reserve(size_t n) {
  size_t slots = 64;
  while (slots < n * 2) slots *= 2;
  if (slots > slots_.size()) Resize(slots);
}

void RowIndex::Resize(size_t slots) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(slots, Slot{});
  const size_t mask = slots - 1;
  for (const Slot& s : old) {
    if (s.position == 0) continue;
    size_t i = s.hash & mask;
    while (slots_[i].position != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace detail

Batch BatchBuilder::TakeEvents() {
  Batch out;
  out.events = std::move(batch_.events);
  batch_.events = {};
  batch_.events.reserve(out.events.size());  // the next batch is as big: no regrowing
  events_ = 0;
  return out;
}

Batch BatchBuilder::TakeRows() {
  Batch out;
  out.contacts = std::move(batch_.contacts);
  out.transactions = std::move(batch_.transactions);
  out.settings = std::move(batch_.settings);
  out.balances = std::move(batch_.balances);
  // The next chunk is about as big: its vectors and indexes are sized up front instead of
  // regrown (each regrowth moves every row, each rehash touches every key).
  batch_.contacts = {};
  batch_.transactions = {};
  batch_.settings = {};
  batch_.balances = {};
  batch_.contacts.reserve(out.contacts.size());
  batch_.transactions.reserve(out.transactions.size());
  batch_.settings.reserve(out.settings.size());
  batch_.balances.reserve(out.balances.size());
  contact_index_.clear();
  transaction_index_.clear();
  setting_index_.clear();
  balance_index_.clear();
  contact_index_.reserve(out.contacts.size());
  transaction_index_.reserve(out.transactions.size());
  setting_index_.reserve(out.settings.size());
  balance_index_.reserve(out.balances.size());
  SortByKey(
      out.contacts, [](const tracker::Contact& c) -> const std::string& { return c.id; },
      [](const tracker::Contact& c) { return std::tie(c.id); });
  SortByKey(
      out.transactions, [](const tracker::Transaction& t) -> const std::string& { return t.id; },
      [](const tracker::Transaction& t) { return std::tie(t.id); });
  SortByKey(
      out.settings, [](const SettingRow& r) -> const std::string& { return r.user_id; },
      [](const SettingRow& r) { return std::tie(r.user_id, r.key); });
  SortByKey(
      out.balances, [](const BalanceDelta& d) -> const std::string& { return d.user_id; },
      [](const BalanceDelta& d) { return std::tie(d.user_id, d.contact_id, d.currency); });
  return out;
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

#include "tracker/event_reader.h"

#include <simdjson.h>

#include <array>
#include <cstring>

namespace dt::tracker {

namespace dom = simdjson::dom;

namespace {

// The members ContactFromJson / TransactionFromJson read, in a fixed order.
constexpr std::array<std::string_view, 9> kContactKeys = {
    "id", "user_id", "name", "username", "phone", "email", "notes", "created_at", "updated_at"};
enum ContactKey { kCId, kCUserId, kCName, kCUsername, kCPhone, kCEmail, kCNotes, kCCreated, kCUpdated };

constexpr std::array<std::string_view, 12> kTransactionKeys = {
    "id",       "user_id",     "contact_id",       "type",     "direction",  "amount",
    "currency", "description", "transaction_date", "due_date", "created_at", "updated_at"};
enum TransactionKey {
  kTId, kTUserId, kTContactId, kTType, kTDirection, kTAmount, kTCurrency, kTDescription,
  kTDate, kTDueDate, kTCreated, kTUpdated
};

// One slot per known member: its value, when present (the last one wins, as in nlohmann).
template <size_t N>
struct Slots {
  std::array<dom::element, N> value;
  std::array<bool, N> present{};

  void Collect(dom::object object, const std::array<std::string_view, N>& keys) {
    for (dom::key_value_pair field : object) {
      for (size_t i = 0; i < N; ++i) {
        if (field.key == keys[i]) {
          value[i] = field.value;
          present[i] = true;
          break;
        }
      }
    }
  }

  // GetStr of model.cc: present and a string; else `out` is left empty. Assigned into
  // `out`'s buffer, so a reused row allocates nothing.
  bool Str(size_t i, std::string& out) const {
    std::string_view s;
    if (!present[i] || value[i].get_string().get(s) != simdjson::SUCCESS) {
      out.clear();
      return false;
    }
    out.assign(s.data(), s.size());
    return true;
  }
  // GetOpt of model.cc: a string, else none.
  void Opt(size_t i, std::optional<std::string>& out) const {
    std::string_view s;
    if (present[i] && value[i].get_string().get(s) == simdjson::SUCCESS) {
      if (out) {
        out->assign(s.data(), s.size());
      } else {
        out.emplace(s.data(), s.size());
      }
    } else {
      out.reset();
    }
  }
  // is_number_integer() + get<int64_t>() of nlohmann: signed or unsigned integers.
  bool Int(size_t i, int64_t& out) const {
    if (!present[i]) return false;
    if (value[i].type() == dom::element_type::INT64) {
      return value[i].get_int64().get(out) == simdjson::SUCCESS;
    }
    if (value[i].type() == dom::element_type::UINT64) {
      uint64_t u = 0;
      if (value[i].get_uint64().get(u) != simdjson::SUCCESS) return false;
      out = static_cast<int64_t>(u);
      return true;
    }
    return false;
  }
};

bool ToContact(const Slots<kContactKeys.size()>& s, Contact& out) {
  if (!s.Str(kCId, out.id) || !s.Str(kCUserId, out.user_id) || !s.Str(kCName, out.name)) {
    return false;
  }
  s.Opt(kCUsername, out.username);
  s.Opt(kCPhone, out.phone);
  s.Opt(kCEmail, out.email);
  s.Opt(kCNotes, out.notes);
  s.Str(kCCreated, out.created_at);
  s.Str(kCUpdated, out.updated_at);
  return true;
}

bool ToTransaction(const Slots<kTransactionKeys.size()>& s, Transaction& out) {
  if (!s.Str(kTId, out.id) || !s.Str(kTUserId, out.user_id) ||
      !s.Str(kTContactId, out.contact_id) || !s.Str(kTType, out.type) ||
      !s.Str(kTDirection, out.direction) || !s.Str(kTCurrency, out.currency) ||
      !s.Str(kTDate, out.transaction_date)) {
    return false;
  }
  if (!s.Int(kTAmount, out.amount)) return false;
  s.Opt(kTDescription, out.description);
  s.Opt(kTDueDate, out.due_date);
  s.Str(kTCreated, out.created_at);
  s.Str(kTUpdated, out.updated_at);
  return true;
}

}  // namespace

struct EventReader::Impl {
  dom::parser parser;
  dom::object root;
  std::unique_ptr<char[]> buffer;  // the text plus simdjson's padding
  size_t capacity = 0;

  // The last top-level member named `key` (nlohmann keeps the last of duplicates).
  bool Find(std::string_view key, dom::element& out) const {
    bool found = false;
    for (dom::key_value_pair field : root) {
      if (field.key == key) {
        out = field.value;
        found = true;
      }
    }
    return found;
  }
  bool FindObject(std::string_view key, dom::object& out) const {
    dom::element e;
    return Find(key, e) && e.get_object().get(out) == simdjson::SUCCESS;
  }
};

EventReader::EventReader() : impl_(std::make_unique<Impl>()) {}
EventReader::~EventReader() = default;

bool EventReader::Parse(std::string_view data) {
  Impl& m = *impl_;
  const size_t need = data.size() + simdjson::SIMDJSON_PADDING;
  if (need > m.capacity) {
    m.capacity = std::max(need, size_t{4096});
    m.buffer = std::make_unique<char[]>(m.capacity);
  }
  std::memcpy(m.buffer.get(), data.data(), data.size());
  std::memset(m.buffer.get() + data.size(), 0, simdjson::SIMDJSON_PADDING);
  dom::element root;
  if (m.parser.parse(m.buffer.get(), data.size(), false).get(root) != simdjson::SUCCESS) {
    return false;
  }
  return root.get_object().get(m.root) == simdjson::SUCCESS;
}

std::optional<std::string_view> EventReader::String(std::string_view key) const {
  dom::element e;
  std::string_view s;
  if (!impl_->Find(key, e) || e.get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

bool EventReader::ContactAt(std::string_view key, Contact& out) const {
  dom::object o;
  if (!impl_->FindObject(key, o)) return false;
  Slots<kContactKeys.size()> s;
  s.Collect(o, kContactKeys);
  return ToContact(s, out);
}

bool EventReader::TransactionAt(std::string_view key, Transaction& out) const {
  dom::object o;
  if (!impl_->FindObject(key, o)) return false;
  Slots<kTransactionKeys.size()> s;
  s.Collect(o, kTransactionKeys);
  return ToTransaction(s, out);
}

bool EventReader::TransactionAt(std::string_view key, std::string_view overlay,
                                Transaction& out) const {
  dom::object o;
  if (!impl_->FindObject(key, o)) return false;
  Slots<kTransactionKeys.size()> s;
  s.Collect(o, kTransactionKeys);
  dom::object over;
  if (impl_->FindObject(overlay, over)) s.Collect(over, kTransactionKeys);
  return ToTransaction(s, out);
}

}  // namespace dt::tracker

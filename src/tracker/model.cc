#include "tracker/model.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/text_codec.h"

namespace dt::tracker {

using json = nlohmann::json;

namespace {

json Opt(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

bool GetStr(const json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

void GetOpt(const json& j, const char* key, std::optional<std::string>& out) {
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) {
    out = it->get<std::string>();
  } else {
    out.reset();
  }
}

}  // namespace

const json& DefaultSettings() {
  static const json kDefaults = {
      {"dark_mode", true},         {"default_direction", "give"},
      {"flip_colors", false},      {"due_date_enabled", false},
      {"default_due_date_days", 30}, {"default_due_date_switch", false},
  };
  return kDefaults;
}

json TypedSettingValue(const std::string& key, const std::string& value) {
  auto it = DefaultSettings().find(key);
  if (it != DefaultSettings().end()) {
    if (it->is_boolean()) {
      if (value == "true") return true;
      if (value == "false") return false;
    } else if (it->is_number_integer()) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc() && p == value.data() + value.size()) return v;
    }
  }
  return value;
}

json ContactToJson(const Contact& c) {
  return {{"id", c.id},         {"user_id", c.user_id},   {"name", c.name},
          {"username", Opt(c.username)}, {"phone", Opt(c.phone)}, {"email", Opt(c.email)},
          {"notes", Opt(c.notes)}, {"created_at", c.created_at}, {"updated_at", c.updated_at}};
}

bool ContactFromJson(const json& j, Contact& out) {
  if (!j.is_object()) return false;
  if (!GetStr(j, "id", out.id) || !GetStr(j, "user_id", out.user_id) ||
      !GetStr(j, "name", out.name)) {
    return false;
  }
  GetOpt(j, "username", out.username);
  GetOpt(j, "phone", out.phone);
  GetOpt(j, "email", out.email);
  GetOpt(j, "notes", out.notes);
  GetStr(j, "created_at", out.created_at);
  GetStr(j, "updated_at", out.updated_at);
  return true;
}

json TransactionToJson(const Transaction& t) {
  return {{"id", t.id},
          {"user_id", t.user_id},
          {"contact_id", t.contact_id},
          {"type", t.type},
          {"direction", t.direction},
          {"amount", t.amount},
          {"currency", t.currency},
          {"description", Opt(t.description)},
          {"transaction_date", t.transaction_date},
          {"due_date", Opt(t.due_date)},
          {"created_at", t.created_at},
          {"updated_at", t.updated_at}};
}

namespace {

// "name": with the separator before it unless it is the object's first member.
void Member(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += name;
  out += "\":";
}

void OptString(std::string& out, const std::optional<std::string>& v) {
  if (v) {
    AppendJsonString(out, *v);
  } else {
    out += "null";
  }
}

// The members both transaction forms share, in name order: those before "is_deleted" (with
// the opening brace) and those from "transaction_date" to "updated_at".
void TransactionHead(std::string& out, const Transaction& t) {
  out += '{';
  Member(out, "amount");
  out += std::to_string(t.amount);
  Member(out, "contact_id");
  AppendJsonString(out, t.contact_id);
  Member(out, "created_at");
  AppendJsonString(out, t.created_at);
  Member(out, "currency");
  AppendJsonString(out, t.currency);
  Member(out, "description");
  OptString(out, t.description);
  Member(out, "direction");
  AppendJsonString(out, t.direction);
  Member(out, "due_date");
  OptString(out, t.due_date);
  Member(out, "id");
  AppendJsonString(out, t.id);
}

void TransactionTail(std::string& out, const Transaction& t) {
  Member(out, "transaction_date");
  AppendJsonString(out, t.transaction_date);
  Member(out, "type");
  AppendJsonString(out, t.type);
  Member(out, "updated_at");
  AppendJsonString(out, t.updated_at);
}

}  // namespace

void AppendTransactionJson(std::string& out, const Transaction& t) {
  // Members in name order, as nlohmann::json (a std::map) dumps them.
  TransactionHead(out, t);
  TransactionTail(out, t);
  Member(out, "user_id");
  AppendJsonString(out, t.user_id);
  out += '}';
}

void AppendTransactionViewUpToVersion(std::string& out, const Transaction& t) {
  // TransactionToJson's members without user_id, with is_deleted and version, in name order.
  TransactionHead(out, t);
  Member(out, "is_deleted");
  out += t.is_deleted ? "true" : "false";
  TransactionTail(out, t);
  Member(out, "version");
}

bool TransactionFromJson(const json& j, Transaction& out) {
  if (!j.is_object()) return false;
  if (!GetStr(j, "id", out.id) || !GetStr(j, "user_id", out.user_id) ||
      !GetStr(j, "contact_id", out.contact_id) || !GetStr(j, "type", out.type) ||
      !GetStr(j, "direction", out.direction) || !GetStr(j, "currency", out.currency) ||
      !GetStr(j, "transaction_date", out.transaction_date)) {
    return false;
  }
  auto a = j.find("amount");
  if (a == j.end() || !a->is_number_integer()) return false;
  out.amount = a->get<int64_t>();
  GetOpt(j, "description", out.description);
  GetOpt(j, "due_date", out.due_date);
  GetStr(j, "created_at", out.created_at);
  GetStr(j, "updated_at", out.updated_at);
  return true;
}

json ContactView(const Contact& c, int64_t balance, const std::map<std::string, int64_t>& balances) {
  json j = ContactToJson(c);
  j.erase("user_id");
  j["balance"] = balance;
  j["balances"] = json::object();
  for (const auto& [cur, amt] : balances) j["balances"][cur] = amt;
  j["version"] = c.version;
  j["is_deleted"] = c.is_deleted;
  return j;
}

json TransactionView(const Transaction& t) {
  json j = TransactionToJson(t);
  j.erase("user_id");
  j["version"] = t.version;
  j["is_deleted"] = t.is_deleted;
  return j;
}

int64_t SignedAmount(const Transaction& t) {
  if (t.type != "money" || t.is_deleted) return 0;
  return t.direction == "lent" ? t.amount : -t.amount;
}

}  // namespace dt::tracker

#include "tracker/validation.h"

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "tracker/events.h"

namespace dt::tracker {

using json = nlohmann::json;

namespace {

Status Bad(std::string_view field, std::string_view problem) {
  return Status::InvalidArgument("field '" + std::string(field) + "' " + std::string(problem));
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Counts UTF-8 code points (bytes that do not continue a sequence).
size_t Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// U+0000 cannot be stored in a PostgreSQL text column (nor is it text anyone types).
bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

Status RequiredString(const json& body, const char* key, size_t max, Field<std::string>& out) {
  auto it = body.find(key);
  if (it == body.end()) return Status::Ok();
  if (!it->is_string()) return Bad(key, "must be a string");
  if (HasNul(it->get_ref<const std::string&>())) return Bad(key, "must not contain U+0000");
  std::string v = Trim(it->get<std::string>());
  if (v.empty()) return Bad(key, "must not be empty");
  if (Chars(v) > max) return Bad(key, "is longer than " + std::to_string(max) + " characters");
  out.present = true;
  out.value = std::move(v);
  return Status::Ok();
}

Status OptionalString(const json& body, const char* key, size_t max,
                      Field<std::optional<std::string>>& out) {
  auto it = body.find(key);
  if (it == body.end()) return Status::Ok();
  out.present = true;
  if (it->is_null()) {
    out.value.reset();
    return Status::Ok();
  }
  if (!it->is_string()) return Bad(key, "must be a string or null");
  std::string v = it->get<std::string>();
  if (HasNul(v)) return Bad(key, "must not contain U+0000");
  if (Chars(v) > max) return Bad(key, "is longer than " + std::to_string(max) + " characters");
  out.value = std::move(v);
  return Status::Ok();
}

Result<std::string> Comment(const json& body) {
  if (body.is_null()) return std::string(kDefaultComment);
  auto it = body.find("comment");
  if (it == body.end() || it->is_null()) return std::string(kDefaultComment);
  if (!it->is_string()) return Bad("comment", "must be a string");
  std::string v = Trim(it->get<std::string>());
  if (HasNul(v)) return Bad("comment", "must not contain U+0000");
  if (Chars(v) > kMaxLongTextChars) return Bad("comment", "is too long");
  if (v.empty()) return std::string(kDefaultComment);
  return v;
}

Status RequireObject(const json& body) {
  if (!body.is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return Status::Ok();
}

}  // namespace

Result<ContactInput> ParseContactInput(const json& body, bool create) {
  DT_RETURN_IF_ERROR(RequireObject(body));
  ContactInput in;
  DT_RETURN_IF_ERROR(RequiredString(body, "name", kMaxNameChars, in.name));
  if (create && !in.name.present) return Bad("name", "is required");
  DT_RETURN_IF_ERROR(OptionalString(body, "username", kMaxShortTextChars, in.username));
  DT_RETURN_IF_ERROR(OptionalString(body, "phone", kMaxShortTextChars, in.phone));
  DT_RETURN_IF_ERROR(OptionalString(body, "email", kMaxShortTextChars, in.email));
  DT_RETURN_IF_ERROR(OptionalString(body, "notes", kMaxLongTextChars, in.notes));
  DT_ASSIGN_OR_RETURN(in.comment, Comment(body));
  return in;
}

Result<TransactionInput> ParseTransactionInput(const json& body, bool create) {
  DT_RETURN_IF_ERROR(RequireObject(body));
  TransactionInput in;
  if (auto it = body.find("contact_id"); it != body.end()) {
    if (!it->is_string() || !Uuid::Parse(it->get<std::string>())) {
      return Bad("contact_id", "must be a UUID");
    }
    in.contact_id = {true, Uuid::Parse(it->get<std::string>())->ToString()};
  } else if (create) {
    return Bad("contact_id", "is required");
  }
  if (auto it = body.find("type"); it != body.end()) {
    if (!it->is_string() || (*it != "money" && *it != "item")) {
      return Bad("type", "must be \"money\" or \"item\"");
    }
    in.type = {true, it->get<std::string>()};
  } else if (create) {
    return Bad("type", "is required");
  }
  if (auto it = body.find("direction"); it != body.end()) {
    if (!it->is_string() || (*it != "lent" && *it != "owed")) {
      return Bad("direction", "must be \"lent\" or \"owed\"");
    }
    in.direction = {true, it->get<std::string>()};
  } else if (create) {
    return Bad("direction", "is required");
  }
  if (auto it = body.find("amount"); it != body.end()) {
    if (!it->is_number_integer()) return Bad("amount", "must be a positive integer (minor units)");
    // Parsed JSON holds non-negative integers as unsigned: check both representations.
    bool in_range = it->is_number_unsigned()
                        ? (it->get<uint64_t>() >= 1 &&
                           it->get<uint64_t>() <= static_cast<uint64_t>(kMaxAmount))
                        : (it->get<int64_t>() >= 1 && it->get<int64_t>() <= kMaxAmount);
    if (!in_range) {
      return Bad("amount", "must be a positive integer (minor units) of at most 10^15");
    }
    in.amount = {true, it->get<int64_t>()};
  } else if (create) {
    return Bad("amount", "is required");
  }
  if (auto it = body.find("currency"); it != body.end() && !(it->is_null() && create)) {
    if (!it->is_string()) return Bad("currency", "must be a three-letter currency code");
    std::string c = it->get<std::string>();
    if (c.size() != 3 || !std::all_of(c.begin(), c.end(), [](char ch) {
          return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        })) {
      return Bad("currency", "must be a three-letter currency code");
    }
    for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    in.currency = {true, c};
  } else if (create) {
    in.currency = {true, "USD"};
  }
  DT_RETURN_IF_ERROR(OptionalString(body, "description", kMaxLongTextChars, in.description));
  if (auto it = body.find("transaction_date"); it != body.end()) {
    std::optional<std::string> d;
    if (it->is_string()) d = ParseDate(it->get<std::string>());
    if (!d) return Bad("transaction_date", "must be a date YYYY-MM-DD");
    in.transaction_date = {true, *d};
  } else if (create) {
    return Bad("transaction_date", "is required");
  }
  if (auto it = body.find("due_date"); it != body.end()) {
    in.due_date.present = true;
    if (!it->is_null()) {
      std::optional<std::string> d;
      if (it->is_string()) d = ParseDate(it->get<std::string>());
      if (!d) return Bad("due_date", "must be a date YYYY-MM-DD or null");
      in.due_date.value = *d;
    }
  }
  DT_ASSIGN_OR_RETURN(in.comment, Comment(body));
  return in;
}

Result<std::string> ParseComment(const json& body) {
  if (!body.is_null()) DT_RETURN_IF_ERROR(RequireObject(body));
  return Comment(body);
}

Result<SettingInput> ParseSettingInput(const std::string& key, const json& body) {
  if (key.empty() || key.size() > 64 || !std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    return Status::InvalidArgument("setting key must be 1-64 characters of a-z, 0-9 and _");
  }
  DT_RETURN_IF_ERROR(RequireObject(body));
  SettingInput in;
  in.key = key;
  auto it = body.find("value");
  if (it == body.end()) return Bad("value", "is required");
  if (it->is_string()) {
    in.value = it->get<std::string>();
  } else if (it->is_boolean() || it->is_number_integer()) {
    in.value = it->dump();  // the app's values are strings; "true" and "30" are accepted too
  } else {
    return Bad("value", "must be a string");
  }
  if (Chars(in.value) > kMaxShortTextChars) return Bad("value", "is too long");
  if (HasNul(in.value)) return Bad("value", "must not contain U+0000");
  DT_ASSIGN_OR_RETURN(in.comment, Comment(body));
  return in;
}

bool ValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace dt::tracker

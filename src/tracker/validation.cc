#include "tracker/validation.h"

#include <algorithm>
#include <cmath>
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

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
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
    std::string v = it->is_string() ? Lower(it->get<std::string>()) : std::string();
    if (v != "money" && v != "item") return Bad("type", "must be \"money\" or \"item\"");
    in.type = {true, v};
  } else if (create) {
    return Bad("type", "is required");
  }
  if (auto it = body.find("direction"); it != body.end()) {
    std::string v = it->is_string() ? Lower(it->get<std::string>()) : std::string();
    if (v != "lent" && v != "owed") return Bad("direction", "must be \"lent\" or \"owed\"");
    in.direction = {true, v};
  } else if (create) {
    return Bad("direction", "is required");
  }
  if (auto it = body.find("amount"); it != body.end()) {
    // A client whose numbers are doubles (Dart's jsonEncode writes 1500.0) sends whole
    // amounts with a ".0": the value is an integer, so it is taken; 1.5 is not.
    bool whole_float = it->is_number_float() && std::isfinite(it->get<double>()) &&
                       std::floor(it->get<double>()) == it->get<double>();
    if (!it->is_number_integer() && !whole_float) {
      return Bad("amount", "must be a positive integer (minor units)");
    }
    // Parsed JSON holds non-negative integers as unsigned: check each representation.
    bool in_range = whole_float ? (it->get<double>() >= 1 &&
                                   it->get<double>() <= static_cast<double>(kMaxAmount))
                    : it->is_number_unsigned()
                        ? (it->get<uint64_t>() >= 1 &&
                           it->get<uint64_t>() <= static_cast<uint64_t>(kMaxAmount))
                        : (it->get<int64_t>() >= 1 && it->get<int64_t>() <= kMaxAmount);
    if (!in_range) {
      return Bad("amount", "must be a positive integer (minor units) of at most 10^15");
    }
    in.amount = {true, whole_float ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>()};
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
    if (!KnownCurrency(c)) return Bad("currency", "'" + c + "' is not an ISO 4217 currency code");
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

bool KnownCurrency(std::string_view code) {
  // ISO 4217 codes in use, funds and precious metals (X..), and a few recently withdrawn
  // ones a user's older records may still name.
  static constexpr std::string_view kCodes[] = {
      "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
      "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BYR",
      "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC",
      "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP",
      "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
      "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
      "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL",
      "MGA", "MKD", "MMK", "MNT", "MOP", "MRO", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR",
      "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR",
      "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
      "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STD", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
      "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU",
      "UYW", "UZS", "VED", "VEF", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB",
      "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX",
      "YER", "ZAR", "ZMW", "ZWG", "ZWL"};
  return std::binary_search(std::begin(kCodes), std::end(kCodes), code);
}

bool ValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (unsigned char c : key) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace dt::tracker

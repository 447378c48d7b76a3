// Validation of request bodies into command inputs. Pure functions: a body either becomes
// an input or a kInvalidArgument whose message names the field ("field 'amount' must be a
// positive integer"). Unknown fields are ignored. Text fields are bounded.
//
// For updates every field is optional: `present` says whether the body named it; a JSON
// null clears an optional field (and is an error for required ones).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace dt::tracker {

template <typename T>
struct Field {
  bool present = false;
  T value{};
};

struct ContactInput {
  Field<std::string> name;
  Field<std::optional<std::string>> username, phone, email, notes;
  std::string comment;
};

struct TransactionInput {
  Field<std::string> contact_id;
  Field<std::string> type;
  Field<std::string> direction;
  Field<int64_t> amount;
  Field<std::string> currency;
  Field<std::optional<std::string>> description;
  Field<std::string> transaction_date;
  Field<std::optional<std::string>> due_date;
  std::string comment;
};

struct SettingInput {
  std::string key;
  std::string value;
  std::string comment;
};

inline constexpr size_t kMaxNameChars = 200;
inline constexpr size_t kMaxShortTextChars = 320;
inline constexpr size_t kMaxLongTextChars = 10000;
inline constexpr int64_t kMaxAmount = 1'000'000'000'000'000;  // 10^15 minor units

// `body` may be null (no body) where every field is optional.
Result<ContactInput> ParseContactInput(const nlohmann::json& body, bool create);
Result<TransactionInput> ParseTransactionInput(const nlohmann::json& body, bool create);
// DELETE bodies: an optional {comment}.
Result<std::string> ParseComment(const nlohmann::json& body);
Result<SettingInput> ParseSettingInput(const std::string& key, const nlohmann::json& body);

// An ISO 4217 code (upper case) such as "IQD" or "USD".
bool KnownCurrency(std::string_view code);

// An Idempotency-Key header value: 1..255 visible ASCII characters.
bool ValidIdempotencyKey(std::string_view key);

}  // namespace dt::tracker

// Strong id types of the domain: a ContactId cannot be passed where a TransactionId is
// expected. Each wraps a Uuid; ToString() is the canonical lower-case form used in streams,
// JSON and SQL.
//
// Thread-safety: values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/uuid.h"

namespace dt::tracker {

template <typename Tag>
struct StrongId {
  Uuid value;

  static std::optional<StrongId> Parse(std::string_view text) {
    auto u = Uuid::Parse(text);
    if (!u) return std::nullopt;
    return StrongId{*u};
  }
  std::string ToString() const { return value.ToString(); }
  friend bool operator==(const StrongId&, const StrongId&) = default;
};

using UserId = StrongId<struct UserIdTag>;
using ContactId = StrongId<struct ContactIdTag>;
using TransactionId = StrongId<struct TransactionIdTag>;

}  // namespace dt::tracker

// The domain's events and streams: names, stream naming, and the fixed namespaces from
// which deterministic ids are derived.
//
// Streams (one per aggregate):
//   contact-{contact_id}       ContactCreated, ContactUpdated, ContactDeleted
//   transaction-{id}           TransactionCreated, TransactionUpdated, TransactionDeleted
//   settings-{user_id}         SettingChanged
//   user-{user_id}             UserCreated, UserPasswordChanged  (user_id = uuid5(username))
//   idempotency-{key_id}       IdempotencyKeyClaimed             (key_id = uuid5(user, key))
//   syncevent-{claim_id}       SyncEventClaimed                  (offline sync, sync_service.h)
//
// Every event's data answers who (user_id), when (occurred_at, RFC 3339 UTC), what (the full
// state after the change: `contact` / `transaction`; on updates also `changes` and the
// `previous` values of what changed; on deletes the `deleted_snapshot`) and why (`comment`,
// "No comment provided" when the request gave none). Because each event carries the whole
// state, a projector applies it without reading anything, and the aggregate's current state
// is its last event.
//
// Metadata (JSON): request_id, user_id, source, and for requests with an Idempotency-Key
// the key and the request fingerprint (see idempotency.h).
//
// Thread-safety: constants and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/uuid.h"

namespace dt::tracker {

namespace event_type {
inline constexpr std::string_view kContactCreated = "ContactCreated";
inline constexpr std::string_view kContactUpdated = "ContactUpdated";
inline constexpr std::string_view kContactDeleted = "ContactDeleted";
inline constexpr std::string_view kTransactionCreated = "TransactionCreated";
inline constexpr std::string_view kTransactionUpdated = "TransactionUpdated";
inline constexpr std::string_view kTransactionDeleted = "TransactionDeleted";
inline constexpr std::string_view kSettingChanged = "SettingChanged";
inline constexpr std::string_view kUserCreated = "UserCreated";
inline constexpr std::string_view kUserPasswordChanged = "UserPasswordChanged";
inline constexpr std::string_view kIdempotencyKeyClaimed = "IdempotencyKeyClaimed";
// In an idempotency-{key_id} stream: the keyed update changed nothing, so no domain event
// was written; data {stream, event_number, type, data} rebuilds the answer for a retry.
inline constexpr std::string_view kUpdateChangedNothing = "UpdateChangedNothing";
}  // namespace event_type

inline constexpr std::string_view kDefaultComment = "No comment provided";

inline constexpr std::string_view kContactPrefix = "contact-";
inline constexpr std::string_view kTransactionPrefix = "transaction-";
inline constexpr std::string_view kSettingsPrefix = "settings-";
inline constexpr std::string_view kUserPrefix = "user-";
inline constexpr std::string_view kIdempotencyPrefix = "idempotency-";

inline std::string ContactStream(const std::string& id) { return std::string(kContactPrefix) + id; }
inline std::string TransactionStream(const std::string& id) {
  return std::string(kTransactionPrefix) + id;
}
inline std::string SettingsStream(const std::string& user_id) {
  return std::string(kSettingsPrefix) + user_id;
}
inline std::string UserStream(const std::string& user_id) {
  return std::string(kUserPrefix) + user_id;
}

// Fixed namespaces for UUIDv5 derivations (never change them: ids on disk depend on them).
const Uuid& UserNamespace();         // user id from the lower-cased username
const Uuid& IdempotencyNamespace();  // key id from (user id, key)

}  // namespace dt::tracker

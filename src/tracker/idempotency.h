// Idempotency-Key: durable in the event store, safe under races.
//
// Design (docs/DESIGN.md, "Debt Tracker API"):
//  - key_id = uuid5(IdempotencyNamespace, user_id + "\n" + key). Everything the request
//    writes is derived from it: the event id uuid5(key_id, "event"), and for creates the new
//    aggregate's id uuid5(key_id, "aggregate").
//  - The request's fingerprint = SHA-256 of method, path and the canonical JSON body
//    (keys sorted, whitespace dropped), so reordered keys count as the same body.
//  - Claim(): the first request writes IdempotencyKeyClaimed {fingerprint, method, path}
//    into `idempotency-{key_id}` with expected version no_stream (event id derived from
//    key_id, so identical racers collapse into one event). A later request with the key reads
//    that event: another fingerprint -> kConflict (HTTP 422); the same -> go on.
//  - The command then runs normally, but first looks for its derived event id in the
//    aggregate's stream: found -> the answer is rebuilt from that stored event (same status,
//    same body); identical racers append the same event id at the same expected version,
//    which the store turns into one event.
// So the key survives restarts and read-model rebuilds (it lives in the event store only).
// A request rejected before the claim (bad input: 400) does not use up its key; one rejected
// after it (404, 412) does: a retry repeats the same check.
//
// Thread-safety: pure functions plus Claim(), which only uses the (thread-safe) client.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "client/event_store_client.h"
#include "common/uuid.h"

namespace dt::tracker {

struct IdempotencyContext {
  std::string key;
  Uuid key_id;
  std::string method;
  std::string path;
  std::string fingerprint;  // hex SHA-256

  Uuid EventId() const { return Uuid::NameBased(key_id, "event"); }
  Uuid AggregateId() const { return Uuid::NameBased(key_id, "aggregate"); }
  // Depends on the fingerprint: identical racers collapse into one event, while a different
  // request racing for the same key gets "wrong expected version" and is refused.
  Uuid ClaimEventId() const { return Uuid::NameBased(key_id, "claim/" + fingerprint); }
  std::string Stream() const { return "idempotency-" + key_id.ToString(); }
};

// `body` is the parsed request body (null when none).
IdempotencyContext MakeIdempotencyContext(const std::string& user_id, std::string_view key,
                                          std::string_view method, std::string_view path,
                                          const nlohmann::json& body);

// Claims the key for this request (see above). kConflict when the key was used for another
// request; kUnavailable etc. from the store. With `read`, the key's stream is read up to
// kKeyStreamReadCount events (instead of just the claim) and what was read is handed back
// (empty when this request's claim was the first), so a caller that looks for other events
// of the key (an update's "changed nothing" record) needs no second read.
constexpr int64_t kKeyStreamReadCount = 16;
Status ClaimIdempotencyKey(client::EventStoreClient& store, const IdempotencyContext& ctx,
                           const std::string& user_id, const std::string& request_id,
                           std::vector<client::ResolvedEvent>* read = nullptr);

std::string Sha256Hex(std::string_view data);

}  // namespace dt::tracker

// SyncApi: the app's offline sync, real-time channel and undo (../shared/docs/api-contract.md,
// sections Sync, Real-time, Admin), as plain handlers plus their routes:
//   GET    /api/sync/events?since=&limit=   the user's events, ascending (sync_handlers.cc)
//   GET    /api/sync/hash                   digest of those events (sync_handlers.cc)
//   POST   /api/sync/events                 events recorded offline (sync_handlers.cc)
//   DELETE /api/admin/events/{event_id}     undo within 5 s (undo.cc)
//   GET    /ws?token=&since=                WebSocket of the user's changes (ws_handler.cc)
// docs/API.md describes checkpoints, paging, the digest and the message shapes.
//
// Checkpoints: a checkpoint is the decimal text of a position in the read model's event
// order (`seq` + 1 of the last event delivered); `since` also takes an RFC 3339 timestamp
// (events that occurred after it; a missing zone is read as UTC, a bare date as midnight).
//
// Thread-safety: handlers may run on many threads at once. Lifetime: everything in SyncDeps
// must outlive the SyncApi and its routes.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "api/ws_hub.h"
#include "client/event_store_client.h"
#include "http/router.h"
#include "readmodel/projector.h"
#include "readmodel/read_model_store.h"
#include "tracker/jwt.h"
#include "tracker/sync_digest.h"
#include "tracker/sync_service.h"
#include "tracker/undo_service.h"

namespace dt::api {

struct SyncDeps {
  client::EventStoreClient* events = nullptr;  // Idempotency-Key claims
  readmodel::ReadModelStore* store = nullptr;
  readmodel::Projector* projector = nullptr;
  tracker::SyncService* sync = nullptr;
  tracker::UndoService* undo = nullptr;
  RealtimeHub* hub = nullptr;
  const tracker::JwtSigner* jwt = nullptr;
  std::chrono::milliseconds read_your_writes_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds undo_window{std::chrono::seconds(5)};
};

// An Idempotency-Key on a request that is idempotent by itself (offline events by their
// ids, undo by the undone event): the key is claimed like the REST commands do, so a key
// used for another request (method, path or body) answers 422. Ok without a header.
Status ClaimRequestKey(client::EventStoreClient& events, const http::Exchange& ex,
                       const std::string& user_id, const nlohmann::json& body);

inline constexpr size_t kSyncPageDefault = 1000;  // also the largest `limit`

// A parsed `since`.
struct Since {
  Cursor cursor;          // where to read from
  std::string as_given;   // normalized: the checkpoint, or the timestamp as stored
};
// nullopt/empty -> from the start. kInvalidArgument for anything else unreadable.
Result<Since> ParseSince(const std::optional<std::string>& text);

class SyncApi {
 public:
  explicit SyncApi(SyncDeps deps) : d_(deps) {}

  std::vector<http::Route> Routes();

  http::Response GetEvents(const http::Exchange& ex);
  http::Response GetHash(const http::Exchange& ex);
  http::Response PostEvents(const http::Exchange& ex);
  http::Response UndoEvent(const http::Exchange& ex);
  std::optional<http::Response> OpenWebSocket(const http::Exchange& ex,
                                              const std::shared_ptr<http::WebSocket>& ws);

 private:
  struct DigestState {
    int64_t after_seq = -1;  // seq of the last event folded in
    tracker::SyncDigest digest;
    std::string last_timestamp;
  };
  static constexpr size_t kMaxCachedDigests = 10000;

  SyncDeps d_;
  std::mutex digest_mu_;
  std::unordered_map<std::string, DigestState> digests_;  // guarded by digest_mu_
};

// The user of `Authorization: Bearer <JWT>`; kUnauthenticated otherwise.
Result<tracker::TokenClaims> AuthenticateBearer(const tracker::JwtSigner& jwt,
                                                const http::Exchange& ex);

// The sync JSON of one event row; nullopt when the row is not part of sync (settings).
std::optional<nlohmann::json> SyncEventJson(const readmodel::EventRow& row);

}  // namespace dt::api

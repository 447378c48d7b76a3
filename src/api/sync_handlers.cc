// GET /api/sync/events, GET /api/sync/hash, POST /api/sync/events, and SyncApi's routes.
#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/error_mapping.h"
#include "api/sync_api.h"
#include "client/time_util.h"
#include "tracker/idempotency.h"
#include "tracker/sync_format.h"
#include "tracker/validation.h"

namespace dt::api {

using json = nlohmann::json;
using S = http::HttpStatus;
using http::Exchange;
using http::Response;

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<tracker::TokenClaims> AuthenticateBearer(const tracker::JwtSigner& jwt, const Exchange& ex) {
  std::string_view h = ex.Header("Authorization");
  if (h.empty()) return Status(Code::kUnauthenticated, "Missing Authorization: Bearer token");
  // The scheme is case-insensitive (RFC 9110 11.1): "Bearer", "bearer", "BEARER".
  if (h.size() < 7 || h[6] != ' ' || !std::equal(h.begin(), h.begin() + 6, "bearer", [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
      })) {
    return Status(Code::kUnauthenticated, "Authorization must be a Bearer token");
  }
  std::string_view token = h.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  auto claims = jwt.Verify(token);
  if (!claims.ok()) return Status(Code::kUnauthenticated, "Invalid or expired token");
  return claims;
}

Status ClaimRequestKey(client::EventStoreClient& events, const Exchange& ex,
                       const std::string& user_id, const json& body) {
  if (ex.request.find("Idempotency-Key") == ex.request.end()) return Status::Ok();
  std::string_view key = ex.Header("Idempotency-Key");
  if (!tracker::ValidIdempotencyKey(key)) {
    return Status::InvalidArgument("Idempotency-Key must be 1-255 visible ASCII characters");
  }
  auto m = ex.request.method_string();
  auto ctx = tracker::MakeIdempotencyContext(user_id, key, std::string_view(m.data(), m.size()),
                                             ex.path, body);
  return tracker::ClaimIdempotencyKey(events, ctx, user_id, ex.request_id);
}

Result<Since> ParseSince(const std::optional<std::string>& text) {
  Since s;
  if (!text || text->empty()) {
    s.as_given = "0";
    return s;
  }
  std::string v = *text;
  // A timestamp pasted into the URL unencoded ("...T10:00:00+03:00") reaches us with its
  // "+" decoded to a space (form encoding): a space after the time can only be that "+".
  if (size_t sp = v.find(' ', 19); v.size() > 19 && sp != std::string::npos) v[sp] = '+';
  if (AllDigits(v)) {
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) {
      return Status::InvalidArgument("since: checkpoint out of range");
    }
    s.cursor.after_seq = n - 1;
    s.as_given = std::to_string(n);
    return s;
  }
  std::optional<int64_t> us = ParseRfc3339Micros(v);
  if (!us && v.size() == 10) us = ParseRfc3339Micros(v + "T00:00:00Z");  // a bare date
  if (!us) us = ParseRfc3339Micros(v + "Z");                             // no zone: UTC
  if (!us) {
    return Status::InvalidArgument(
        "since must be a checkpoint from an earlier answer or an RFC 3339 timestamp");
  }
  s.cursor.occurred_after = FormatRfc3339Micros(*us);
  s.as_given = s.cursor.occurred_after;
  return s;
}

std::optional<json> SyncEventJson(const readmodel::EventRow& row) {
  if (row.aggregate_type != "contact" && row.aggregate_type != "transaction") return std::nullopt;
  json d = json::parse(row.data, nullptr, false);
  auto view = tracker::ToSyncView(row.event_type, d);
  if (!view) return std::nullopt;
  return json{{"id", row.event_id},
              {"aggregate_type", view->aggregate_type},
              {"aggregate_id", row.aggregate_id},
              {"event_type", tracker::SyncKindName(view->kind)},
              {"event_data", tracker::SyncEventData(*view)},
              {"timestamp", row.occurred_at},
              {"version", row.version},
              {"checkpoint", std::to_string(row.seq + 1)},
              {"domain_event_type", row.event_type}};
}

std::vector<http::Route> SyncApi::Routes() {
  using http::Route;
  using http::Verb;
  auto h = [this](Response (SyncApi::*fn)(const Exchange&)) {
    return http::Handler([this, fn](const Exchange& ex) { return (this->*fn)(ex); });
  };
  const http::Run B = http::Run::kBlocking;
  return {
      Route(Verb::get, "/api/sync/events", h(&SyncApi::GetEvents), B),
      Route(Verb::post, "/api/sync/events", h(&SyncApi::PostEvents), B),
      Route(Verb::get, "/api/sync/hash", h(&SyncApi::GetHash), B),
      Route(Verb::delete_, "/api/admin/events/{event_id}", h(&SyncApi::UndoEvent), B),
      Route(Verb::get, "/ws",
            http::WebSocketHandler([this](const Exchange& ex, const std::shared_ptr<http::WebSocket>& ws) {
              return OpenWebSocket(ex, ws);
            })),
  };
}

Response SyncApi::GetEvents(const Exchange& ex) {
  auto claims = AuthenticateBearer(*d_.jwt, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto since = ParseSince(ex.Query("since"));
  if (!since.ok()) return ErrorFromStatus(since.status(), ex.request_id);
  size_t limit = kSyncPageDefault;
  if (auto l = ex.Query("limit")) {
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || p != l->data() + l->size() || limit == 0) {
      return JsonError(S::bad_request, "limit must be a positive integer");
    }
    limit = std::min(limit, kSyncPageDefault);
  }
  auto rows = d_.store->EventsAfter(claims->user_id, since->cursor.after_seq,
                                    since->cursor.occurred_after, limit);
  if (!rows.ok()) return ErrorFromStatus(rows.status(), ex.request_id);
  json out = json::array();
  for (const auto& r : *rows) {
    if (auto e = SyncEventJson(r)) out.push_back(std::move(*e));
  }
  // The next checkpoint moves past every row read, also those sync leaves out (settings).
  std::string next = rows->empty() ? since->as_given : std::to_string(rows->back().seq + 1);
  bool more = rows->size() == limit;
  Response res = JsonOk(S::ok, out);
  res.set("X-Sync-Checkpoint", next);
  res.set("X-Sync-Has-More", more ? "true" : "false");
  if (more) {
    res.set(http::bhttp::field::link, "</api/sync/events?since=" + next +
                                          "&limit=" + std::to_string(limit) + ">; rel=\"next\"");
  }
  return res;
}

Response SyncApi::GetHash(const Exchange& ex) {
  auto claims = AuthenticateBearer(*d_.jwt, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  const std::string& user = claims->user_id;
  DigestState st;
  {
    std::lock_guard lock(digest_mu_);
    auto it = digests_.find(user);
    if (it != digests_.end()) st = it->second;
  }
  // Fold in what arrived since the cached state (everything, the first time).
  for (;;) {
    auto rows = d_.store->EventsAfter(user, st.after_seq, "", kSyncPageDefault);
    if (!rows.ok()) return ErrorFromStatus(rows.status(), ex.request_id);
    for (const auto& r : *rows) {
      if (auto e = SyncEventJson(r)) {
        st.digest.Add(r.event_id);
        st.last_timestamp = r.occurred_at;
      }
      st.after_seq = r.seq;
    }
    if (rows->size() < kSyncPageDefault) break;
  }
  {
    std::lock_guard lock(digest_mu_);
    if (digests_.size() >= kMaxCachedDigests && !digests_.count(user)) digests_.clear();
    auto& cached = digests_[user];
    if (cached.after_seq < st.after_seq) cached = st;
  }
  json out = {{"hash", st.digest.Hex()},
              {"event_count", st.digest.count()},
              {"last_event_timestamp",
               st.last_timestamp.empty() ? json(nullptr) : json(st.last_timestamp)},
              {"checkpoint", std::to_string(st.after_seq + 1)}};
  return JsonOk(S::ok, out);
}

Response SyncApi::PostEvents(const Exchange& ex) {
  auto claims = AuthenticateBearer(*d_.jwt, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  json body = json::parse(ex.request.body(), nullptr, false);
  if (body.is_discarded()) return JsonError(S::bad_request, "request body is not valid JSON");
  auto events = tracker::ParseOfflineBatch(body);
  if (!events.ok()) return ErrorFromStatus(events.status(), ex.request_id);
  if (Status k = ClaimRequestKey(*d_.events, ex, claims->user_id, body); !k.ok()) {
    return ErrorFromStatus(k, ex.request_id);
  }
  auto outcomes = d_.sync->Apply(claims->user_id, ex.request_id, *events);
  if (!outcomes.ok()) return ErrorFromStatus(outcomes.status(), ex.request_id);

  json accepted = json::array(), conflicts = json::array(), details = json::array();
  json written = json::array();
  for (const auto& o : *outcomes) {
    if (o.accepted) {
      accepted.push_back(o.id);
      if (o.written) written.push_back(o.id);
      if (!d_.projector->WaitApplied(o.stream, o.event_number, d_.read_your_writes_timeout,
                                     !o.written)) {
        spdlog::warn("msg=read_model_lagging request_id={} stream={} event={}", ex.request_id,
                     o.stream, o.event_number);
      }
      continue;
    }
    conflicts.push_back(o.id);
    json d = {{"id", o.id}, {"reason", o.reason}, {"error", o.error}};
    if (o.current_version) d["current_version"] = *o.current_version;
    details.push_back(std::move(d));
  }
  if (!written.empty() && d_.hub) {
    json msg = {{"type", "events_synced"},
                {"data",
                 {{"id", Uuid::Random().ToString()},
                  {"count", written.size()},
                  {"accepted", written},
                  {"conflicts", conflicts}}}};
    d_.hub->SendAfterCatchUp(claims->user_id, msg.dump());
  }
  return JsonOk(S::ok, {{"accepted", accepted}, {"conflicts", conflicts}, {"conflict_details", details}});
}

}  // namespace dt::api

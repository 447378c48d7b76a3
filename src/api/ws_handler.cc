// GET /ws: the WebSocket of the user's changes (see ws_hub.h for what flows through it).
#include <nlohmann/json.hpp>

#include "api/error_mapping.h"
#include "api/sync_api.h"

namespace dt::api {

using json = nlohmann::json;
using S = http::HttpStatus;

std::optional<http::Response> SyncApi::OpenWebSocket(const http::Exchange& ex,
                                                     const std::shared_ptr<http::WebSocket>& ws) {
  // Browsers cannot set headers on a WebSocket: the token comes as ?token= (a Bearer
  // header works too, for other clients).
  std::optional<std::string> token = ex.Query("token");
  Result<tracker::TokenClaims> claims = Status(Code::kUnauthenticated, "Missing token");
  if (token && !token->empty()) {
    claims = d_.jwt->Verify(*token);
    if (!claims.ok()) claims = Status(Code::kUnauthenticated, "Invalid or expired token");
  } else if (!ex.Header("Authorization").empty()) {
    claims = AuthenticateBearer(*d_.jwt, ex);
  } else {
    claims = Status(Code::kUnauthenticated, "Missing token: connect to /ws?token=<token>");
  }
  if (!claims.ok()) return JsonError(S::unauthorized, claims.status().message());
  std::optional<Cursor> cursor;
  if (auto since = ex.Query("since"); since && !since->empty()) {
    auto parsed = ParseSince(since);
    if (!parsed.ok()) return JsonError(S::bad_request, parsed.status().message());
    cursor = parsed->cursor;
  }
  std::weak_ptr<http::WebSocket> weak = ws;
  ws->on_message = [weak](std::string text) {
    // An application-level ping ({"type":"ping"}) gets {"type":"pong"}; the rest is ignored.
    json m = json::parse(text, nullptr, false);
    if (m.is_object() && m.value("type", "") == "ping") {
      if (auto s = weak.lock()) s->Send(R"({"type":"pong"})");
    }
  };
  RealtimeHub* hub = d_.hub;
  const http::WebSocket* raw = ws.get();
  ws->on_close = [hub, raw] { hub->Unsubscribe(raw); };
  hub->Subscribe(ws, claims->user_id, cursor);
  return std::nullopt;
}

}  // namespace dt::api

#include "tracker/idempotency.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "common/text_codec.h"
#include "tracker/events.h"

namespace dt::tracker {

using json = nlohmann::json;

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

IdempotencyContext MakeIdempotencyContext(const std::string& user_id, std::string_view key,
                                          std::string_view method, std::string_view path,
                                          const json& body) {
  IdempotencyContext ctx;
  ctx.key = std::string(key);
  ctx.key_id = Uuid::NameBased(IdempotencyNamespace(), user_id + "\n" + std::string(key));
  ctx.method = std::string(method);
  ctx.path = std::string(path);
  std::string canonical = body.is_null() ? std::string() : body.dump();
  ctx.fingerprint = Sha256Hex(ctx.method + "\n" + ctx.path + "\n" + canonical);
  return ctx;
}

namespace {

Status CompareClaim(const client::ResolvedEvent& e, const IdempotencyContext& ctx) {
  json data = json::parse(e.data, nullptr, false);
  if (data.is_object() && data.value("fingerprint", std::string()) == ctx.fingerprint) {
    return Status::Ok();
  }
  return Status::Conflict("Idempotency-Key '" + ctx.key +
                          "' was already used for a different request (method, path or "
                          "body differ); it cannot be reused");
}

}  // namespace

Status ClaimIdempotencyKey(client::EventStoreClient& store, const IdempotencyContext& ctx,
                           const std::string& user_id, const std::string& request_id,
                           std::vector<client::ResolvedEvent>* read) {
  const std::string stream = ctx.Stream();
  if (read) read->clear();
  auto existing = store.ReadStreamForward(stream, 0, read ? kKeyStreamReadCount : 1);
  if (existing.ok() && !existing->events.empty()) {
    Status s = CompareClaim(existing->events[0], ctx);
    if (s.ok() && read) *read = std::move(existing->events);
    return s;
  }
  if (!existing.ok() && !existing.status().Is(Code::kStreamNotFound)) return existing.status();

  json data = {{"user_id", user_id},
               {"key", ctx.key},
               {"method", ctx.method},
               {"path", ctx.path},
               {"fingerprint", ctx.fingerprint},
               {"occurred_at", FormatRfc3339Micros(NowMicros())}};
  json meta = {{"request_id", request_id}, {"user_id", user_id}, {"source", "api"}};
  client::ProposedEvent e{ctx.ClaimEventId(), std::string(event_type::kIdempotencyKeyClaimed),
                          data.dump(), meta.dump()};
  auto appended = store.Append(stream, client::kNoStream, {std::move(e)});
  // Success means our claim (or an identical racer's: same event id) is event 0.
  if (appended.ok()) return Status::Ok();
  if (appended.status().Is(Code::kWrongExpectedVersion)) {
    auto stored = store.ReadStreamForward(stream, 0, 1);
    if (!stored.ok()) return stored.status();
    if (stored->events.empty()) return Status::Internal("idempotency claim vanished");
    return CompareClaim(stored->events[0], ctx);
  }
  return appended.status();
}

}  // namespace dt::tracker

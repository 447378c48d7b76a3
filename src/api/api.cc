#include "api/api.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "api/error_mapping.h"
#include "api/live_contacts.h"
#include "api/sync_api.h"
#include "client/time_util.h"
#include "http/worker_pool.h"
#include "tracker/events.h"
#include "tracker/validation.h"

namespace dt::api {

using json = nlohmann::json;
using S = http::HttpStatus;
using http::Exchange;
using http::Response;

namespace {

constexpr size_t kMaxEventsPage = 500;

Result<tracker::TokenClaims> Authenticate(const ApiDeps& d, const Exchange& ex) {
  return AuthenticateBearer(*d.jwt, ex);
}

Result<json> ParseBody(const Exchange& ex) {
  const std::string& body = ex.request.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json(nullptr);
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("request body is not valid JSON");
  return j;
}

Result<std::optional<int64_t>> ParseIfMatch(const Exchange& ex) {
  std::string_view v = ex.Header("If-Match");
  if (v.empty()) return std::optional<int64_t>();
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v == "*") return std::optional<int64_t>();
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
    return Status::InvalidArgument("If-Match must be an entity version such as \"3\"");
  }
  return std::optional<int64_t>(n);
}

// The id in the path as a canonical UUID, or a 400.
Result<std::string> PathId(const Exchange& ex) {
  auto u = Uuid::Parse(ex.Param("id"));
  if (!u) return Status::InvalidArgument("id in the path must be a UUID");
  return u->ToString();
}

std::string_view VerbName(const Exchange& ex) {
  auto m = ex.request.method_string();
  return {m.data(), m.size()};
}

Response WithETag(Response r, int64_t version) {
  r.set(http::bhttp::field::etag, "\"" + std::to_string(version) + "\"");
  return r;
}

// A write's answer, sent once both its command's result (computed on the handler's thread)
// and the durability of its event (possibly reported from the event store's writer thread
// first) are in: whichever comes second goes on.
struct PendingWrite {
  std::atomic<int> missing{2};
  Status durable;                     // set before its decrement
  std::optional<Response> answer;     // set before its decrement
  std::string stream;
  int64_t number = -1;
  bool replayed = false;
};

// Answers once the read model has the event (read-your-writes). No thread waits for that:
// the projector answers right after the batch with the event commits
// (Projector::WhenApplied), so one commit releases every writer it holds.
void AnswerWhenApplied(const ApiDeps& d, const std::shared_ptr<PendingWrite>& p,
                       const std::string& request_id, const http::Reply& reply, bool may_block) {
  if (!p->durable.ok()) return reply(ErrorFromStatus(p->durable, request_id));
  const std::string& stream = p->stream;
  int64_t number = p->number;
  d.projector->WhenApplied(
      stream, number, d.read_your_writes_timeout, p->replayed,
      [reply, p, request_id](bool applied) {
        if (!applied) {
          spdlog::warn("msg=read_model_lagging request_id={} stream={} event={}", request_id,
                       p->stream, p->number);
        }
        reply(std::move(*p->answer));
      },
      may_block);
}

// A write's request once authenticated and parsed (PrepareWrite), before its command runs.
struct PreparedWrite {
  tracker::CommandContext ctx;
  json body;
};

// Authenticates and parses a write; nullopt when it was answered already (an error).
std::optional<PreparedWrite> PrepareWrite(const ApiDeps& d, const Exchange& ex,
                                          const http::Reply& reply) {
  auto claims = Authenticate(d, ex);
  if (!claims.ok()) {
    reply(ErrorFromStatus(claims.status(), ex.request_id));
    return std::nullopt;
  }
  auto body = ParseBody(ex);
  if (!body.ok()) {
    reply(ErrorFromStatus(body.status(), ex.request_id));
    return std::nullopt;
  }
  auto if_match = ParseIfMatch(ex);
  if (!if_match.ok()) {
    reply(ErrorFromStatus(if_match.status(), ex.request_id));
    return std::nullopt;
  }
  PreparedWrite w;
  w.ctx.user_id = claims->user_id;
  w.ctx.request_id = ex.request_id;
  w.ctx.if_match = *if_match;
  std::string_view key = ex.Header("Idempotency-Key");
  if (!key.empty() || ex.request.find("Idempotency-Key") != ex.request.end()) {
    if (!tracker::ValidIdempotencyKey(key)) {
      reply(JsonError(S::bad_request, "Idempotency-Key must be 1-255 visible ASCII characters"));
      return std::nullopt;
    }
    w.ctx.idempotency =
        tracker::MakeIdempotencyContext(w.ctx.user_id, key, VerbName(ex), ex.path, *body);
  }
  w.body = std::move(body).value();
  return w;
}

// Runs a prepared write's command, then answers once the event is durable and in the read
// model. `command(ctx, body, durable)` returns the answer and calls `durable` exactly once
// when it is ok (see TrackerService::Durable): a create leaves its append running, so this
// thread is free before the event is durable. `may_block`: false on an I/O thread.
template <typename Command>
void RunWrite(const ApiDeps& d, const Exchange& ex, const http::Reply& reply,
              const PreparedWrite& w, Command&& command, bool may_block) {
  auto p = std::make_shared<PendingWrite>();
  // A standby instance polls the read model for read-your-writes: the command then blocks
  // on this (worker) thread, as the polling does.
  tracker::TrackerService::Durable durable;
  if (d.projector->Active()) {
    durable = [&d, p, reply, request_id = ex.request_id](Status s) {
      p->durable = std::move(s);
      // Possibly on the event store's writer thread: nothing may block there.
      if (p->missing.fetch_sub(1) == 1) AnswerWhenApplied(d, p, request_id, reply, false);
    };
  } else {
    p->missing = 1;  // the command's result only: no `durable`, so the command blocks
  }
  auto result = command(w.ctx, w.body, std::move(durable));
  if (!result.ok()) return reply(ErrorFromStatus(result.status(), ex.request_id));
  const S status = result->created ? S::created : S::ok;
  const bool text = !result->body_text.empty();  // holds "version"
  if (text) {
    p->answer.emplace(http::JsonResponse(status, std::move(result->body_text)));
  } else {
    p->answer.emplace(JsonOk(status, result->body));
  }
  if (text || result->body.contains("version")) {
    *p->answer = WithETag(std::move(*p->answer), result->event_number);
  }
  p->stream = std::move(result->stream);
  p->number = result->event_number;
  p->replayed = result->replayed;
  if (p->missing.fetch_sub(1) == 1) AnswerWhenApplied(d, p, ex.request_id, reply, may_block);
}

// The common path of every write that may block (on the worker pool): authenticate, parse,
// run the command, answer once durable and in the read model.
template <typename Command>
void Write(const ApiDeps& d, const Exchange& ex, const http::Reply& reply, Command&& command) {
  auto w = PrepareWrite(d, ex, reply);
  if (!w) return;
  RunWrite(d, ex, reply, *w, std::forward<Command>(command), true);
}

using WriteCommand = std::function<Result<tracker::CommandResult>(
    const tracker::CommandContext&, const json&, tracker::TrackerService::Durable)>;

const http::ErrorFormat kJsonErrors = JsonError;

// A create's write on the worker pool (503 when its queue is full, 500 if it throws); right
// here when there is no server (tests calling the handler: the caller's thread may block).
// `prepared`: the request as already authenticated and parsed, so the pool does not do it
// again.
void WriteOnPool(const ApiDeps& d, Exchange ex, http::Reply reply, WriteCommand command,
                 std::optional<PreparedWrite> prepared = std::nullopt) {
  http::WorkerPool* pool = ex.pool;
  std::string name = ex.path;
  auto job = [&d, ex = std::make_shared<Exchange>(std::move(ex)), command = std::move(command),
              w = std::move(prepared)](const http::Reply& reply) mutable {
    if (!w) w = PrepareWrite(d, *ex, reply);
    if (w) RunWrite(d, *ex, reply, *w, command, true);
  };
  if (!pool) return job(reply);
  http::PostGuarded(*pool, std::move(name), kJsonErrors, std::move(reply), std::move(job));
}

// The live contact a transaction's body names, when LiveContacts knows it (no query).
std::optional<tracker::Contact> KnownContact(LiveContacts& contacts, const std::string& user_id,
                                             const json& body) {
  if (!body.is_object()) return std::nullopt;
  auto it = body.find("contact_id");
  if (it == body.end() || !it->is_string()) return std::nullopt;
  auto id = Uuid::Parse(it->get_ref<const std::string&>());
  if (!id) return std::nullopt;
  return contacts.Find(user_id, id->ToString());
}

// A command that returns once its event is durable.
template <typename Command>
auto Blocking(Command&& command) {
  return [command = std::forward<Command>(command)](const tracker::CommandContext& ctx,
                                                    const json& body,
                                                    tracker::TrackerService::Durable durable) {
    auto r = command(ctx, body);
    if (r.ok() && durable) durable(Status::Ok());
    return r;
  };
}

json EventJson(const std::string& event_id, std::string_view aggregate_type,
               const std::string& aggregate_id, const std::string& type, const std::string& data,
               const std::string& timestamp, int64_t version) {
  json d = json::parse(data, nullptr, false);
  if (d.is_discarded()) d = nullptr;
  return {{"id", event_id},
          {"aggregate_type", aggregate_type},
          {"aggregate_id", aggregate_id},
          {"event_type", type},
          {"event_data", std::move(d)},
          {"timestamp", timestamp},
          {"version", version}};
}

std::map<std::string, std::map<std::string, int64_t>> BalancesByContact(
    const std::vector<readmodel::BalanceRow>& rows) {
  std::map<std::string, std::map<std::string, int64_t>> out;
  for (const auto& r : rows) out[r.contact_id][r.currency] += r.amount;
  return out;
}

int64_t Sum(const std::map<std::string, int64_t>& m) {
  int64_t s = 0;
  for (const auto& [k, v] : m) s += v;
  return s;
}

}  // namespace

std::vector<http::Route> Api::Routes() {
  using http::Route;
  using http::Run;
  using http::Verb;
  auto h = [this](Response (Api::*fn)(const Exchange&)) {
    return http::Handler([this, fn](const Exchange& ex) { return (this->*fn)(ex); });
  };
  // Writes answer later, once the read model has their event (see Write above).
  auto w = [this](void (Api::*fn)(Exchange, http::Reply)) {
    return http::AsyncHandler(
        [this, fn](Exchange ex, http::Reply reply) { (this->*fn)(std::move(ex), std::move(reply)); });
  };
  const Run B = Run::kBlocking;
  return {
      Route(Verb::get, "/health", h(&Api::Health)),
      Route(Verb::post, "/api/auth/login", h(&Api::Login), B),
      Route(Verb::post, "/api/auth/register", h(&Api::Register), B),
      Route(Verb::get, "/api/contacts", h(&Api::ListContacts), B),
      Route(Verb::post, "/api/contacts", w(&Api::CreateContact)),  // inline: see there
      Route(Verb::get, "/api/contacts/{id}", h(&Api::GetContact), B),
      Route(Verb::put, "/api/contacts/{id}", w(&Api::UpdateContact), B),
      Route(Verb::delete_, "/api/contacts/{id}", w(&Api::DeleteContact), B),
      Route(Verb::get, "/api/contacts/{id}/events", h(&Api::ContactEvents), B),
      Route(Verb::get, "/api/transactions", h(&Api::ListTransactions), B),
      Route(Verb::post, "/api/transactions", w(&Api::CreateTransaction)),  // inline: see there
      Route(Verb::get, "/api/transactions/{id}", h(&Api::GetTransaction), B),
      Route(Verb::put, "/api/transactions/{id}", w(&Api::UpdateTransaction), B),
      Route(Verb::delete_, "/api/transactions/{id}", w(&Api::DeleteTransaction), B),
      Route(Verb::get, "/api/transactions/{id}/events", h(&Api::TransactionEvents), B),
      Route(Verb::get, "/api/balances", h(&Api::Balances), B),
      Route(Verb::get, "/api/summary", h(&Api::Balances), B),
      Route(Verb::get, "/api/settings", h(&Api::GetSettings), B),
      Route(Verb::put, "/api/settings/{key}", w(&Api::PutSetting), B),
      Route(Verb::get, "/api/admin/events", h(&Api::AdminEvents), B),
      Route(Verb::get, "/api/admin/projections/status", h(&Api::ProjectionStatus), B),
      Route(Verb::post, "/api/admin/projections/rebuild", h(&Api::ProjectionRebuild), B),
  };
}

Response Api::Health(const Exchange&) {
  return http::MakeResponse(S::ok, "OK", "text/plain; charset=utf-8");
}

// ------------------------------------------------------------------ auth

Response Api::Login(const Exchange& ex) {
  auto body = ParseBody(ex);
  if (!body.ok()) return ErrorFromStatus(body.status(), ex.request_id);
  if (!body->is_object()) return JsonError(S::bad_request, "request body must be a JSON object");
  for (const char* f : {"username", "password"}) {
    auto it = body->find(f);
    if (it == body->end() || it->is_null()) {
      return JsonError(S::bad_request, std::string("field '") + f + "' is required");
    }
    if (!it->is_string()) {
      return JsonError(S::bad_request, std::string("field '") + f + "' must be a string");
    }
    if (it->get_ref<const std::string&>().empty()) {
      return JsonError(S::bad_request, std::string("field '") + f + "' must not be empty");
    }
  }
  auto user = d_.users->Authenticate((*body)["username"], (*body)["password"]);
  if (!user.ok()) {
    if (user.status().Is(Code::kUnauthenticated)) {
      return JsonError(S::unauthorized, "Invalid username or password");
    }
    return ErrorFromStatus(user.status(), ex.request_id);
  }
  json out = {{"token", d_.jwt->Issue(user->user_id, user->username)},
              {"user_id", user->user_id},
              {"username", user->username}};
  return JsonOk(S::ok, out);
}

Response Api::Register(const Exchange& ex) {
  if (!d_.allow_registration) {
    return JsonError(S::forbidden, "Registration is disabled on this server");
  }
  auto body = ParseBody(ex);
  if (!body.ok()) return ErrorFromStatus(body.status(), ex.request_id);
  if (!body->is_object()) return JsonError(S::bad_request, "request body must be a JSON object");
  for (const char* f : {"username", "password"}) {
    auto it = body->find(f);
    if (it == body->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return JsonError(S::bad_request, std::string("field '") + f + "' must be a non-empty string");
    }
  }
  auto user = d_.users->CreateUser((*body)["username"], (*body)["password"]);
  if (!user.ok()) {
    if (user.status().Is(Code::kConflict)) {
      return JsonError(S::conflict, "Username already taken");
    }
    return ErrorFromStatus(user.status(), ex.request_id);
  }
  json out = {{"token", d_.jwt->Issue(user->user_id, user->username)},
              {"user_id", user->user_id},
              {"username", user->username}};
  return JsonOk(S::created, out);
}

// ------------------------------------------------------------------ contacts

Response Api::ListContacts(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto contacts = d_.store->ListContacts(claims->user_id);
  if (!contacts.ok()) return ErrorFromStatus(contacts.status(), ex.request_id);
  auto balances = d_.store->Balances(claims->user_id, "");
  if (!balances.ok()) return ErrorFromStatus(balances.status(), ex.request_id);
  auto by_contact = BalancesByContact(*balances);
  json out = json::array();
  static const std::map<std::string, int64_t> kNone;
  for (const auto& c : *contacts) {
    auto it = by_contact.find(c.id);
    const auto& b = it == by_contact.end() ? kNone : it->second;
    out.push_back(tracker::ContactView(c, Sum(b), b));
  }
  return JsonOk(S::ok, out);
}

Response Api::GetContact(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto id = PathId(ex);
  if (!id.ok()) return ErrorFromStatus(id.status(), ex.request_id);
  auto c = d_.store->GetContact(claims->user_id, *id);
  if (!c.ok()) return ErrorFromStatus(c.status(), ex.request_id);
  if (!c->has_value() || (*c)->is_deleted) return JsonError(S::not_found, "Contact not found");
  auto balances = d_.store->Balances(claims->user_id, *id);
  if (!balances.ok()) return ErrorFromStatus(balances.status(), ex.request_id);
  std::map<std::string, int64_t> b;
  for (const auto& r : *balances) b[r.currency] += r.amount;
  return WithETag(JsonOk(S::ok, tracker::ContactView(**c, Sum(b), b)), (*c)->version);
}

// On the I/O thread when nothing before its append blocks (as CreateTransaction; a contact
// needs no lookup), else on the worker pool.
void Api::CreateContact(Exchange ex, http::Reply reply) {
  auto create = [this](const tracker::CommandContext& ctx, const json& body,
                       tracker::TrackerService::Durable durable) {
    return d_.tracker->CreateContact(ctx, body, std::move(durable));
  };
  if (!MayWriteHere(ex)) return WriteOnPool(d_, std::move(ex), std::move(reply), create);
  auto w = PrepareWrite(d_, ex, reply);
  if (!w) return;
  RunWrite(d_, ex, reply, *w, create, false);
}

bool Api::MayWriteHere(const Exchange& ex) const {
  // No server (tests calling the handler): the caller's thread may block, so the pool path
  // runs right there. Large bodies are parsed off the I/O threads.
  constexpr size_t kMaxInlineBody = 16u << 10;
  return ex.pool && ex.request.body().size() <= kMaxInlineBody &&
         ex.request.find("Idempotency-Key") == ex.request.end() && d_.projector->Active();
}

void Api::UpdateContact(Exchange ex, http::Reply reply) {
  auto id = PathId(ex);
  if (!id.ok()) return reply(ErrorFromStatus(id.status(), ex.request_id));
  Write(d_, ex, reply, Blocking([&](const tracker::CommandContext& ctx, const json& body) {
    return d_.tracker->UpdateContact(ctx, *id, body);
  }));
}

void Api::DeleteContact(Exchange ex, http::Reply reply) {
  auto id = PathId(ex);
  if (!id.ok()) return reply(ErrorFromStatus(id.status(), ex.request_id));
  Write(d_, ex, reply, Blocking([&](const tracker::CommandContext& ctx, const json& body) {
    return d_.tracker->DeleteContact(ctx, *id, body);
  }));
}

namespace {

Response History(const ApiDeps& d, const Exchange& ex, std::string_view aggregate_type,
                 const std::string& prefix, std::string_view not_found) {
  auto claims = Authenticate(d, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto id = PathId(ex);
  if (!id.ok()) return ErrorFromStatus(id.status(), ex.request_id);
  auto events = d.tracker->History(claims->user_id, prefix + *id);
  if (!events.ok()) {
    if (events.status().Is(Code::kNotFound)) return JsonError(S::not_found, not_found);
    return ErrorFromStatus(events.status(), ex.request_id);
  }
  json out = json::array();
  for (const auto& e : *events) {
    json item = EventJson(e.id.ToString(), aggregate_type, *id, e.type, e.data,
                          FormatRfc3339Micros(e.created_us), e.number);
    if (item["event_data"].is_object() && item["event_data"].contains("occurred_at")) {
      item["timestamp"] = item["event_data"]["occurred_at"];
    }
    out.push_back(std::move(item));
  }
  return JsonOk(S::ok, out);
}

}  // namespace

Response Api::ContactEvents(const Exchange& ex) {
  return History(d_, ex, "contact", std::string(tracker::kContactPrefix), "Contact not found");
}

// ------------------------------------------------------------------ transactions

Response Api::ListTransactions(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto list = d_.store->ListTransactions(claims->user_id);
  if (!list.ok()) return ErrorFromStatus(list.status(), ex.request_id);
  json out = json::array();
  for (const auto& t : *list) out.push_back(tracker::TransactionView(t));
  return JsonOk(S::ok, out);
}

Response Api::GetTransaction(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto id = PathId(ex);
  if (!id.ok()) return ErrorFromStatus(id.status(), ex.request_id);
  auto t = d_.store->GetTransaction(claims->user_id, *id);
  if (!t.ok()) return ErrorFromStatus(t.status(), ex.request_id);
  if (!t->has_value() || (*t)->is_deleted) return JsonError(S::not_found, "Transaction not found");
  return WithETag(JsonOk(S::ok, tracker::TransactionView(**t)), (*t)->version);
}

// Runs on the I/O thread (the route is inline): when nothing before the append can block
// (no Idempotency-Key to claim, the contact known live without a query, this instance's
// projector answering read-your-writes from its commits), the command runs right here and
// its append goes out asynchronously, so no worker thread is woken for the write. Otherwise
// the command runs on the worker pool, as every other write.
void Api::CreateTransaction(Exchange ex, http::Reply reply) {
  auto create = [this](const tracker::CommandContext& ctx, const json& body,
                       tracker::TrackerService::Durable durable) {
    return d_.tracker->CreateTransaction(ctx, body, std::move(durable));
  };
  if (!d_.contacts || !MayWriteHere(ex)) {
    return WriteOnPool(d_, std::move(ex), std::move(reply), create);
  }
  auto w = PrepareWrite(d_, ex, reply);
  if (!w) return;
  if (auto known = KnownContact(*d_.contacts, w->ctx.user_id, w->body)) {
    LiveContacts::Pin pin(w->ctx.user_id, *known);  // the lookup answers from it, no query
    return RunWrite(d_, ex, reply, *w, create, false);
  }
  // The contact needs a query: on the pool, with the request as parsed here.
  WriteOnPool(d_, std::move(ex), std::move(reply), create, std::move(w));
}

void Api::UpdateTransaction(Exchange ex, http::Reply reply) {
  auto id = PathId(ex);
  if (!id.ok()) return reply(ErrorFromStatus(id.status(), ex.request_id));
  Write(d_, ex, reply, Blocking([&](const tracker::CommandContext& ctx, const json& body) {
    return d_.tracker->UpdateTransaction(ctx, *id, body);
  }));
}

void Api::DeleteTransaction(Exchange ex, http::Reply reply) {
  auto id = PathId(ex);
  if (!id.ok()) return reply(ErrorFromStatus(id.status(), ex.request_id));
  Write(d_, ex, reply, Blocking([&](const tracker::CommandContext& ctx, const json& body) {
    return d_.tracker->DeleteTransaction(ctx, *id, body);
  }));
}

Response Api::TransactionEvents(const Exchange& ex) {
  return History(d_, ex, "transaction", std::string(tracker::kTransactionPrefix),
                 "Transaction not found");
}

// ------------------------------------------------------------------ balances, settings

Response Api::Balances(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto contacts = d_.store->ListContacts(claims->user_id);
  if (!contacts.ok()) return ErrorFromStatus(contacts.status(), ex.request_id);
  auto rows = d_.store->Balances(claims->user_id, "");
  if (!rows.ok()) return ErrorFromStatus(rows.status(), ex.request_id);
  auto by_contact = BalancesByContact(*rows);
  json totals = json::object();
  json per_contact = json::array();
  std::map<std::string, int64_t> total;
  for (const auto& c : *contacts) {
    auto it = by_contact.find(c.id);
    std::map<std::string, int64_t> b = it == by_contact.end() ? std::map<std::string, int64_t>()
                                                               : it->second;
    for (const auto& [cur, amt] : b) total[cur] += amt;
    json bj = json::object();
    for (const auto& [cur, amt] : b) bj[cur] = amt;
    per_contact.push_back(
        {{"contact_id", c.id}, {"name", c.name}, {"balance", Sum(b)}, {"balances", bj}});
  }
  for (const auto& [cur, amt] : total) totals[cur] = amt;
  return JsonOk(S::ok, {{"totals", totals}, {"contacts", per_contact}});
}

Response Api::GetSettings(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto stored = d_.store->GetSettings(claims->user_id);
  if (!stored.ok()) return ErrorFromStatus(stored.status(), ex.request_id);
  json out = tracker::DefaultSettings();
  for (const auto& [k, v] : *stored) out[k] = tracker::TypedSettingValue(k, v);
  return JsonOk(S::ok, out);
}

void Api::PutSetting(Exchange ex, http::Reply reply) {
  std::string key(ex.Param("key"));
  Write(d_, ex, reply, Blocking([&](const tracker::CommandContext& ctx, const json& body) {
    return d_.tracker->SetSetting(ctx, key, body);
  }));
}

// ------------------------------------------------------------------ admin

Response Api::AdminEvents(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  readmodel::EventFilter f;
  auto number = [&](const char* name, size_t& out, size_t max) -> bool {
    auto v = ex.Query(name);
    if (!v) return true;
    size_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size()) return false;
    out = std::min(n, max);
    return true;
  };
  if (!number("limit", f.limit, kMaxEventsPage)) {
    return JsonError(S::bad_request, "limit must be a non-negative integer");
  }
  if (!number("offset", f.offset, SIZE_MAX / 2)) {
    return JsonError(S::bad_request, "offset must be a non-negative integer");
  }
  f.event_type = ex.Query("event_type").value_or("");
  // The app's own names for what happened (as in sync): CREATED, UPDATED, DELETED.
  for (const char* kind : {"Created", "Updated", "Deleted"}) {
    std::string up = kind;
    for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::string given = f.event_type;
    for (char& ch : given) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (given == up) f.event_type = kind;
  }
  f.aggregate_type = ex.Query("aggregate_type").value_or("");  // "contact", "transaction", …
  for (char& ch : f.aggregate_type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  f.search = ex.Query("search").value_or("");
  for (auto [name, target] : {std::pair{"date_from", &f.date_from}, {"date_to", &f.date_to}}) {
    auto v = ex.Query(name);
    if (!v || v->empty()) continue;
    // An offset's "+" left unencoded in the URL arrives as a space.
    if (size_t sp = v->find(' ', 19); v->size() > 19 && sp != std::string::npos) (*v)[sp] = '+';
    if (v->size() == 10) {
      if (!ParseDate(*v)) return JsonError(S::bad_request, std::string(name) + " must be a date");
      // occurred_at is "YYYY-MM-DDT...": "YYYY-MM-DDU" sorts after every time of that day.
      *target = std::string(name) == "date_to" ? *v + "U" : *v;
    } else {
      auto us = ParseRfc3339Micros(*v);
      if (!us) return JsonError(S::bad_request, std::string(name) + " must be a date or RFC 3339");
      *target = FormatRfc3339Micros(*us);
    }
  }
  auto rows = d_.store->ListEvents(claims->user_id, f);
  if (!rows.ok()) return ErrorFromStatus(rows.status(), ex.request_id);
  json out = json::array();
  for (const auto& r : *rows) {
    out.push_back(EventJson(r.event_id, r.aggregate_type, r.aggregate_id, r.event_type, r.data,
                            r.occurred_at, r.version));
  }
  return JsonOk(S::ok, out);
}

Response Api::ProjectionStatus(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  auto s = d_.projector->GetStatus();
  // Where the stores live (paths, hosts) and the projector's error (which may quote any
  // user's data) are for administrators; everyone else sees the kinds and that an error
  // exists.
  const bool admin = std::find(d_.admin_user_ids.begin(), d_.admin_user_ids.end(),
                               claims->user_id) != d_.admin_user_ids.end();
  auto kind = [admin](std::string d) {
    if (admin) return d;
    if (d.find(" at ") != std::string::npos) return d.substr(0, d.find(" at "));
    return d.find("://") != std::string::npos ? std::string("remote event store") : d;
  };
  std::string last_error = s.last_error;
  if (!admin && !last_error.empty()) {
    last_error = "The projector failed; the server log has the details";
  }
  json out = {{"active", s.active},
              {"rebuilding", s.rebuilding},
              {"position", s.position},
              {"events_applied", s.events_applied},
              {"generation", s.generation},
              {"last_error", last_error},
              {"events_skipped", s.events_skipped},
              {"events_repaired", s.events_repaired},
              {"last_skipped", admin ? s.last_skipped : std::string()},
              {"read_model", kind(d_.store->Describe())},
              {"event_store", kind(d_.events->Describe())},
              {"rebuild",
               {{"events", s.rebuild.events},
                {"events_per_second", s.rebuild.events_per_second},
                {"fraction", s.rebuild.fraction},
                {"eta_seconds", s.rebuild.eta_seconds},
                {"events_skipped", s.rebuild.events_skipped},
                {"events_repaired", s.rebuild.events_repaired},
                {"done", s.rebuild.done}}}};
  return JsonOk(S::ok, out);
}

Response Api::ProjectionRebuild(const Exchange& ex) {
  auto claims = Authenticate(d_, ex);
  if (!claims.ok()) return ErrorFromStatus(claims.status(), ex.request_id);
  // The contract offers the rebuild to the app's users, so with no DEBT_TRACKER_ADMIN_USERS
  // any signed-in user may start one (it is atomic and reads keep working). A rebuild works
  // on every user's read model, so an operator can make it an administrator's act by naming
  // the accounts allowed.
  if (!d_.admin_user_ids.empty() &&
      std::find(d_.admin_user_ids.begin(), d_.admin_user_ids.end(), claims->user_id) ==
          d_.admin_user_ids.end()) {
    return JsonError(S::forbidden,
                     "Only an administrator (DEBT_TRACKER_ADMIN_USERS) may rebuild projections");
  }
  Status s = d_.projector->StartRebuild();
  if (s.Is(Code::kConflict)) return JsonError(S::conflict, s.message());
  if (!s.ok()) return ErrorFromStatus(s, ex.request_id);
  return JsonOk(S::accepted, {{"message", "Projection rebuild started"},
                              {"status", "/api/admin/projections/status"}});
}

}  // namespace dt::api

#include "api/app.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "api/error_mapping.h"
#include "api/live_contacts.h"
#include "api/ops_endpoints.h"
#include "api/sync_api.h"
#include "api/ws_hub.h"
#include "client/client_factory.h"
#include "http/metrics.h"
#include "tracker/sync_service.h"
#include "tracker/undo_service.h"

namespace dt::api {

namespace {

// What a browser needs besides the routes themselves (the app also runs as a web app,
// served from another origin than the API):
// - CORS: every answer carries Access-Control-Allow-Origin (App::Start's constant headers), and
//   each route pattern answers the pre-flight OPTIONS with 204, its methods and the
//   request headers the API reads (Authorization, Content-Type, Idempotency-Key, If-Match).
//   Tokens travel in a header, never in cookies, so "*" is safe.
// - A trailing slash names the same resource ("/api/contacts/" = "/api/contacts"), so a
//   list is not mistaken for "/api/contacts/{id}" with an empty id.
// Aliases and pre-flights go first: "/api/contacts/" must not fall to "{id}".
void AddBrowserRoutes(std::vector<http::Route>& routes) {
  std::vector<std::string> patterns;
  std::map<std::string, std::vector<std::string>> methods;
  for (auto& r : routes) {
    if (r.name.empty()) r.name = r.pattern;
    if (!methods.count(r.pattern)) patterns.push_back(r.pattern);
    methods[r.pattern].emplace_back(http::bhttp::to_string(r.method));
  }
  std::vector<http::Route> front;
  for (const auto& r : routes) {
    if (r.pattern.size() > 1 && !r.pattern.ends_with("*}") && !r.pattern.ends_with("/")) {
      http::Route alias = r;
      alias.pattern += "/";
      front.push_back(std::move(alias));
    }
  }
  for (const auto& pattern : patterns) {
    std::string allow;
    for (const auto& m : methods[pattern]) allow += m + ", ";
    allow += "OPTIONS";
    auto preflight = [allow](const http::Exchange& ex) {
      http::Response res = http::MakeResponse(http::HttpStatus::no_content, "", "");
      res.set(http::bhttp::field::allow, allow);
      res.set("Access-Control-Allow-Methods", allow);
      std::string_view asked = ex.Header("Access-Control-Request-Headers");
      bool sane = asked.size() <= 1024 &&
                  std::all_of(asked.begin(), asked.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
      res.set("Access-Control-Allow-Headers",
              !asked.empty() && sane
                  ? std::string(asked)
                  : std::string("Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-Id"));
      res.set("Access-Control-Max-Age", "86400");
      return res;
    };
    http::Route options(http::Verb::options, pattern, http::Handler(preflight));
    options.name = pattern;
    if (pattern.size() > 1 && !pattern.ends_with("*}")) {
      http::Route alias = options;
      alias.pattern += "/";
      front.push_back(std::move(alias));
    }
    front.push_back(std::move(options));
  }
  for (auto& r : routes) front.push_back(std::move(r));
  routes = std::move(front);
}

}  // namespace

Result<std::unique_ptr<App>> App::Create(const Config& config) {
  std::unique_ptr<App> app(new App());
  app->config_ = config;
  client::ClientConfig cc{config.eventstore_url, config.eventstore_username,
                          config.eventstore_password};
  auto events = client::OpenEventStoreClient(cc);
  if (!events.ok()) return events.status();
  app->events_ = std::move(events).value();
  auto store = readmodel::OpenReadModelStore(config.database_url);
  if (!store.ok()) return store.status();
  app->store_ = std::move(store).value();
  DT_ASSIGN_OR_RETURN(std::string secret, ResolveJwtSecret(config));
  app->jwt_ = std::make_unique<tracker::JwtSigner>(secret, config.jwt_expiration);
  // With the remote event store a transaction's contact is checked in the read model first
  // (tracker_service.h): that saves an HTTP round trip per write. In-process the stream read
  // (straight from the stream's latest record) costs less than a read-model query: measured
  // with PostgreSQL, the query made each transaction create cost more CPU here and in
  // PostgreSQL.
  // The live contacts found are remembered until the projector applies a contact's event
  // (live_contacts.h): most transactions then need no query at all, and can be written
  // without a worker thread (Api::CreateTransaction).
  app->projector_ = std::make_unique<readmodel::Projector>(*app->events_, *app->store_);
  tracker::TrackerService::ContactLookup contacts;
  if (config.eventstore_url.rfind("file:", 0) != 0) {
    app->contacts_ = std::make_unique<LiveContacts>(*app->store_, *app->projector_);
    contacts = [live = app->contacts_.get()](const std::string& user_id, const std::string& id) {
      return live->Get(user_id, id);
    };
  }
  app->tracker_ = std::make_unique<tracker::TrackerService>(*app->events_, std::move(contacts));
  app->users_ = std::make_unique<tracker::UserService>(*app->events_);
  if (!config.bootstrap_users.empty()) {
    DT_ASSIGN_OR_RETURN(auto accounts, tracker::UserService::ParseBootstrap(config.bootstrap_users));
    DT_ASSIGN_OR_RETURN(auto created, app->users_->EnsureUsers(accounts));
    for (const auto& name : created) spdlog::info("msg=\"bootstrap user created\" username={}", name);
  }
  app->metrics_ = std::make_unique<http::Registry>();
  ApiDeps deps;
  deps.events = app->events_.get();
  deps.store = app->store_.get();
  deps.projector = app->projector_.get();
  deps.tracker = app->tracker_.get();
  deps.contacts = app->contacts_.get();
  deps.users = app->users_.get();
  deps.jwt = app->jwt_.get();
  deps.read_your_writes_timeout = config.read_your_writes;
  deps.allow_registration = config.allow_registration;
  for (const auto& name : config.admin_users) {
    deps.admin_user_ids.push_back(tracker::UserService::UserIdFor(name));
  }
  app->api_ = std::make_unique<Api>(deps);
  OpsOptions ops;
  ops.max_lag_events = config.ready_max_lag_events;
  ops.max_lag_seconds = config.ready_max_lag_seconds;
  app->ops_ = std::make_unique<OpsEndpoints>(*app->events_, *app->projector_, *app->metrics_, ops);
  std::vector<http::Route> routes = app->api_->Routes();
  // GET /metrics and /health/ready (ops_endpoints.h).
  for (auto& r : app->ops_->Routes()) routes.push_back(std::move(r));
  app->sync_ = std::make_unique<tracker::SyncService>(*app->events_, *app->tracker_);
  app->undo_ = std::make_unique<tracker::UndoService>(*app->events_);
  RealtimeHub::Options hub_options;
  hub_options.socket_queue_limit = config.ws_queue;
  app->hub_ = std::make_unique<RealtimeHub>(*app->store_, hub_options);
  // The hub reads what was applied from the read model itself (see ws_hub.h); the
  // projector's listener wakes it and tells it how far that is.
  app->projector_->SetAppliedListener(
      [hub = app->hub_.get(), live = app->contacts_.get()](
          const std::vector<readmodel::EventRow>& events) {
        if (live) live->Applied(events);
        hub->Notify(events.empty() ? -1 : events.back().seq);
      });
  SyncDeps sync;
  sync.events = app->events_.get();
  sync.store = app->store_.get();
  sync.projector = app->projector_.get();
  sync.sync = app->sync_.get();
  sync.undo = app->undo_.get();
  sync.hub = app->hub_.get();
  sync.jwt = app->jwt_.get();
  sync.read_your_writes_timeout = config.read_your_writes;
  app->sync_api_ = std::make_unique<SyncApi>(sync);
  // Sync, real-time and undo (sync_api.h).
  for (auto& r : app->sync_api_->Routes()) routes.push_back(std::move(r));
  AddBrowserRoutes(routes);
  // Every error body of the API is {"error": ...}, also for what the router answers itself.
  app->router_ = std::make_unique<http::Router>(
      std::move(routes),
      [](http::HttpStatus status, std::string_view message) { return JsonError(status, message); });
  return app;
}

App::~App() {
  Stop();
  server_.reset();
  // Appends still in flight (a store slower than the drain) are answered now, while the
  // projector their callbacks reach is still there.
  if (events_) events_->StopAppends();
  projector_.reset();  // joins a running rebuild, which may still notify the hub
}

Status App::Start() {
  projector_->Start();
  DT_RETURN_IF_ERROR(hub_->Start());
  http::ServerOptions o;
  o.address = config_.bind;
  o.port = config_.port;
  o.worker_threads = config_.workers;
  o.max_body_bytes = 1u << 20;
  o.server_name = "dt-server";
  o.metrics = metrics_.get();
  o.route_metrics = true;  // http_requests_total{method,route,code} and latency by route
  // Browser clients on other origins (see AddBrowserRoutes): on every answer, written as
  // preformatted header lines rather than set as fields on each response.
  o.headers = {
      {"Access-Control-Allow-Origin", "*"},
      {"Access-Control-Expose-Headers",
       "ETag, Location, Retry-After, Link, X-Request-Id, X-Sync-Checkpoint, X-Sync-Has-More"},
  };
  o.websocket.max_queued_messages = config_.ws_queue;
  o.websocket.idle_timeout = config_.ws_idle;
  server_ = std::make_unique<http::Server>(o, *router_);
  Status s = server_->Start();
  if (!s.ok()) return Status(s.code(), "PORT: " + s.message());
  return Status::Ok();
}

void App::Stop() {
  if (server_) server_->Stop();
  if (hub_) hub_->Stop();
  if (projector_) projector_->Stop();
}

uint16_t App::port() const { return server_ ? server_->port() : 0; }

}  // namespace dt::api

#include "api/ops_endpoints.h"

#include <nlohmann/json.hpp>

#include "api/error_mapping.h"

namespace dt::api {

using http::HttpStatus;
using nlohmann::json;

OpsEndpoints::OpsEndpoints(client::EventStoreClient& events, readmodel::Projector& projector,
                           http::Registry& registry, OpsOptions options)
    : events_(events), projector_(projector), registry_(registry), options_(options) {
  registry_.AddCollector([this](std::string& out) { Collect(out); });
}

std::vector<http::Route> OpsEndpoints::Routes() {
  using http::Route;
  using http::Verb;
  return {
      Route(Verb::get, "/metrics",
            http::Handler([this](const http::Exchange& ex) { return Metrics(ex); }),
            http::Run::kBlocking),
      Route(Verb::get, "/health/ready",
            http::Handler([this](const http::Exchange& ex) { return Ready(ex); }),
            http::Run::kBlocking),
  };
}

ProjectionLag OpsEndpoints::Measure() {
  ProjectionLag lag;
  lag.status = projector_.GetStatus();
  client::AllPosition from = client::AllPosition::Start();
  if (!lag.status.position.empty()) {
    auto p = client::AllPosition::Parse(lag.status.position);
    if (!p) {
      lag.error = "the read model's checkpoint is unreadable: " + lag.status.position;
      return lag;
    }
    from = *p;
  }
  int64_t oldest_us = 0;
  while (lag.events <= kLagCountLimit) {
    auto page = events_.ReadAllForward(from, 1000, std::chrono::milliseconds(0));
    if (!page.ok()) {
      lag.error = page.status().ToString();
      return lag;
    }
    if (oldest_us == 0 && !page->events.empty()) oldest_us = page->events.front().created_us;
    lag.events += static_cast<int64_t>(page->events.size());
    if (page->end_of_log || page->next == from) break;
    from = page->next;
  }
  lag.event_store_ok = true;
  if (lag.events > kLagCountLimit) {
    lag.events = kLagCountLimit;
    lag.capped = true;
  }
  if (oldest_us > 0) {
    auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    lag.seconds = std::max(0.0, static_cast<double>(now_us - oldest_us) / 1e6);
  }
  return lag;
}

ProjectionLag OpsEndpoints::Lag() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!have_cached_ || now - cached_at_ >= options_.cache_for) {
    cached_ = Measure();
    cached_at_ = std::chrono::steady_clock::now();
    have_cached_ = true;
  }
  return cached_;
}

void OpsEndpoints::Collect(std::string& out) {
  ProjectionLag lag = Lag();
  auto gauge = [&](const char* name, const char* help, double v) {
    http::AppendHeader(out, name, help, "gauge");
    http::AppendSample(out, name, {}, v);
  };
  gauge("dt_event_store_up", "1 when the event store answered the last lag measurement",
        lag.event_store_ok ? 1 : 0);
  if (lag.event_store_ok) {
    gauge("dt_projection_lag_events",
          "Events in the event store not yet in the read model (counted up to 10000)",
          static_cast<double>(lag.events));
    gauge("dt_projection_lag_seconds",
          "Age of the oldest event not yet in the read model (0 when caught up)", lag.seconds);
  }
  http::AppendHeader(out, "dt_projection_events_applied_total",
                     "Domain events applied to the read model", "counter");
  http::AppendSample(out, "dt_projection_events_applied_total", {},
                     static_cast<double>(lag.status.events_applied));
  http::AppendHeader(out, "dt_projection_events_skipped_total",
                     "Unreadable domain events the live projector left out (see the error log)",
                     "counter");
  http::AppendSample(out, "dt_projection_events_skipped_total", {},
                     static_cast<double>(lag.status.events_skipped));
  http::AppendHeader(out, "dt_projection_events_repaired_total",
                     "Events whose text the live projector stored with U+FFFD in place of "
                     "U+0000 or bytes that are not UTF-8",
                     "counter");
  http::AppendSample(out, "dt_projection_events_repaired_total", {},
                     static_cast<double>(lag.status.events_repaired));
  gauge("dt_projector_active", "1 when this instance holds the projector lock",
        lag.status.active ? 1 : 0);
  gauge("dt_projection_rebuild_running", "1 while a rebuild of the read model runs",
        lag.status.rebuilding ? 1 : 0);
}

http::Response OpsEndpoints::Metrics(const http::Exchange&) {
  return http::MakeResponse(HttpStatus::ok, registry_.Render(),
                            "text/plain; version=0.0.4; charset=utf-8");
}

http::Response OpsEndpoints::Ready(const http::Exchange&) {
  ProjectionLag lag = Lag();
  json projection = {{"lag_events", lag.events},
                     {"lag_events_capped", lag.capped},
                     {"lag_seconds", lag.seconds},
                     {"events_applied", lag.status.events_applied},
                     {"projector_active", lag.status.active},
                     {"rebuilding", lag.status.rebuilding},
                     {"max_lag_events", options_.max_lag_events},
                     {"max_lag_seconds", options_.max_lag_seconds}};
  std::string why;
  if (!lag.event_store_ok) {
    why = "the event store cannot be read: " + lag.error;
  } else if (lag.events > options_.max_lag_events) {
    why = "the read model is " + std::to_string(lag.events) + (lag.capped ? "+" : "") +
          " events behind the event store (limit " + std::to_string(options_.max_lag_events) + ")";
  } else if (lag.seconds > options_.max_lag_seconds) {
    why = "the oldest event not in the read model is " + std::to_string(static_cast<int64_t>(lag.seconds)) +
          " s old (limit " + std::to_string(static_cast<int64_t>(options_.max_lag_seconds)) + " s)";
  }
  if (!why.empty()) {
    json body = {{"ready", false}, {"error", why}, {"projection", projection}};
    http::Response r = JsonOk(HttpStatus::service_unavailable, body);
    r.set("Retry-After", "1");
    return r;
  }
  return JsonOk(HttpStatus::ok, {{"ready", true}, {"projection", projection}});
}

}  // namespace dt::api

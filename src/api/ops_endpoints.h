// OpsEndpoints: what operators and orchestrators ask dt-server, beside the API itself.
//
//   GET /metrics       Prometheus text: the HTTP server's request counters and latency
//                      histograms by route (http_*), open WebSockets, and the projection's
//                      state: lag behind the event store in events and seconds, events
//                      applied, whether this instance runs the projector or a rebuild.
//   GET /health/ready  200 {"ready": true, ...} when the event store answers and the read
//                      model is at most max_lag_events events and max_lag_seconds seconds
//                      behind it; else 503 {"ready": false, "error": why, ...}. (`/health`
//                      stays the contract's plain liveness "OK".)
//
// Lag is measured by reading `$all` forward from the read model's checkpoint: the events
// found (system events excluded, counted up to kLagCountLimit) and the age of the oldest
// of them. The figure is cached for `cache_for` so frequent scrapes and probes cost one
// read of the event store per period.
//
// Thread-safety: handlers and the metrics collector may run on many threads at once.
// Lifetime: the client, projector and registry must outlive this object and its routes.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "client/event_store_client.h"
#include "http/metrics.h"
#include "http/router.h"
#include "readmodel/projector.h"

namespace dt::api {

struct ProjectionLag {
  bool event_store_ok = false;
  std::string error;       // why the event store could not be read
  int64_t events = 0;      // events after the checkpoint (at most kLagCountLimit)
  bool capped = false;     // more than kLagCountLimit
  double seconds = 0;      // age of the oldest unapplied event (0 when caught up)
  readmodel::ProjectorStatus status;
};

struct OpsOptions {
  int64_t max_lag_events = 1000;
  double max_lag_seconds = 30;
  std::chrono::milliseconds cache_for{1000};
};

class OpsEndpoints {
 public:
  static constexpr int64_t kLagCountLimit = 10000;

  OpsEndpoints(client::EventStoreClient& events, readmodel::Projector& projector,
               http::Registry& registry, OpsOptions options);

  std::vector<http::Route> Routes();

  http::Response Metrics(const http::Exchange& ex);
  http::Response Ready(const http::Exchange& ex);

  // The current lag (cached for options.cache_for).
  ProjectionLag Lag();

 private:
  ProjectionLag Measure();
  void Collect(std::string& out);

  client::EventStoreClient& events_;
  readmodel::Projector& projector_;
  http::Registry& registry_;
  const OpsOptions options_;

  std::mutex mu_;  // one measurement at a time; guards the cache
  ProjectionLag cached_;
  std::chrono::steady_clock::time_point cached_at_{};
  bool have_cached_ = false;
};

}  // namespace dt::api

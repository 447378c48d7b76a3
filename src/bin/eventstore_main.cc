// dt-eventstore: the event store server (EventStoreDB HTTP API + web UI) on port 2113.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "http/access_log.h"
#include "http/metrics.h"
#include "http/server.h"
#include "http/signals.h"
#include "store/store.h"
#include "store_http/config.h"
#include "store_http/service.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace dt;
  http::BlockTerminationSignals();
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  auto parsed = store_http::ParseConfig(argc, argv, env);
  if (!parsed.ok()) {
    std::fprintf(stderr, "dt-eventstore: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->outcome == store_http::ParseOutcome::kExit) {
    std::fputs(parsed->output.c_str(), stdout);
    return parsed->exit_code;
  }
  const store_http::Config& c = parsed->config;
  http::SetupLogging(c.log_level);
  if (!c.log_dir.empty()) {
    std::string problem = http::AddLogFile(c.log_dir + "/dt-eventstore.log");
    if (!problem.empty()) {
      std::fprintf(stderr, "dt-eventstore: bad setting EVENTSTORE_LOG: %s\n", problem.c_str());
      return 2;
    }
  }
  spdlog::info("{} starting (pid {})", store_http::VersionString(), getpid());
  spdlog::info("data folder {}; listening on {}:{}; authentication {}; http request log {}; log file {}",
               c.db, c.node_ip, c.http_port, c.insecure ? "OFF (insecure)" : "on (admin account)",
               c.log_http_requests ? "on" : "off",
               c.log_dir.empty() ? std::string("none") : c.log_dir + "/dt-eventstore.log");
  spdlog::info("accepted for compatibility: atom pub over http = {}, run projections = {} (no projections run here)",
               c.atom_pub, c.run_projections);

  store::Options so;
  so.folder = c.db;
  so.segment_bytes = c.segment_size;
  auto opened = store::Store::Open(so);
  if (!opened.ok()) {
    spdlog::critical("cannot open the store in {}: {}", c.db, opened.status().ToString());
    return 1;
  }
  std::unique_ptr<store::Store> st = std::move(opened).value();
  spdlog::info("store open: head position {}", st->HeadPosition());

  http::Registry metrics;
  store_http::ServiceOptions svc_opts;
  svc_opts.insecure = c.insecure;
  svc_opts.admin_password = c.admin_password;
  svc_opts.listen_address = c.node_ip;
  svc_opts.port = c.http_port;
  store_http::EventStoreService service(*st, svc_opts, metrics);
  http::Router router(service.Routes());

  http::ServerOptions ho;
  ho.address = c.node_ip;
  ho.port = c.http_port;
  ho.io_threads = c.io_threads;
  ho.worker_threads = c.worker_threads;
  ho.max_connections = c.max_connections;
  ho.max_body_bytes = c.max_append_size;
  ho.access_log = c.log_http_requests;
  ho.metrics = &metrics;
  ho.server_name = "dt-eventstore";
  // Browser clients on other origins (pre-flights get the rest: see CorsHeaders).
  ho.headers = store_http::EventStoreService::CorsHeaders();
  http::Server server(ho, router);
  if (auto s = server.Start(); !s.ok()) {
    spdlog::critical("{}", s.message());
    return 1;
  }
  service.SetBoundPort(server.port());
  spdlog::info("ready: http://{}:{}/ (web UI), /health/live", c.node_ip, server.port());

  int sig = http::WaitForTerminationSignal();
  spdlog::info("signal {} received: stopping (finishing in-flight requests)", sig);
  service.Shutdown();
  server.Stop();
  if (auto s = st->Close(); !s.ok()) {
    spdlog::error("closing the store: {}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

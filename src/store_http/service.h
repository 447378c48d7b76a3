// EventStoreService: the EventStoreDB HTTP API (AtomPub streams, $all, metadata,
// deletes, operations endpoints) and the web UI over one store::Store.
//
// What it is for: dt-eventstore serves Routes() with http::Server; tests call the same
// routes through http::Router::Call without sockets, or over real sockets.
// Facts honoured: ../shared/docs/eventstore-http-api.md; failures become HTTP responses
// only in error_mapping.cc.
//
// Thread-safety: handlers run concurrently on I/O and worker threads; the service holds
// no mutable state but counters and the long-poll waiters (both thread-safe).
// Lifetime: the Store and the Registry must outlive the service; call Shutdown() before
// stopping the server so long polls answer at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/metrics.h"
#include "http/router.h"
#include "store/store.h"
#include "store_http/commit_waiters.h"

namespace dt::store_http {

struct ServiceOptions {
  bool insecure = false;                   // no authentication at all
  std::string admin_user = "admin";
  std::string admin_password = "changeit";
  size_t max_event_bytes = 4u << 20;       // one event over HTTP (data + metadata)
  std::string listen_address = "127.0.0.1";
  uint16_t port = 2113;                    // for /gossip and URLs without a Host header
  std::string version = "0.1.0";
  std::chrono::seconds max_long_poll{300};
};

class EventStoreService {
 public:
  EventStoreService(store::Store& store, ServiceOptions options, http::Registry& metrics);
  ~EventStoreService();

  // The CORS headers of every answer (http::ServerOptions::headers): browsers on other
  // origins may read the answers and the headers they need (Location, ES-Position, ...).
  // What a pre-flight needs besides (the methods and request headers allowed) goes on the
  // OPTIONS answers only: browsers read those two on a pre-flight and nowhere else
  // (Fetch standard, CORS protocol), and each append and long poll carried ~450 bytes of them.
  static std::vector<std::pair<std::string, std::string>> CorsHeaders();

  // The whole route table of the server.
  std::vector<http::Route> Routes();
  // Answers pending long polls (with what they have) and refuses new waits.
  void Shutdown();
  // The port the server actually bound (ServiceOptions::port may be 0 = any): /gossip
  // announces it, as clients that discover the node from gossip connect to it.
  void SetBoundPort(uint16_t port) { bound_port_.store(port); }

 private:
  struct ReadRequest;

  std::optional<http::Response> Authorize(const http::Exchange& ex) const;

  void Append(http::Exchange ex, http::Reply reply);
  void AppendMetadata(http::Exchange ex, http::Reply reply);
  http::Response Delete(const http::Exchange& ex);
  http::Response ReadHead(const http::Exchange& ex);
  void ReadPage(http::Exchange ex, http::Reply reply);
  void RunRead(std::shared_ptr<ReadRequest> r);
  http::Response ReadOne(const http::Exchange& ex);
  http::Response ReadMetadata(const http::Exchange& ex);
  http::Response ListStreams(const http::Exchange& ex);
  // How many events a read of the stream returns now: 0 when deleted, else $tb, $maxCount
  // and $maxAge applied (the web UI's event count; the last number + 1 overstates it).
  int64_t ReadableCount(const store::StreamInfo& s);

  http::Response HealthLive(const http::Exchange& ex) const;
  http::Response Info(const http::Exchange& ex) const;
  http::Response Gossip(const http::Exchange& ex) const;
  http::Response Stats(const http::Exchange& ex) const;
  http::Response Metrics(const http::Exchange& ex) const;
  http::Response WebAsset(const http::Exchange& ex) const;

  store::Store& store_;
  const ServiceOptions options_;
  http::Registry& metrics_;
  CommitWaiters waiters_;
  const std::string instance_id_;
  const std::string fallback_host_;  // for URLs of requests without a Host header
  const std::string admin_authorization_;  // "Basic <base64 of admin:password>"
  const std::chrono::system_clock::time_point started_;
  std::atomic<uint16_t> bound_port_{0};
};

}  // namespace dt::store_http

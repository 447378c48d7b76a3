// Internal to dt_http: the state a Server shares with its connections.
//
// Thread-safety: `connections` is guarded by `mu`; counters are atomics; the rest is
// immutable after Start(). Connections hold a shared_ptr<Core>, so it outlives them.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "http/metrics.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace dt::http {

// A live connection (HTTP session or WebSocket) as the server sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  // Graceful stop: close when idle, or after the response in flight. Any thread.
  virtual void Shutdown() = 0;
  // Closes the socket at once. Only when no I/O thread runs (the end of Server::Stop).
  virtual void ForceClose() = 0;
};

struct Server::Core {
  Core(ServerOptions o, const Router& r);

  const ServerOptions options;
  const Router& router;
  std::unique_ptr<WorkerPool> pool;

  // Metrics (null when options.metrics is null).
  Gauge* connections_active = nullptr;
  Counter* connections_total = nullptr;
  Counter* connections_rejected = nullptr;
  Histogram* request_seconds = nullptr;  // null with route_metrics (labelled per route)
  Gauge* websockets_active = nullptr;
  Counter* RequestCounter(unsigned status);
  // With route_metrics: counts one answered request and its duration under its route, and
  // returns where (a session counts its next request of the same kind there directly).
  struct RouteMetrics {
    Counter* requests = nullptr;
    Histogram* seconds = nullptr;
  };
  RouteMetrics CountRouteRequest(const std::string& method, const std::string& route,
                                 unsigned status, double seconds);
  std::array<std::atomic<Counter*>, 600> request_counters{};

  void Add(const std::shared_ptr<Connection>& c);
  void Remove(Connection* c);
  size_t Count() const;

  mutable std::mutex mu;
  std::condition_variable drained;                           // signalled when empty
  std::unordered_set<std::shared_ptr<Connection>> connections;  // guarded by mu
  bool stopping = false;                                     // guarded by mu

  // options.headers as written on the wire ("Name: value\r\n" each).
  std::string headers_block;

  // Responses handed over by threads outside the I/O threads (workers, the event store's
  // writer, a projector): queued here and written by one posted handler, so that a burst
  // of them (a group commit's appends, a batch's waiting writers) wakes an I/O thread
  // once instead of once each. Each runs on its connection's strand (RunOnIo).
  void RunOnIo(std::function<void()> fn);
  void RunQueued();
  std::mutex queued_mu;
  std::vector<std::function<void()>> queued;  // guarded by queued_mu

  std::atomic<uint64_t> next_request{0};
  std::string request_id_prefix;  // random per process, so ids differ across restarts

  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  boost::asio::io_context io;  // declared last: destroyed first, with its handlers
};

// Starts serving an accepted socket (server.cc).
void StartHttpSession(boost::asio::ip::tcp::socket socket, std::shared_ptr<Server::Core> core);

}  // namespace dt::http

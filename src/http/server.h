// Server: an HTTP/1.1 server (Boost.Beast/Asio) that serves one Router.
//
// What it is for: the plumbing shared by dt-eventstore and dt-server. It gives every
// connection keep-alive, bounded header and body sizes (431/413), a deadline for an idle
// connection and for a started request (a request that stops arriving gets 408), a
// bound on the number of connections (503 beyond it), an X-Request-Id on every
// response, an access log line per request (access_log.h), request and connection
// metrics (metrics.h; optionally by route), WebSocket upgrades (websocket.h), and a
// graceful stop.
//
// Threads: `io_threads` threads run the sockets; each connection is served on its own
// strand, one request at a time (pipelined requests are answered in order). Routes
// marked Run::kBlocking run on a WorkerPool of `worker_threads` with a bounded queue.
//
// Thread-safety: Start/Stop from one controlling thread; port(), executor() and
// active_connections() from any thread.
// Lifetime: the Router and the metrics Registry must outlive the Server. Handlers that
// keep a Reply must have answered (or dropped it) before the Server is destroyed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/router.h"

namespace dt::http {

class Registry;

struct WebSocketOptions {
  size_t max_message_bytes = 64u << 10;  // larger incoming messages close the socket
  size_t max_queued_messages = 256;      // outgoing; a client this far behind is dropped
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  // ping at half, drop at full
  std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};  // one write in flight this long: drop
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: the OS picks one (see Server::port())
  size_t io_threads = 2;
  size_t max_connections = 4096;
  size_t max_header_bytes = 16u << 10;  // request line + headers; beyond: 431
  size_t max_body_bytes = 4u << 20;     // beyond: 413
  // A keep-alive connection may wait this long for the next request's headers.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Once headers arrived, the body must arrive within this; else 408 and close.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // Graceful stop waits this long for in-flight requests before closing the rest.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};
  size_t worker_threads = 4;
  size_t worker_queue = 4096;  // blocking jobs waiting; beyond: 503
  std::string server_name = "dt";  // the Server header
  bool access_log = true;          // one log line per request (access_log.h)
  Registry* metrics = nullptr;     // where to count requests and connections; may be null
  // Label the request metrics by route as well: http_requests_total{method,route,code} and
  // http_request_duration_seconds{method,route} (route = Route::name, "(unmatched)" when no
  // route matched, "(none)" for requests refused while reading). Costs one extra route
  // lookup per request; off: http_requests_total{code} and an unlabelled histogram.
  bool route_metrics = false;
  // Added to every response after the handler's fields, replacing any field of the same
  // name the handler set (e.g. CORS headers). Formatted once, at construction: cheaper
  // than `decorate` for headers that never change.
  std::vector<std::pair<std::string, std::string>> headers;
  // Called on every response just before it is written (after `headers` replaced
  // same-named fields; its own fields come before them).
  std::function<void(Response&)> decorate;
  WebSocketOptions websocket;
};

class Server {
 public:
  Server(ServerOptions options, const Router& router);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads. kIOError naming the address when the port
  // cannot be bound (e.g. in use); kInvalidArgument for a bad address.
  dt::Status Start();
  // The bound port (useful after binding port 0).
  uint16_t port() const;
  // Graceful stop: stops accepting, closes idle connections, lets in-flight requests
  // answer (with Connection: close) up to drain_timeout, then closes the rest, finishes
  // the worker pool's queue and joins every thread. Idempotent.
  void Stop();

  size_t active_connections() const;
  boost::asio::any_io_executor executor();

  struct Core;  // shared with the connection classes (server_core.h)

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace dt::http

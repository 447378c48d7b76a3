// AsyncHttp: HTTP/1.1 requests to one server without a waiting thread per request.
//
// One I/O thread (epoll, edge-triggered, non-blocking sockets) drives a pool of keep-alive
// connections to host:port, one request in flight per connection (EventStoreDB's HTTP API
// answers a POST after its commit, so pipelining would queue requests behind each other's
// commits). Requests beyond `max_connections` wait in a FIFO queue. Each request has a
// deadline (`timeout` from Submit, queueing included); one that runs out fails with
// kUnavailable and its connection is closed. A request that fails on a reused connection
// before any byte of an answer came (the server closed it meanwhile) is retried once; idle
// connections that the server closes are dropped as soon as the close arrives.
//
// Callbacks run on the I/O thread, one at a time, exactly once each: they must be quick (no
// blocking, no waiting for another callback). They may call Submit. Stop (and the
// destructor) fails what is queued or in flight with kUnavailable (callbacks run before it
// returns); a Submit after that calls `done` on the calling thread.
//
// Thread-safety: Submit from any thread.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace dt::client {

class AsyncHttp {
 public:
  struct Options {
    std::string host;
    std::string port;
    std::chrono::milliseconds timeout{30000};
    size_t max_connections = 64;
    std::string describe;  // for error messages: the server's URL
  };
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Callback = std::function<void(Result<Response>)>;

  explicit AsyncHttp(Options options);
  ~AsyncHttp();
  AsyncHttp(const AsyncHttp&) = delete;
  AsyncHttp& operator=(const AsyncHttp&) = delete;

  // `request`: the whole request as sent (head and body); keep-alive is assumed.
  void Submit(std::string request, Callback done);
  // Stops the I/O thread (see above). Idempotent; not from a callback.
  void Stop();

  struct Loop;

 private:
  std::unique_ptr<Loop> loop_;
};

}  // namespace dt::client

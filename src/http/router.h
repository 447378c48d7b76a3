// Router: the one explicit table of routes of a server, and dispatch of a request to
// its handler.
//
// What it is for: a server lists every route it serves in one place, as a vector of
// Route values (method + path pattern → handler); nothing registers itself elsewhere.
// Patterns are '/'-separated segments: a literal, "{name}" (one segment, percent-decoded
// into Exchange::params) or a final "{name*}" (the rest of the path, may be empty).
// The first route whose pattern and method match wins; a path that matches with
// another method answers 405 with Allow; no match answers 404. HEAD uses the GET route
// when there is no HEAD route (the server drops the body).
//
// Dispatch() is how the server and tests call handlers: inline handlers run on the
// calling thread; routes marked kBlocking run on the WorkerPool (503 when its queue is
// full). A handler that throws answers 500; the exception is logged.
//
// Thread-safety: immutable after construction; Dispatch may be called from any thread.
// Lifetime: the Router must outlive the Server using it and every pending Reply.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "http/exchange.h"

namespace dt::http {

class WebSocket;
class WorkerPool;

// Accepts or refuses a WebSocket upgrade: return a Response to refuse (e.g. 401), or
// nullopt to accept, after setting the socket's callbacks (see websocket.h). The server
// completes the handshake and starts the socket after the handler returns.
using WebSocketHandler =
    std::function<std::optional<Response>(const Exchange&, const std::shared_ptr<WebSocket>&)>;

enum class Run {
  kInline,    // on the I/O thread: must not block (may hand work elsewhere and Reply later)
  kBlocking,  // on the worker pool: may block on disk, database or the event store
};

struct Route {
  Route(Verb m, std::string p, Handler h, Run r = Run::kInline)
      : method(m), pattern(std::move(p)), handler(std::move(h)), run(r) {}
  Route(Verb m, std::string p, AsyncHandler h, Run r = Run::kInline)
      : method(m), pattern(std::move(p)), handler(std::move(h)), run(r) {}
  Route(Verb m, std::string p, WebSocketHandler h)
      : method(m), pattern(std::move(p)), handler(std::move(h)) {}

  Verb method;
  std::string pattern;
  std::variant<Handler, AsyncHandler, WebSocketHandler> handler;
  Run run = Run::kInline;
  std::string name;  // label for metrics and logs; defaults to the pattern
};

// How a server formats the errors it answers itself (404, 405, 400 for a bad escape, 503
// when busy, 500 when a handler threw, and the server's 408/413/431): a JSON API passes
// one that answers {"error": message}. Null: ErrorResponse (plain text).
using ErrorFormat = std::function<Response(HttpStatus status, std::string_view message)>;

// Formats an error with `format` (null: ErrorResponse, plain text).
Response FormatErrorWith(const ErrorFormat& format, HttpStatus status, std::string_view message);

// Logs that the handler `name` threw `e` and answers 500 through `reply`.
void AnswerThrew(std::string_view name, const std::exception& e, const ErrorFormat& format,
                 const Reply& reply);

// Runs `job`, which answers through `reply`; if it throws, the exception is logged under
// `name` and `reply` answers 500.
template <typename Job>
void RunGuarded(std::string_view name, const ErrorFormat& format, const Reply& reply, Job&& job) {
  try {
    job();
  } catch (const std::exception& e) {
    AnswerThrew(name, e, format, reply);
  }
}

// Runs `job(reply)` on `pool` under RunGuarded; when the queue is full (or the pool has
// stopped) answers 503 with Retry-After: 1 at once instead. This is how every blocking
// route and every handler that moves its work onto the pool itself gets there. `format`
// must outlive the job.
void PostGuarded(WorkerPool& pool, std::string name, const ErrorFormat& format, Reply reply,
                 std::function<void(const Reply&)> job);

class Router {
 public:
  explicit Router(std::vector<Route> routes, ErrorFormat error_format = nullptr);

  // The response for an error the router or server answers itself (see ErrorFormat).
  Response FormatError(HttpStatus status, std::string_view message) const;

  struct Match {
    const Route* route = nullptr;  // null: no route
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;             // when the path matched other methods only: "GET, POST"
    bool bad_escape = false;       // a path segment had a malformed %-escape
  };
  Match Find(Verb method, std::string_view raw_path) const;

  // Routes the exchange and answers through `reply` (exactly once). `pool` may be null
  // (tests): kBlocking routes then run inline.
  void Dispatch(Exchange exchange, Reply reply, WorkerPool* pool) const;
  // Same, with `found` = Find(exchange.request.method(), exchange.path) already looked up
  // (the server looks the route up once: for its metrics, a WebSocket upgrade and this).
  void Dispatch(Match found, Exchange exchange, Reply reply, WorkerPool* pool) const;

  // Test helper: dispatches inline and returns the response (waits for an async
  // handler's Reply up to `wait`, else a 504).
  Response Call(Exchange exchange,
                std::chrono::milliseconds wait = std::chrono::seconds(10)) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;
    bool rest = false;
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
  ErrorFormat error_format_;
};

}  // namespace dt::http

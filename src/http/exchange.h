// Exchange: one HTTP request as a handler sees it, the response it builds, and the
// Reply through which an asynchronous handler answers later.
//
// What it is for: handlers are plain functions from an Exchange (request, path
// parameters, query, request id) to a Response, so they can be called in tests without
// sockets. Handlers that must answer later (long polls, "answer once the read model has
// caught up") take a Reply and call it once, from any thread.
//
// Thread-safety: Exchange and Response are values; a handler owns the Exchange it gets.
// Reply may be copied and called from any thread; only the first call counts. If every
// copy of a Reply is destroyed without being called, the client gets a 500 (a handler
// bug must not hang a connection).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dt::http {

namespace bhttp = boost::beast::http;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
using HttpStatus = bhttp::status;
using Verb = bhttp::verb;

class WorkerPool;

struct Exchange {
  Request request;                 // as received (owns its body)
  std::string request_id;          // the client's X-Request-Id if sane, else generated
  std::string path;                // the target's path as sent (escapes not decoded)
  std::string query;               // the raw query string (after '?'), may be empty
  std::vector<std::pair<std::string, std::string>> params;  // path parameters, decoded
  std::string remote_address;      // "ip:port" of the peer ("" in tests)
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  // The connection's strand on the server's I/O context: asynchronous handlers may put
  // timers on it, and a reply made on it is written without another hop. Tests that
  // call handlers directly set it to an io_context of their own (or leave it empty for
  // handlers that need none).
  boost::asio::any_io_executor executor;
  // The server's worker pool, for an inline handler that finds it must block after all
  // (WorkerPool::TryPost); null when the handler is called without a server (tests): it
  // may then block where it is.
  WorkerPool* pool = nullptr;

  // Value of a path parameter; "" when the route has no parameter of that name.
  std::string_view Param(std::string_view name) const;
  // Value of the first query parameter of that name, percent-decoded ('+' is a space).
  std::optional<std::string> Query(std::string_view name) const;
  // Value of a request header; "" when absent.
  std::string_view Header(std::string_view name) const;
};

// Builds an Exchange from a bare request (tests, fuzzers): splits the target at '?'.
Exchange MakeExchange(Request request);

// Response builders. Each sets Content-Type and Content-Length; the server adds
// version, keep-alive, Server and X-Request-Id.
Response MakeResponse(HttpStatus status, std::string body = {},
                      std::string_view content_type = "text/plain; charset=utf-8");
Response JsonResponse(HttpStatus status, std::string json);
// A plain-text error whose reason phrase and body say what happened.
Response ErrorResponse(HttpStatus status, std::string_view message);

class Reply {
 public:
  using Sink = std::function<void(Response)>;
  explicit Reply(Sink sink);
  // Sends the response (first call only). Any thread.
  void operator()(Response response) const;
  bool answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A synchronous handler: runs on an I/O thread (must not block) or, for routes marked
// blocking, on the server's worker pool.
using Handler = std::function<Response(const Exchange&)>;
// An asynchronous handler: owns the Exchange and answers through the Reply when ready.
using AsyncHandler = std::function<void(Exchange, Reply)>;

}  // namespace dt::http

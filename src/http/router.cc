#include "http/router.h"

#include <spdlog/spdlog.h>

#include <future>

#include "http/url.h"
#include "http/worker_pool.h"

namespace dt::http {
namespace {

void SplitPath(std::string_view path, std::vector<std::string_view>& out) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return;
  for (;;) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// True when PercentDecode accepts `s`: every '%' starts an escape of two hex digits.
bool EscapesValid(std::string_view s) {
  for (size_t i = s.find('%'); i != std::string_view::npos; i = s.find('%', i + 3)) {
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) return false;
  }
  return true;
}

bool IsParam(std::string_view seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

void RunRoute(const Router& router, const Route& route, Exchange exchange, const Reply& reply) {
  if (auto* h = std::get_if<Handler>(&route.handler)) {
    reply((*h)(exchange));
  } else if (auto* a = std::get_if<AsyncHandler>(&route.handler)) {
    (*a)(std::move(exchange), reply);
  } else {
    reply(router.FormatError(HttpStatus::upgrade_required,
                             "This resource needs a WebSocket upgrade"));
  }
}

}  // namespace

Response FormatErrorWith(const ErrorFormat& format, HttpStatus status, std::string_view message) {
  return format ? format(status, message) : ErrorResponse(status, message);
}

void AnswerThrew(std::string_view name, const std::exception& e, const ErrorFormat& format,
                 const Reply& reply) {
  spdlog::error("handler {} threw: {}", name, e.what());
  reply(FormatErrorWith(format, HttpStatus::internal_server_error, "Internal server error"));
}

void PostGuarded(WorkerPool& pool, std::string name, const ErrorFormat& format, Reply reply,
                 std::function<void(const Reply&)> job) {
  bool posted = pool.TryPost([name = std::move(name), &format, reply, job = std::move(job)] {
    RunGuarded(name, format, reply, [&] { job(reply); });
  });
  if (!posted) {
    Response res = FormatErrorWith(format, HttpStatus::service_unavailable, "Server busy, retry later");
    res.set(bhttp::field::retry_after, "1");
    reply(std::move(res));
  }
}

Response Router::FormatError(HttpStatus status, std::string_view message) const {
  return FormatErrorWith(error_format_, status, message);
}

Router::Router(std::vector<Route> routes, ErrorFormat error_format)
    : routes_(std::move(routes)), error_format_(std::move(error_format)) {
  for (auto& r : routes_) {
    if (r.name.empty()) r.name = r.pattern;
    Compiled c;
    std::vector<std::string_view> segs;
    SplitPath(r.pattern, segs);
    for (auto seg : segs) c.segments.emplace_back(seg);
    if (!c.segments.empty() && c.segments.back().size() > 3 &&
        c.segments.back().ends_with("*}") && IsParam(c.segments.back())) {
      c.rest = true;
    }
    compiled_.push_back(std::move(c));
  }
}

// Matching decodes nothing and allocates nothing until a route (method included) is found:
// each request tried every route's pattern, and building the parameters (and the names of
// other methods) of routes that then did not match was ~6k instructions per request.
Router::Match Router::Find(Verb method, std::string_view raw_path) const {
  Match m;
  std::vector<std::string_view> segs;
  segs.reserve(8);
  SplitPath(raw_path, segs);
  std::vector<std::string_view> allowed;  // names of other methods: static strings
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Compiled& c = compiled_[i];
    const size_t fixed = c.rest ? c.segments.size() - 1 : c.segments.size();
    if (c.rest ? segs.size() < fixed : segs.size() != fixed) continue;
    bool ok = true;
    for (size_t s = 0; s < fixed && ok; ++s) {
      const std::string& pat = c.segments[s];
      if (IsParam(pat)) {
        if (!EscapesValid(segs[s])) {
          m.bad_escape = true;
          ok = false;
        }
      } else {
        ok = pat == segs[s];
      }
    }
    if (!ok) continue;
    // The rest is the path after the fixed segments, slashes included (what joining its
    // segments with '/' gives).
    std::string_view rest;
    if (c.rest && fixed < segs.size()) {
      const char* from = segs[fixed].data();
      rest = std::string_view(from, static_cast<size_t>(raw_path.data() + raw_path.size() - from));
      if (!EscapesValid(rest)) {
        m.bad_escape = true;
        continue;
      }
    }
    const Route& r = routes_[i];
    if (r.method == method) {
      m.route = &r;
      m.params.reserve(c.segments.size());
      for (size_t s = 0; s < fixed; ++s) {
        const std::string& pat = c.segments[s];
        if (IsParam(pat)) m.params.emplace_back(pat.substr(1, pat.size() - 2), *PercentDecode(segs[s]));
      }
      if (c.rest) {
        const std::string& pat = c.segments.back();
        m.params.emplace_back(pat.substr(1, pat.size() - 3), *PercentDecode(rest));
      }
      m.allow.clear();
      return m;
    }
    const auto verb = bhttp::to_string(r.method);
    const std::string_view name(verb.data(), verb.size());
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) allowed.push_back(name);
  }
  if (method == Verb::head) {
    Match g = Find(Verb::get, raw_path);
    if (g.route) return g;
  }
  for (const auto& a : allowed) {
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += a;
  }
  return m;
}

void Router::Dispatch(Exchange exchange, Reply reply, WorkerPool* pool) const {
  Match m = Find(exchange.request.method(), exchange.path);
  Dispatch(std::move(m), std::move(exchange), std::move(reply), pool);
}

void Router::Dispatch(Match m, Exchange exchange, Reply reply, WorkerPool* pool) const {
  if (!m.route) {
    if (m.bad_escape) {
      reply(FormatError(HttpStatus::bad_request, "Malformed percent-escape in the path"));
    } else if (!m.allow.empty()) {
      Response res = FormatError(HttpStatus::method_not_allowed, "Method not allowed");
      res.set(bhttp::field::allow, m.allow);
      reply(std::move(res));
    } else {
      reply(FormatError(HttpStatus::not_found, "Not found"));
    }
    return;
  }
  exchange.params = std::move(m.params);
  exchange.pool = pool;
  const Route* route = m.route;
  if (route->run == Run::kBlocking && pool) {
    // The job owns the exchange.
    auto ex = std::make_shared<Exchange>(std::move(exchange));
    PostGuarded(*pool, route->name, error_format_, std::move(reply),
                [this, route, ex](const Reply& r) { RunRoute(*this, *route, std::move(*ex), r); });
    return;
  }
  RunGuarded(route->name, error_format_, reply,
             [&] { RunRoute(*this, *route, std::move(exchange), reply); });
}

Response Router::Call(Exchange exchange, std::chrono::milliseconds wait) const {
  auto promise = std::make_shared<std::promise<Response>>();
  auto future = promise->get_future();
  Dispatch(std::move(exchange), Reply([promise](Response r) { promise->set_value(std::move(r)); }),
           nullptr);
  if (future.wait_for(wait) != std::future_status::ready) {
    return ErrorResponse(HttpStatus::gateway_timeout, "The handler did not answer in time");
  }
  return future.get();
}

}  // namespace dt::http

#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <random>

#include "common/uuid.h"
#include "http/access_log.h"
#include "http/server_core.h"
#include "http/websocket_session.h"

namespace dt::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

// ---------------------------------------------------------------------------- Core

Server::Core::Core(ServerOptions o, const Router& r) : options(std::move(o)), router(r) {
  request_id_prefix = Uuid::Random().ToString().substr(0, 8);
  for (const auto& [name, value] : options.headers) {
    headers_block.append(name).append(": ").append(value).append("\r\n");
  }
  if (Registry* m = options.metrics) {
    connections_active = &m->GetGauge("http_connections_active", "Open HTTP and WebSocket connections");
    connections_total = &m->GetCounter("http_connections_total", "Accepted connections");
    connections_rejected = &m->GetCounter(
        "http_connections_rejected_total", "Connections refused because max_connections was reached");
    if (!options.route_metrics) {
      request_seconds = &m->GetHistogram("http_request_duration_seconds",
                                         "Time from a request's last byte to its response",
                                         LatencyBuckets());
    }
    websockets_active = &m->GetGauge("http_websocket_connections_active", "Open WebSocket connections");
  }
}

Server::Core::RouteMetrics Server::Core::CountRouteRequest(const std::string& method,
                                                         const std::string& route,
                                                         unsigned status, double seconds) {
  Registry* m = options.metrics;
  if (!m) return {};
  RouteMetrics r;
  r.requests = &m->GetCounter(
      "http_requests_total", "HTTP requests answered, by method, route and status",
      {{"method", method}, {"route", route}, {"code", std::to_string(status)}});
  r.seconds = &m->GetHistogram(
      "http_request_duration_seconds",
      "Time from a request's last byte to its response, by method and route", LatencyBuckets(),
      {{"method", method}, {"route", route}});
  r.requests->Inc();
  r.seconds->Observe(seconds);
  return r;
}

Counter* Server::Core::RequestCounter(unsigned status) {
  if (!options.metrics || status >= request_counters.size()) return nullptr;
  Counter* c = request_counters[status].load(std::memory_order_acquire);
  if (!c) {
    c = &options.metrics->GetCounter("http_requests_total", "HTTP requests answered, by status",
                                     {{"code", std::to_string(status)}});
    request_counters[status].store(c, std::memory_order_release);
  }
  return c;
}

void Server::Core::Add(const std::shared_ptr<Connection>& c) {
  std::lock_guard lock(mu);
  connections.insert(c);
  if (connections_active) connections_active->Set(static_cast<double>(connections.size()));
}

void Server::Core::Remove(Connection* c) {
  std::shared_ptr<Connection> keep;  // destroyed outside the lock
  std::lock_guard lock(mu);
  for (auto it = connections.begin(); it != connections.end(); ++it) {
    if (it->get() == c) {
      keep = *it;
      connections.erase(it);
      break;
    }
  }
  if (connections_active) connections_active->Set(static_cast<double>(connections.size()));
  if (connections.empty()) drained.notify_all();
}

void Server::Core::RunOnIo(std::function<void()> fn) {
  bool first;
  {
    std::lock_guard lock(queued_mu);
    first = queued.empty();
    queued.push_back(std::move(fn));
  }
  // The io_context is a member of this Core: a handler in it cannot outlive it.
  if (first) net::post(io, [this] { RunQueued(); });
}

void Server::Core::RunQueued() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(queued_mu);
    batch.swap(queued);
  }
  for (auto& fn : batch) fn();
}

size_t Server::Core::Count() const {
  std::lock_guard lock(mu);
  return connections.size();
}

// ---------------------------------------------------------------------------- session

namespace {

constexpr size_t kReadBufferBytes = 4096;

// A completion handler that Asio treats as a continuation of the handler running now: when
// the operation completes at once (a response sent in one go), the completion is queued on
// the current I/O thread instead of on the shared queue, where it would wake the other I/O
// thread just to start the connection's next read. Writes queued together (RunQueued)
// then stay on one thread.
template <typename Handler>
struct Continuation {
  Handler handler;
  template <typename... Args>
  void operator()(Args&&... args) {
    handler(std::forward<Args>(args)...);
  }
  friend bool asio_handler_is_continuation(Continuation*) { return true; }
};
template <typename Handler>
Continuation<std::decay_t<Handler>> AsContinuation(Handler&& h) {
  return {std::forward<Handler>(h)};
}

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<Server::Core> core)
      : core_(std::move(core)), stream_(std::move(socket)), timer_(stream_.get_executor()) {
    // Room for a whole typical request, so that one read takes it (the buffer starts
    // at 512 bytes and does not grow while each request fits after the last one).
    buffer_.reserve(kReadBufferBytes);
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
  }

  void ForceClose() override {
    beast::error_code ec;
    timer_armed_ = false;
    timer_.cancel();
    stream_.socket().close(ec);
  }

  void Shutdown() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      if (self->state_ == State::kReading && !self->GotBytes()) self->Close();
    });
  }

 private:
  enum class State { kReading, kHandling, kWriting, kClosed };

  bool GotBytes() const { return buffer_.size() > 0 || (parser_ && parser_->got_some()); }

  // The deadline of the current phase (reading a request, writing a response). One
  // timer per connection backs it, re-armed only when a deadline comes earlier than the
  // pending wait: moving a deadline later costs a store, not a timer operation, so a
  // busy keep-alive connection touches its timer about once per timeout period.
  void Arm(std::chrono::milliseconds after) {
    deadline_ = std::chrono::steady_clock::now() + after;
    if (timer_armed_ && timer_at_ <= deadline_) return;
    timer_armed_ = true;
    timer_at_ = deadline_;
    timer_.expires_at(deadline_);  // cancels a pending wait (it returns as aborted)
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->OnTimer(ec); });
  }

  void OnTimer(beast::error_code ec) {
    if (ec) return;  // re-armed or cancelled: a newer wait (if any) is pending
    timer_armed_ = false;
    if (state_ == State::kClosed || state_ == State::kHandling) return;  // no deadline now
    auto now = std::chrono::steady_clock::now();
    if (now < deadline_) {
      timer_armed_ = true;
      timer_at_ = deadline_;
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec2) { self->OnTimer(ec2); });
      return;
    }
    beast::error_code ignored;
    if (state_ == State::kReading) {
      timed_out_ = true;
      stream_.socket().cancel(ignored);
    } else {  // kWriting: the client does not take the response
      stream_.socket().close(ignored);
    }
  }

  void DoRead() {
    if (stopping_ && buffer_.size() == 0) return Close();
    state_ = State::kReading;
    timed_out_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(core_->options.max_header_bytes));
    parser_->body_limit(core_->options.max_body_bytes);
    Arm(core_->options.idle_timeout);
    // Straight from the socket: the session keeps its own deadlines (Arm), so the
    // tcp_stream's timeout bookkeeping around every read would be pure cost.
    bhttp::async_read_header(stream_.socket(), buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    started_ = std::chrono::steady_clock::now();
    Arm(core_->options.read_timeout);
    const auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue") && !parser_->is_done()) {
      // The client waits for this before sending the body (curl does for large bodies).
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code ec2, size_t) {
                         if (ec2) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    bhttp::async_read(stream_.socket(), buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->OnRequest();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (timed_out_) {
      if (GotBytes()) return WriteError(HttpStatus::request_timeout, "Request timed out: the request did not arrive in time");
      return Close();  // an idle keep-alive connection: close quietly
    }
    if (ec == bhttp::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return WriteError(HttpStatus::payload_too_large,
                        fmt::format("Request body too large (limit {} bytes)",
                                    core_->options.max_body_bytes));
    }
    if (ec == bhttp::error::header_limit) {
      return WriteError(HttpStatus::request_header_fields_too_large,
                        fmt::format("Request headers too large (limit {} bytes)",
                                    core_->options.max_header_bytes));
    }
    if (ec == bhttp::error::partial_message) {
      return WriteError(HttpStatus::bad_request, "Request truncated: the connection closed mid-request");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
      return WriteError(HttpStatus::bad_request, fmt::format("Malformed HTTP request: {}", ec.message()));
    }
    Close();
  }

  // An error found while reading: answered with Connection: close (the rest of the
  // request may still be on the wire).
  void WriteError(HttpStatus status, std::string_view message) {
    request_id_ = NewRequestId({});
    method_ = parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string()) : "-";
    path_ = parser_ && parser_->is_header_done() ? std::string(parser_->get().target()) : "-";
    route_ = "(none)";
    route_ptr_ = nullptr;
    log_ = core_->options.access_log && AccessLogOn();
    version_ = 11;
    keep_alive_ = false;
    head_ = false;
    if (started_ == std::chrono::steady_clock::time_point{}) started_ = std::chrono::steady_clock::now();
    Write(core_->router.FormatError(status, message));
  }

  std::string NewRequestId(std::string_view from_client) {
    bool sane = !from_client.empty() && from_client.size() <= 128;
    for (char c : from_client) {
      if (c <= 0x20 || c >= 0x7f) sane = false;
    }
    if (sane) return std::string(from_client);
    // "<prefix>-<counter in hex>", formatted by hand (once per request).
    uint64_t n = core_->next_request.fetch_add(1, std::memory_order_relaxed);
    char hex[16];
    char* end = hex + sizeof hex;
    char* p = end;
    do {
      *--p = "0123456789abcdef"[n & 15];
      n >>= 4;
    } while (n != 0);
    std::string id;
    id.reserve(core_->request_id_prefix.size() + 1 + static_cast<size_t>(end - p));
    id.append(core_->request_id_prefix).append(1, '-').append(p, end);
    return id;
  }

  void OnRequest() {
    state_ = State::kHandling;  // no deadline while the handler works (the timer idles)
    Request req = parser_->release();
    auto rid = req["X-Request-Id"];
    request_id_ = NewRequestId(std::string_view(rid.data(), rid.size()));
    log_ = core_->options.access_log && AccessLogOn();
    if (log_ || core_->options.route_metrics) {  // their only readers
      method_.assign(req.method_string().data(), req.method_string().size());
      path_.assign(req.target().data(), req.target().size());
    }
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == Verb::head;

    Exchange ex = MakeExchange(std::move(req));
    ex.request_id = request_id_;
    ex.remote_address = remote_;
    ex.received = started_;
    // The connection's strand: completions posted there run in order with the
    // connection's own handlers, and the Reply below writes without another hop.
    ex.executor = stream_.get_executor();
    // The route, looked up once: for the metrics' label, a WebSocket upgrade and dispatching.
    Router::Match found = core_->router.Find(ex.request.method(), ex.path);
    if (core_->options.route_metrics && core_->options.metrics) {
      if (found.route != route_ptr_ || route_ptr_ == nullptr) {
        route_ = found.route ? found.route->name : std::string("(unmatched)");
      }
      route_ptr_ = found.route;
    }

    if (boost::beast::websocket::is_upgrade(ex.request) && found.route &&
        std::holds_alternative<WebSocketHandler>(found.route->handler)) {
      ex.params = std::move(found.params);
      return Upgrade(std::move(ex), std::get<WebSocketHandler>(found.route->handler));
    }

    std::weak_ptr<HttpSession> weak = shared_from_this();
    Reply reply([weak](Response res) {
      auto self = weak.lock();
      if (!self) return;
      auto write = [self, res = std::move(res)]() mutable {
        // On an I/O thread: inline when the connection's strand is free or already ours
        // (handlers run there, completions posted to Exchange::executor); else queued to it.
        net::dispatch(self->stream_.get_executor(),
                      [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
      };
      if (self->core_->io.get_executor().running_in_this_thread()) return write();
      // Another thread (a worker, a store's writer): batched with the others (RunOnIo).
      Server::Core* core = self->core_.get();
      core->RunOnIo(std::move(write));
    });
    core_->router.Dispatch(std::move(found), std::move(ex), std::move(reply), core_->pool.get());
  }

  void Upgrade(Exchange ex, const WebSocketHandler& handler) {
    auto ws = NewWebSocket(core_, request_id_, stream_.get_executor());
    std::optional<Response> refusal;
    try {
      refusal = handler(ex, ws);
    } catch (const std::exception& e) {
      spdlog::error("websocket handler threw: {}", e.what());
      refusal = core_->router.FormatError(HttpStatus::internal_server_error, "Internal server error");
    }
    if (refusal) {
      keep_alive_ = false;
      return Write(std::move(*refusal));
    }
    if (log_) {
      LogAccess({request_id_, method_, path_, 101, std::chrono::steady_clock::now() - started_, remote_});
    }
    CountRequest(101, std::chrono::steady_clock::now() - started_);
    state_ = State::kClosed;
    timer_armed_ = false;
    timer_.cancel();
    AcceptWebSocket(ws, std::move(stream_), std::move(ex.request));
    core_->Remove(this);  // the WebSocket registered itself
  }

  void CountRequest(unsigned status, std::chrono::steady_clock::duration elapsed) {
    double seconds = std::chrono::duration<double>(elapsed).count();
    if (core_->options.route_metrics) {
      // A keep-alive connection mostly repeats one route and status: the metrics of the
      // last request are kept, so the registry (labels, lookups under its lock) is asked
      // only when they change.
      if (route_ptr_ && route_ptr_ == counted_route_ && status == counted_status_ &&
          method_ == counted_method_ && counted_.requests) {
        counted_.requests->Inc();
        counted_.seconds->Observe(seconds);
        return;
      }
      counted_ = core_->CountRouteRequest(method_, route_, status, seconds);
      counted_route_ = route_ptr_;
      counted_status_ = status;
      counted_method_ = method_;
      return;
    }
    if (core_->request_seconds) core_->request_seconds->Observe(seconds);
    if (Counter* c = core_->RequestCounter(status)) c->Inc();
  }

  void Write(Response res) {
    if (state_ == State::kClosed) return;
    state_ = State::kWriting;
    bool keep = keep_alive_ && !stopping_;
    res.version(version_);
    res.keep_alive(keep);
    // Server, X-Request-Id and the constant headers follow the handler's fields; they
    // replace same-named ones. Written straight into the output (not set as fields)
    // unless the response is chunked.
    res.erase(bhttp::field::server);
    res.erase("X-Request-Id");
    for (const auto& h : core_->options.headers) res.erase(h.first);
    if (core_->options.decorate) core_->options.decorate(res);
    if (head_) {
      size_t len = res.body().size();
      res.body().clear();
      res.content_length(len);
    }
    unsigned status = res.result_int();
    auto elapsed = std::chrono::steady_clock::now() - started_;
    CountRequest(status, elapsed);
    if (log_) {
      LogAccess({request_id_, method_, path_, status, elapsed, remote_});
    }
    Arm(core_->options.write_timeout);
    bool unread_input = !keep && parser_ && !parser_->is_done();
    auto done = [self = shared_from_this(), keep, unread_input](beast::error_code ec, size_t) {
      self->res_.reset();
      if (ec) return self->Close();
      if (unread_input) return self->Linger();
      if (!keep) return self->Close();
      self->DoRead();
    };
    if (res.chunked()) {  // Beast's serializer does the chunked encoding
      res.set(bhttp::field::server, core_->options.server_name);
      res.set("X-Request-Id", request_id_);
      for (const auto& [name, value] : core_->options.headers) res.insert(name, value);
      res_ = std::make_unique<Response>(std::move(res));
      return bhttp::async_write(stream_, *res_, std::move(done));
    }
    // The same bytes Beast's serializer writes (status line, the fields in order, the
    // body), in one buffer kept by the session: one send, no serializer state.
    Serialize(res, out_);
    net::async_write(stream_.socket(), net::buffer(out_), AsContinuation(std::move(done)));
  }

  void Serialize(const Response& res, std::string& out) const {
    out.clear();
    unsigned v = res.version();
    unsigned code = res.result_int();
    char line[13] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + v / 10), '.',
                     static_cast<char>('0' + v % 10), ' ', static_cast<char>('0' + code / 100),
                     static_cast<char>('0' + (code / 10) % 10), static_cast<char>('0' + code % 10), ' '};
    out.append(line, sizeof line);
    auto reason = res.reason();
    out.append(reason.data(), reason.size());
    out.append("\r\n");
    for (const auto& f : res) {
      auto name = f.name_string();
      auto value = f.value();
      out.append(name.data(), name.size());
      out.append(": ");
      out.append(value.data(), value.size());
      out.append("\r\n");
    }
    out.append("Server: ").append(core_->options.server_name).append("\r\n");
    out.append("X-Request-Id: ").append(request_id_).append("\r\n");
    out.append(core_->headers_block);
    out.append("\r\n");
    out.append(res.body());
  }

  // After answering a request whose body was not read (413, 408, 400), read and drop
  // what the client still sends for a moment before closing: closing with unread data
  // makes the kernel reset the connection, and the client may lose the response.
  void Linger() {
    state_ = State::kWriting;
    timer_armed_ = false;
    timer_.cancel();  // the stream's own deadline below bounds the lingering
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    linger_bytes_ = 0;
    stream_.expires_after(std::chrono::seconds(2));
    DrainSome();
  }

  void DrainSome() {
    linger_buf_.resize(64 << 10);
    stream_.async_read_some(net::buffer(linger_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->linger_bytes_ += n;
      if (ec || self->linger_bytes_ > (64u << 20)) return self->Close();
      self->DrainSome();
    });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    timer_armed_ = false;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    core_->Remove(this);
  }

  std::shared_ptr<Server::Core> core_;
  beast::tcp_stream stream_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::unique_ptr<Response> res_;  // a chunked response being written
  std::string out_;                // a response being written (serialized)
  std::vector<char> linger_buf_;
  size_t linger_bytes_ = 0;
  State state_ = State::kReading;
  bool stopping_ = false;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point deadline_{};  // of the current read or write
  std::chrono::steady_clock::time_point timer_at_{};  // expiry of the pending wait
  bool timer_armed_ = false;                          // a wait is pending on timer_
  std::string remote_;
  // The request being answered, for the response and the access log.
  std::string request_id_, method_, path_;
  std::string route_ = "(none)";  // for route_metrics
  bool log_ = false;              // this request gets an access log line
  const Route* route_ptr_ = nullptr;  // the matched route (null: none or unmatched)
  // The metrics the last request was counted in, and what they were for.
  Server::Core::RouteMetrics counted_;
  const Route* counted_route_ = nullptr;
  unsigned counted_status_ = 0;
  std::string counted_method_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  std::chrono::steady_clock::time_point started_{};
};

void Accept(const std::shared_ptr<Server::Core>& core) {
  core->acceptor->async_accept(
      net::make_strand(core->io), [core](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !core->acceptor || !core->acceptor->is_open()) return;
        if (!ec) {
          if (core->connections_total) core->connections_total->Inc();
          if (core->Count() >= core->options.max_connections) {
            if (core->connections_rejected) core->connections_rejected->Inc();
            // Tell the client why, best effort, and close.
            static const std::string kBusy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                "Retry-After: 1\r\nConnection: close\r\nContent-Length: 27\r\n\r\n"
                "Too many connections, retry\n";
            beast::error_code ignored;
            socket.non_blocking(true, ignored);
            socket.send(net::buffer(kBusy), 0, ignored);
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
          } else {
            beast::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            StartHttpSession(std::move(socket), core);
          }
        } else {
          spdlog::warn("accept failed: {}", ec.message());
        }
        Accept(core);
      });
}

}  // namespace

void StartHttpSession(tcp::socket socket, std::shared_ptr<Server::Core> core) {
  auto s = std::make_shared<HttpSession>(std::move(socket), core);
  core->Add(s);
  s->Start();
}

// ---------------------------------------------------------------------------- Server

Server::Server(ServerOptions options, const Router& router)
    : core_(std::make_shared<Core>(std::move(options), router)) {}

Server::~Server() { Stop(); }

dt::Status Server::Start() {
  auto& c = *core_;
  beast::error_code ec;
  auto address = net::ip::make_address(c.options.address, ec);
  if (ec) return dt::Status::InvalidArgument(fmt::format("bad listen address '{}': {}", c.options.address, ec.message()));
  tcp::endpoint ep(address, c.options.port);
  c.acceptor.emplace(c.io);
  c.acceptor->open(ep.protocol(), ec);
  if (!ec) c.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) c.acceptor->bind(ep, ec);
  if (!ec) c.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    c.acceptor.reset();
    return dt::Status::IOError(fmt::format("cannot listen on {}:{}: {}", c.options.address, c.options.port, ec.message()));
  }
  c.pool = std::make_unique<WorkerPool>(c.options.worker_threads, c.options.worker_queue);
  Accept(core_);
  // Handlers that answer later leave no I/O pending: keep the threads running anyway.
  c.work.emplace(c.io.get_executor());
  size_t n = std::max<size_t>(1, c.options.io_threads);
  for (size_t i = 0; i < n; ++i) c.threads.emplace_back([this] { core_->io.run(); });
  return dt::Status::Ok();
}

uint16_t Server::port() const {
  beast::error_code ec;
  if (!core_->acceptor) return 0;
  auto ep = core_->acceptor->local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::Stop() {
  auto& c = *core_;
  if (c.threads.empty()) return;
  // 1. Stop accepting.
  net::post(c.io, [core = core_] {
    beast::error_code ec;
    if (core->acceptor) core->acceptor->close(ec);
  });
  // 2. Ask every connection to finish what it is doing and close.
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(c.mu);
    c.stopping = true;
    conns.assign(c.connections.begin(), c.connections.end());
  }
  for (auto& conn : conns) conn->Shutdown();
  // 3. Wait for in-flight requests, bounded.
  {
    std::unique_lock lock(c.mu);
    if (!c.drained.wait_for(lock, c.options.drain_timeout, [&] { return c.connections.empty(); })) {
      spdlog::warn("graceful stop: {} connections still open after {} ms; closing them",
                   c.connections.size(), c.options.drain_timeout.count());
    }
  }
  // 4. Finish queued blocking work, then stop the I/O threads.
  if (c.pool) c.pool->Stop();
  c.work.reset();
  c.io.stop();
  for (auto& t : c.threads) t.join();
  c.threads.clear();
  // 5. No I/O thread runs now: close what is left and let the handlers still queued run
  //    once (they complete as aborted), so none keeps a connection or the Core alive.
  {
    std::lock_guard lock(c.mu);
    conns.assign(c.connections.begin(), c.connections.end());
  }
  for (auto& conn : conns) conn->ForceClose();
  conns.clear();
  c.acceptor.reset();
  c.io.restart();
  while (c.io.poll() > 0) {
  }
  {
    std::lock_guard lock(c.mu);
    c.connections.clear();
  }
}

size_t Server::active_connections() const { return core_->Count(); }

boost::asio::any_io_executor Server::executor() { return core_->io.get_executor(); }

}  // namespace dt::http

#include "client/async_http.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace dt::client {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxResponseBytes = 64u << 20;
constexpr size_t kReadChunk = 16u << 10;

struct Job {
  std::string request;
  AsyncHttp::Callback done;
  Clock::time_point deadline;
  bool retried = false;
};

enum class State { kConnecting, kWriting, kReading, kIdle, kClosed };

struct Conn {
  int fd = -1;
  State state = State::kConnecting;
  bool reused = false;    // has answered a request before: the server may have closed it
  size_t endpoint = 0;    // the address being connected to
  std::optional<Job> job;
  size_t sent = 0;
  bool got_bytes = false;  // some of the answer came
  std::optional<http::response_parser<http::string_body>> parser;
  beast::flat_buffer in;
};

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_INET;
};

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

struct AsyncHttp::Loop {
  Options options;
  int ep = -1;
  int wake = -1;
  std::mutex stop_mu;  // serialises Stop
  std::thread thread;

  std::mutex mu;
  std::deque<Job> submitted;  // GUARDED_BY(mu)
  bool wake_pending = false;  // GUARDED_BY(mu): `wake` was written and not yet drained
  bool stopping = false;      // GUARDED_BY(mu)

  // The I/O thread's own.
  std::deque<Job> queue;  // waiting for a connection, oldest first
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<Conn*> idle;
  size_t open = 0;  // conns not closed
  bool reap = false;
  std::vector<Endpoint> endpoints;

  void Run();
  Status Resolve();
  Status Connect(Conn& c);  // a socket to endpoints[c.endpoint] or a later one
  void OnEvent(Conn& c, uint32_t events);
  void Start(Conn& c, Job job);
  void Write(Conn& c);
  void Read(Conn& c);
  void ConnectDone(Conn& c);
  void Complete(Conn& c);
  void Fail(Conn& c, const std::string& why, bool retryable);
  void Close(Conn& c);
  void Dispatch();
  void Expire(Clock::time_point now);
  int NextTimeoutMs(Clock::time_point now) const;
  void FailAll();
  Status Unavailable(const std::string& why) const {
    return Status::Unavailable("event store at " + options.describe + " " + why);
  }
};

AsyncHttp::AsyncHttp(Options options) : loop_(std::make_unique<Loop>()) {
  loop_->options = std::move(options);
  loop_->ep = ::epoll_create1(EPOLL_CLOEXEC);
  loop_->wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (loop_->ep < 0 || loop_->wake < 0) {
    throw std::runtime_error("AsyncHttp: epoll/eventfd: " + ErrnoText(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  ::epoll_ctl(loop_->ep, EPOLL_CTL_ADD, loop_->wake, &ev);
  loop_->thread = std::thread([l = loop_.get()] { l->Run(); });
  ::pthread_setname_np(loop_->thread.native_handle(), "es-client-io");
}

AsyncHttp::~AsyncHttp() {
  Stop();
  ::close(loop_->ep);
  ::close(loop_->wake);
}

void AsyncHttp::Stop() {
  std::lock_guard stop_lock(loop_->stop_mu);
  if (!loop_->thread.joinable()) return;
  {
    std::lock_guard lock(loop_->mu);
    loop_->stopping = true;
  }
  uint64_t one = 1;
  (void)!::write(loop_->wake, &one, sizeof one);
  loop_->thread.join();
}

void AsyncHttp::Submit(std::string request, Callback done) {
  Job job{std::move(request), std::move(done), Clock::now() + loop_->options.timeout};
  bool signal = false;
  {
    std::unique_lock lock(loop_->mu);
    if (loop_->stopping) {
      lock.unlock();
      job.done(loop_->Unavailable("not used: the client is closing"));
      return;
    }
    loop_->submitted.push_back(std::move(job));
    if (!loop_->wake_pending) signal = loop_->wake_pending = true;
  }
  if (signal) {
    uint64_t one = 1;
    (void)!::write(loop_->wake, &one, sizeof one);
  }
}

void AsyncHttp::Loop::Run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(ep, events, 64, NextTimeoutMs(Clock::now()));
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        woken = true;
      } else if (c->state != State::kClosed) {
        OnEvent(*c, events[i].events);
      }
    }
    if (woken) {
      uint64_t count;
      (void)!::read(wake, &count, sizeof count);
      bool stop;
      {
        std::lock_guard lock(mu);
        stop = stopping;
        for (auto& j : submitted) queue.push_back(std::move(j));
        submitted.clear();
        wake_pending = false;
      }
      if (stop) return FailAll();
    }
    Expire(Clock::now());
    Dispatch();
    if (reap) {
      std::erase_if(conns, [](const auto& c) { return c->state == State::kClosed; });
      reap = false;
    }
  }
}

int AsyncHttp::Loop::NextTimeoutMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  if (!queue.empty()) next = queue.front().deadline;
  for (const auto& c : conns) {
    if (c->job && (!next || c->job->deadline < *next)) next = c->job->deadline;
  }
  if (!next) return -1;
  if (*next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

Status AsyncHttp::Loop::Resolve() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(options.host.c_str(), options.port.c_str(), &hints, &found);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve " + options.host + ": " + ::gai_strerror(rc));
  }
  endpoints.clear();
  for (addrinfo* a = found; a; a = a->ai_next) {
    Endpoint e;
    std::memcpy(&e.addr, a->ai_addr, a->ai_addrlen);
    e.len = a->ai_addrlen;
    e.family = a->ai_family;
    endpoints.push_back(e);
  }
  ::freeaddrinfo(found);
  if (endpoints.empty()) return Status::Unavailable("cannot resolve " + options.host);
  return Status::Ok();
}

Status AsyncHttp::Loop::Connect(Conn& c) {
  int last_error = 0;
  for (; c.endpoint < endpoints.size(); ++c.endpoint) {
    const Endpoint& e = endpoints[c.endpoint];
    int fd = ::socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = errno;
      ::close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      last_error = errno;
      ::close(fd);
      continue;
    }
    c.fd = fd;
    c.state = State::kConnecting;
    return Status::Ok();
  }
  endpoints.clear();  // resolved again next time
  return Unavailable("cannot be connected to: " + ErrnoText(last_error));
}

void AsyncHttp::Loop::Dispatch() {
  while (!queue.empty()) {
    Job& job = queue.front();
    Conn* c = nullptr;
    // A retried request goes to a fresh connection when one can be opened.
    if (!idle.empty() && (!job.retried || open >= options.max_connections)) {
      c = idle.back();
      idle.pop_back();
    } else if (open < options.max_connections) {
      Status s = endpoints.empty() ? Resolve() : Status::Ok();
      auto conn = std::make_unique<Conn>();
      if (s.ok()) s = Connect(*conn);
      if (!s.ok()) {
        Job failed = std::move(job);
        queue.pop_front();
        failed.done(std::move(s));
        continue;
      }
      c = conn.get();
      conns.push_back(std::move(conn));
      ++open;
    } else {
      return;  // all busy
    }
    Job next = std::move(job);
    queue.pop_front();
    Start(*c, std::move(next));
  }
}

void AsyncHttp::Loop::Start(Conn& c, Job job) {
  c.job = std::move(job);
  c.sent = 0;
  c.got_bytes = false;
  c.parser.emplace();
  c.parser->body_limit(kMaxResponseBytes);
  c.parser->eager(true);
  if (c.state == State::kIdle) {
    c.state = State::kWriting;
    Write(c);
  }
  // kConnecting: written once connected.
}

void AsyncHttp::Loop::OnEvent(Conn& c, uint32_t events) {
  switch (c.state) {
    case State::kConnecting:
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ConnectDone(c);
      break;
    case State::kWriting:
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) Write(c);
      if (c.state == State::kReading && (events & (EPOLLIN | EPOLLRDHUP))) Read(c);
      break;
    case State::kReading:
      Read(c);
      break;
    case State::kIdle:
      // An idle connection has nothing to say: the server closed it (or broke the protocol).
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        std::erase(idle, &c);
        Close(c);
      }
      break;
    case State::kClosed:
      break;
  }
}

void AsyncHttp::Loop::ConnectDone(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) {
    c.state = State::kWriting;
    return Write(c);
  }
  // Refused on this address: the next one, if any.
  ::close(c.fd);
  c.fd = -1;
  ++c.endpoint;
  Status s = Connect(c);
  if (s.ok()) return;
  Job job = std::move(*c.job);
  c.job.reset();
  c.state = State::kClosed;
  --open;
  reap = true;
  job.done(Unavailable("cannot be connected to: " + ErrnoText(err)));
}

void AsyncHttp::Loop::Write(Conn& c) {
  const std::string& r = c.job->request;
  while (c.sent < r.size()) {
    ssize_t n = ::send(c.fd, r.data() + c.sent, r.size() - c.sent, MSG_NOSIGNAL);
    if (n >= 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // EPOLLOUT continues
    return Fail(c, "closed the connection: " + ErrnoText(errno), true);
  }
  c.state = State::kReading;
}

void AsyncHttp::Loop::Read(Conn& c) {
  for (;;) {
    auto space = c.in.prepare(kReadChunk);
    ssize_t n = ::recv(c.fd, space.data(), space.size(), 0);
    if (n > 0) {
      c.in.commit(static_cast<size_t>(n));
      c.got_bytes = true;
      while (!c.parser->is_done() && c.in.size() > 0) {
        beast::error_code ec;
        size_t used = c.parser->put(c.in.data(), ec);
        c.in.consume(used);
        if (ec == http::error::need_more) break;
        if (ec) return Fail(c, "answered something that is not HTTP: " + ec.message(), false);
        if (used == 0) break;
      }
      if (c.parser->is_done()) return Complete(c);
      // Edge-triggered: a short read means the socket is drained for now.
      if (static_cast<size_t>(n) < space.size()) return;
      continue;
    }
    if (n == 0) {
      if (c.got_bytes && c.parser->need_eof()) {
        beast::error_code ec;
        c.parser->put_eof(ec);
        if (!ec && c.parser->is_done()) return Complete(c);
      }
      return Fail(c, "closed the connection", true);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return Fail(c, "closed the connection: " + ErrnoText(errno), true);
  }
}

void AsyncHttp::Loop::Complete(Conn& c) {
  Response res = c.parser->release();
  c.parser.reset();
  Job job = std::move(*c.job);
  c.job.reset();
  if (res.keep_alive() && c.in.size() == 0 && !res.need_eof()) {
    c.state = State::kIdle;
    c.reused = true;
    idle.push_back(&c);
  } else {
    Close(c);
  }
  job.done(std::move(res));
}

void AsyncHttp::Loop::Fail(Conn& c, const std::string& why, bool retryable) {
  Job job = std::move(*c.job);
  c.job.reset();
  bool retry = retryable && c.reused && !c.got_bytes && !job.retried;
  Close(c);
  if (retry) {
    job.retried = true;
    queue.push_front(std::move(job));
    return;
  }
  job.done(Unavailable(why));
}

void AsyncHttp::Loop::Close(Conn& c) {
  if (c.state == State::kClosed) return;
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.state = State::kClosed;
  c.parser.reset();
  --open;
  reap = true;
}

void AsyncHttp::Loop::Expire(Clock::time_point now) {
  for (auto& c : conns) {
    if (c->job && c->job->deadline <= now) {
      Fail(*c, "did not answer within " + std::to_string(options.timeout.count()) + " ms",
           false);
    }
  }
  while (!queue.empty() && queue.front().deadline <= now) {
    Job job = std::move(queue.front());
    queue.pop_front();
    job.done(Unavailable("did not answer within " + std::to_string(options.timeout.count()) +
                         " ms (no free connection)"));
  }
}

void AsyncHttp::Loop::FailAll() {
  for (auto& c : conns) {
    if (c->job) {
      Job job = std::move(*c->job);
      c->job.reset();
      Close(*c);
      job.done(Unavailable("did not answer before the client closed"));
    } else {
      Close(*c);
    }
  }
  idle.clear();
  while (!queue.empty()) {
    Job job = std::move(queue.front());
    queue.pop_front();
    job.done(Unavailable("not used: the client is closing"));
  }
  conns.clear();
}

}  // namespace dt::client

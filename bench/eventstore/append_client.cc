// es_append_client: a closed-loop HTTP load tool for the event store benchmark
// (bench/eventstore/run.py), sending the requests append_single.lua makes with wrk
// for a fraction of wrk's CPU: wrk builds each body in Lua, and on a 2-core machine
// the load tool's CPU is taken from the server under test.
//
//   es_append_client --url http://127.0.0.1:PORT [--connections 64] [--threads 2]
//                    [--seconds 10] [--streams 1000]
//
// Each connection has one request in flight at a time (no pipelining): a single-event
// append of a 256-byte event to one of --streams streams ("bench-N", N random), a fresh
// random (v4) event id per request, Basic auth for admin:changeit, keep-alive. Every
// request's latency (first byte sent to the last byte of the response) is recorded and
// the percentiles are exact. Prints a summary in wrk's format (the lines run.py reads):
// "N requests in", "Requests/sec:", the latency distribution, and "Non-2xx or 3xx
// responses" / "Socket errors" when there were any. A connection that fails is counted
// and reconnected. Sends only to the address given (loopback in the benchmark), and
// stops by itself after --seconds (plus at most 5 s for answers still in flight).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int connections = 64;
  int threads = 2;
  int seconds = 10;
  int streams = 1000;
};

// xoshiro256** seeded from the OS: random ids and streams at a few ns each.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    uint64_t r = Rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return r;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// The request of append_single.lua: the same headers and the same body shape
// ([{"eventId":"<uuid>","eventType":"BenchEvent","data":{"n":"NNNNNNNNNN","pad":"x…"}}],
// data exactly 256 bytes).
class RequestMaker {
 public:
  RequestMaker(const Options& o) : host_(o.host + ":" + std::to_string(o.port)), streams_(o.streams) {}

  void Make(Rng& rng, uint64_t counter, std::string& out) const {
    static const std::string kPad(229, 'x');
    char uuid[36];
    uint64_t a = rng.Next(), b = rng.Next();
    static const char kHex[] = "0123456789abcdef";
    int k = 0;
    for (int i = 0; i < 36; ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        uuid[i] = '-';
        continue;
      }
      uint64_t& src = k < 16 ? a : b;
      unsigned v = static_cast<unsigned>(src & 15);
      src >>= 4;
      if (i == 14) v = 4;                 // version 4
      if (i == 19) v = 8 | (v & 3);       // variant 10xx
      uuid[i] = kHex[v];
      ++k;
    }
    char n[16];
    std::snprintf(n, sizeof n, "%010llu", static_cast<unsigned long long>(counter % 1000000000ull));
    std::string body;
    body.reserve(330);
    body.append(R"([{"eventId":")").append(uuid, 36).append(R"(","eventType":"BenchEvent","data":{"n":")")
        .append(n).append(R"(","pad":")").append(kPad).append(R"("}}])");
    out.clear();
    out.append("POST /streams/bench-").append(std::to_string(rng.Next() % static_cast<uint64_t>(streams_)))
        .append(" HTTP/1.1\r\nHost: ").append(host_)
        .append("\r\nContent-Type: application/vnd.eventstore.events+json\r\n"
                "Authorization: Basic YWRtaW46Y2hhbmdlaXQ=\r\nContent-Length: ")
        .append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  }

 private:
  std::string host_;
  int streams_;
};

struct Conn {
  int fd = -1;
  std::string request;
  size_t sent = 0;
  std::string in;  // response bytes so far
  Clock::time_point started;
  bool busy = false;
};

struct Totals {
  uint64_t done = 0, non2xx = 0, connect_errors = 0, read_errors = 0, write_errors = 0, bytes = 0;
  std::vector<uint32_t> latency_us;
};

// Size of the response at the front of `in` once it is complete, else 0; -1 if malformed.
long CompleteResponse(std::string_view in, int* status) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  if (in.size() < 12 || in.substr(0, 5) != "HTTP/") return -1;
  std::from_chars(in.data() + 9, in.data() + 12, *status);
  size_t length = 0;
  std::string_view head = in.substr(0, end);
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    std::string_view line = head.substr(pos, head.find("\r\n", pos) - pos);
    if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
      size_t i = 15;
      while (i < line.size() && line[i] == ' ') ++i;
      std::from_chars(line.data() + i, line.data() + line.size(), length);
    }
  }
  size_t total = end + 4 + length;
  return in.size() >= total ? static_cast<long>(total) : 0;
}

class Worker {
 public:
  Worker(const Options& o, int conns, uint64_t seed, Clock::time_point deadline)
      : o_(o), maker_(o), rng_(seed), conns_(conns), deadline_(deadline) {}

  void Run() {
    ep_ = epoll_create1(0);
    for (auto& c : conns_) Open(c);
    std::vector<epoll_event> events(conns_.size());
    char buf[65536];
    auto drain_until = deadline_ + std::chrono::seconds(5);
    for (;;) {
      auto now = Clock::now();
      bool stopping = now >= deadline_;
      if (stopping && (busy_ == 0 || now >= drain_until)) break;
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        Conn& c = conns_[events[i].data.u32];
        if (events[i].events & EPOLLOUT) {
          FinishConnect(c);
          continue;
        }
        ssize_t r = read(c.fd, buf, sizeof buf);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          ++t_.read_errors;
          Reopen(c);
          continue;
        }
        t_.bytes += static_cast<uint64_t>(r);
        c.in.append(buf, static_cast<size_t>(r));
        int status = 0;
        long size = CompleteResponse(c.in, &status);
        if (size == 0) continue;
        if (size < 0) {
          ++t_.read_errors;
          Reopen(c);
          continue;
        }
        auto end = Clock::now();
        c.busy = false;
        --busy_;
        if (end <= deadline_) {
          ++t_.done;
          if (status < 200 || status >= 400) ++t_.non2xx;
          t_.latency_us.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(end - c.started).count()));
        }
        c.in.erase(0, static_cast<size_t>(size));
        if (end < deadline_) Send(c);
      }
    }
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
  }

  const Totals& totals() const { return t_; }

 private:
  void Open(Conn& c) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(o_.port);
    inet_pton(AF_INET, o_.host.c_str(), &sa.sin_addr);
    c.in.clear();
    epoll_event ev{};
    ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      ev.events = EPOLLIN;
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
      Send(c);
    } else if (errno == EINPROGRESS) {
      ev.events = EPOLLOUT;
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    } else {
      ++t_.connect_errors;
      close(c.fd);
      c.fd = -1;
    }
  }

  void FinishConnect(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ++t_.connect_errors;
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
      if (Clock::now() < deadline_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        Open(c);
      }
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    if (Clock::now() < deadline_) Send(c);
  }

  void Reopen(Conn& c) {
    if (c.busy) {
      c.busy = false;
      --busy_;
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    if (Clock::now() < deadline_) Open(c);
  }

  void Send(Conn& c) {
    maker_.Make(rng_, ++counter_, c.request);
    c.started = Clock::now();
    c.busy = true;
    ++busy_;
    // A request is far smaller than the socket's send buffer: one write takes it.
    ssize_t w = write(c.fd, c.request.data(), c.request.size());
    if (w != static_cast<ssize_t>(c.request.size())) {
      ++t_.write_errors;
      Reopen(c);
    }
  }

  const Options& o_;
  RequestMaker maker_;
  Rng rng_;
  std::vector<Conn> conns_;
  Clock::time_point deadline_;
  int ep_ = -1;
  int busy_ = 0;
  uint64_t counter_ = 0;
  Totals t_;
};

bool ParseUrl(std::string_view url, Options& o) {
  if (!url.starts_with("http://")) return false;
  url.remove_prefix(7);
  if (!url.empty() && url.back() == '/') url.remove_suffix(1);
  size_t colon = url.rfind(':');
  if (colon == std::string_view::npos) return false;
  o.host = std::string(url.substr(0, colon));
  in_addr a{};
  if (inet_pton(AF_INET, o.host.c_str(), &a) != 1) return false;
  auto [p, ec] = std::from_chars(url.data() + colon + 1, url.data() + url.size(), o.port);
  return ec == std::errc() && p == url.data() + url.size() && o.port != 0;
}

std::string Ms(uint32_t us) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3fms", us / 1000.0);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool url_ok = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--url") {
      url_ok = ParseUrl(v, o);
    } else if (k == "--connections") {
      o.connections = std::atoi(v);
    } else if (k == "--threads") {
      o.threads = std::atoi(v);
    } else if (k == "--seconds") {
      o.seconds = std::atoi(v);
    } else if (k == "--streams") {
      o.streams = std::atoi(v);
    } else {
      url_ok = false;
      break;
    }
  }
  if (argc % 2 == 0 || !url_ok || o.connections < 1 || o.threads < 1 || o.seconds < 1 || o.seconds > 3600 ||
      o.streams < 1) {
    std::fprintf(stderr,
                 "usage: %s --url http://IP:PORT [--connections 64] [--threads 2] [--seconds 10] "
                 "[--streams 1000]\n",
                 argv[0]);
    return 2;
  }
  o.threads = std::min(o.threads, o.connections);
  std::random_device rd;
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(o.seconds);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) {
    int n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, n, (uint64_t(rd()) << 32) ^ rd() ^ uint64_t(t), deadline));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::min(Clock::now(), deadline) - start).count();

  Totals all;
  for (auto& w : workers) {
    const Totals& t = w->totals();
    all.done += t.done;
    all.non2xx += t.non2xx;
    all.connect_errors += t.connect_errors;
    all.read_errors += t.read_errors;
    all.write_errors += t.write_errors;
    all.bytes += t.bytes;
    all.latency_us.insert(all.latency_us.end(), t.latency_us.begin(), t.latency_us.end());
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  auto pct = [&](double q) {
    if (all.latency_us.empty()) return uint32_t{0};
    return all.latency_us[std::min(all.latency_us.size() - 1, static_cast<size_t>(q * all.latency_us.size()))];
  };
  std::printf("Running %ds test @ http://%s:%u\n  %d threads and %d connections\n", o.seconds, o.host.c_str(),
              o.port, o.threads, o.connections);
  std::printf("  Latency Distribution\n");
  for (double q : {0.50, 0.75, 0.90, 0.99}) std::printf("     %d%%  %s\n", static_cast<int>(q * 100), Ms(pct(q)).c_str());
  std::printf("  %llu requests in %.2fs, %.2fMB read\n", static_cast<unsigned long long>(all.done), elapsed,
              all.bytes / 1048576.0);
  if (all.connect_errors + all.read_errors + all.write_errors) {
    std::printf("  Socket errors: connect %llu, read %llu, write %llu, timeout 0\n",
                static_cast<unsigned long long>(all.connect_errors), static_cast<unsigned long long>(all.read_errors),
                static_cast<unsigned long long>(all.write_errors));
  }
  if (all.non2xx) std::printf("  Non-2xx or 3xx responses: %llu\n", static_cast<unsigned long long>(all.non2xx));
  std::printf("Requests/sec: %.2f\n", elapsed > 0 ? all.done / elapsed : 0.0);
  return all.done > 0 ? 0 : 1;
}

// ws_bench: delivery latency of the real-time channel (GET /ws) under a steady write rate.
//
// Starts a real App (dt-server's code: the engine in-process, the read model in SQLite or
// PostgreSQL, on a free loopback port) with --users users, opens --clients WebSockets
// spread evenly over them (client i belongs to user i % users), then writes
// POST /api/transactions at --rate writes/s (open loop: write k is due at start + k/rate,
// sent by one of --writers keep-alive connections, each for the user k % users) for
// --seconds after --warmup seconds. Every write makes one transaction_created message for
// each of its user's sockets; the delivery latency of a message is the time from the
// write's HTTP answer arriving to the message arriving (a message that arrives before the
// answer counts as 0 and is counted separately). Prints delivered/expected, p50/p90/p99/max
// delivery latency, the same measured from the write's request being sent (write + projection
// + push), the write latency and the achieved write rate.
//
//   ws_bench [--clients 1000] [--users 100] [--rate 1000] [--seconds 20] [--warmup 3]
//            [--writers 64] [--db sqlite|pg] [--pg-url URL] [--client-threads 1]
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/app.h"
#include "api/ws_hub.h"
#include "http/test_client.h"
#include "readmodel/test_databases.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

struct Args {
  int clients = 1000, users = 100, writers = 64, client_threads = 1;
  double rate = 1000, seconds = 20, warmup = 3;
  std::string db = "sqlite";
  std::string pg_url;
};

double Pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

// The transaction id of a transaction_created message ("" for other messages). Messages
// are JSON with sorted keys; the only "id" key is data.id.
std::string TxId(const std::string& m) {
  if (m.find("\"type\":\"transaction_created\"") == std::string::npos) return {};
  size_t p = m.find("\"id\":\"");
  if (p == std::string::npos) return {};
  return m.substr(p + 6, 36);
}

struct Arrival {
  std::string tx;
  Clock::time_point at;
};

// One WebSocket reading forever (async, on its io_context's thread).
struct Socket : std::enable_shared_from_this<Socket> {
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
  std::vector<Arrival>* sink;
  std::mutex* sink_mu;
  std::atomic<bool>* recording;
  explicit Socket(net::io_context& io) : ws(io) {}
  void Read() {
    ws.async_read(buf, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      auto now = Clock::now();
      std::string text = beast::buffers_to_string(self->buf.data());
      self->buf.consume(self->buf.size());
      if (self->recording->load()) {
        std::string tx = TxId(text);
        if (!tx.empty()) {
          std::lock_guard lock(*self->sink_mu);
          self->sink->push_back({std::move(tx), now});
        }
      }
      self->Read();
    });
  }
};

json Post(dt::http::TestClient& c, const std::string& token, const std::string& path,
          const json& body, unsigned* status = nullptr) {
  auto r = c.Do(dt::http::Verb::post, path, body.dump(),
                {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}});
  if (status) *status = r.result_int();
  return json::parse(r.body(), nullptr, false);
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (const char* pg = std::getenv("DT_TEST_PG_URL")) a.pg_url = pg;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--clients") a.clients = std::stoi(next());
    else if (k == "--users") a.users = std::stoi(next());
    else if (k == "--rate") a.rate = std::stod(next());
    else if (k == "--seconds") a.seconds = std::stod(next());
    else if (k == "--warmup") a.warmup = std::stod(next());
    else if (k == "--writers") a.writers = std::stoi(next());
    else if (k == "--client-threads") a.client_threads = std::stoi(next());
    else if (k == "--db") a.db = next();
    else if (k == "--pg-url") a.pg_url = next();
    else if (k == "--help" || k == "-h") {
      std::printf("ws_bench [--clients N] [--users N] [--rate W/s] [--seconds S] [--warmup S] "
                  "[--writers N] [--client-threads N] [--db sqlite|pg] [--pg-url URL]\n");
      return 0;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.db == "pg" && a.pg_url.empty()) {
    std::fprintf(stderr, "--db pg needs --pg-url or DT_TEST_PG_URL\n");
    return 2;
  }
  if (!a.pg_url.empty()) ::setenv("DT_TEST_PG_URL", a.pg_url.c_str(), 1);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(2 * a.clients + a.writers + 256)) {
    std::fprintf(stderr, "open-file limit %llu is too low for %d clients\n",
                 static_cast<unsigned long long>(rl.rlim_cur), a.clients);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);

  std::string dir = dt::readmodel::testing::TempDir("ws-bench");
  dt::api::Config cfg;
  cfg.port = 0;
  cfg.bind = "127.0.0.1";
  cfg.eventstore_url = "file:" + dir + "/eventstore";
  cfg.database_url = a.db == "pg" ? dt::readmodel::testing::FreshPgDatabaseUrl()
                                  : "sqlite:" + dir + "/projections.db";
  cfg.jwt_secret = "ws-bench-secret-0123456789";
  cfg.data_dir = dir;
  std::string users;
  for (int u = 0; u < a.users; ++u) users += (u ? "," : "") + ("u" + std::to_string(u)) + ":pw";
  cfg.bootstrap_users = users;
  std::fprintf(stderr, "creating %d users...\n", a.users);
  auto created = dt::api::App::Create(cfg);
  if (!created.ok()) {
    std::fprintf(stderr, "start failed: %s\n", created.status().ToString().c_str());
    return 1;
  }
  auto app = std::move(created).value();
  if (auto s = app->Start(); !s.ok()) {
    std::fprintf(stderr, "start failed: %s\n", s.ToString().c_str());
    return 1;
  }
  const uint16_t port = app->port();

  // Tokens and one contact per user.
  std::fprintf(stderr, "logging in and creating contacts...\n");
  std::vector<std::string> tokens(a.users), contacts(a.users);
  {
    dt::http::TestClient c(port);
    for (int u = 0; u < a.users; ++u) {
      auto login = c.Do(dt::http::Verb::post, "/api/auth/login",
                        json{{"username", "u" + std::to_string(u)}, {"password", "pw"}}.dump(),
                        {{"Content-Type", "application/json"}});
      tokens[u] = json::parse(login.body()).value("token", "");
      contacts[u] = Post(c, tokens[u], "/api/contacts", {{"name", "contact of u" + std::to_string(u)}})
                        .value("id", "");
      if (tokens[u].empty() || contacts[u].empty()) {
        std::fprintf(stderr, "setup failed for user %d\n", u);
        return 1;
      }
    }
  }

  // The WebSockets.
  std::fprintf(stderr, "opening %d WebSockets...\n", a.clients);
  std::vector<std::unique_ptr<net::io_context>> ios;
  for (int t = 0; t < a.client_threads; ++t) ios.push_back(std::make_unique<net::io_context>());
  std::vector<std::vector<Arrival>> sinks(a.client_threads);
  std::vector<std::mutex> sink_mus(a.client_threads);
  std::atomic<bool> recording{false};
  std::vector<std::shared_ptr<Socket>> sockets;
  for (int i = 0; i < a.clients; ++i) {
    int t = i % a.client_threads;
    auto s = std::make_shared<Socket>(*ios[t]);
    s->sink = &sinks[t];
    s->sink_mu = &sink_mus[t];
    s->recording = &recording;
    beast::error_code ec;
    beast::get_lowest_layer(s->ws).socket().connect({net::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) s->ws.handshake("127.0.0.1", "/ws?token=" + tokens[i % a.users], ec);
    if (ec) {
      std::fprintf(stderr, "WebSocket %d: %s\n", i, ec.message().c_str());
      return 1;
    }
    s->Read();
    sockets.push_back(std::move(s));
  }
  std::vector<std::thread> client_threads;
  for (auto& io : ios) client_threads.emplace_back([&io] {
    auto guard = net::make_work_guard(*io);
    io->run();
  });
  for (int i = 0; i < 500 && app->hub().GetStats().live < static_cast<size_t>(a.clients); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  // The writers.
  std::fprintf(stderr, "writing at %.0f/s for %.0f s (+%.0f s warm-up)...\n", a.rate, a.seconds,
               a.warmup);
  std::mutex answers_mu;
  // Recorded writes only: when the request was sent and when its answer arrived.
  std::unordered_map<std::string, std::pair<Clock::time_point, Clock::time_point>> answered;
  std::vector<double> write_ms;
  std::atomic<int64_t> next{0}, errors{0}, recorded_writes{0};
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  const auto record_from = start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(a.warmup));
  const auto end = record_from + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(a.seconds));
  std::vector<std::thread> writers;
  for (int w = 0; w < a.writers; ++w) {
    writers.emplace_back([&] {
      dt::http::TestClient c(port);
      for (;;) {
        int64_t k = next.fetch_add(1);
        auto due = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(k) / a.rate));
        if (due >= end) return;
        std::this_thread::sleep_until(due);
        bool rec = due >= record_from;
        if (rec) recording = true;
        int u = static_cast<int>(k % a.users);
        json tx = {{"contact_id", contacts[u]}, {"type", "money"},
                   {"direction", k % 2 ? "lent" : "owed"}, {"amount", 1 + k % 1000},
                   {"currency", "IQD"}, {"transaction_date", "2024-05-01"}};
        auto sent = Clock::now();
        unsigned status = 0;
        json r = Post(c, tokens[u], "/api/transactions", tx, &status);
        auto now = Clock::now();
        if (status != 201) {
          ++errors;
          continue;
        }
        if (rec) {
          std::lock_guard lock(answers_mu);
          answered[r.value("id", "")] = {sent, now};
          write_ms.push_back(std::chrono::duration<double, std::milli>(now - sent).count());
          ++recorded_writes;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  const auto writes_done = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the last messages
  recording = false;
  auto hub = app->hub().GetStats();

  std::vector<double> lat, from_sent;
  size_t before_answer = 0, unknown = 0;
  {
    std::lock_guard alock(answers_mu);
    for (int t = 0; t < a.client_threads; ++t) {
      std::lock_guard lock(sink_mus[t]);
      for (const auto& ar : sinks[t]) {
        auto it = answered.find(ar.tx);
        if (it == answered.end()) {
          ++unknown;  // a warm-up write's message
          continue;
        }
        from_sent.push_back(
            std::chrono::duration<double, std::milli>(ar.at - it->second.first).count());
        double ms = std::chrono::duration<double, std::milli>(ar.at - it->second.second).count();
        if (ms < 0) {
          ++before_answer;
          ms = 0;
        }
        lat.push_back(ms);
      }
    }
  }
  const int per_user = a.clients / a.users;  // clients are spread evenly
  size_t expected = static_cast<size_t>(recorded_writes.load()) * static_cast<size_t>(per_user);
  double achieved = static_cast<double>(recorded_writes.load()) /
                    std::chrono::duration<double>(std::min(writes_done, end) - record_from).count();
  std::vector<double> wl = write_ms;
  std::printf("db=%s clients=%d users=%d target_rate=%.0f achieved_rate=%.0f writes=%lld errors=%lld\n",
              a.db.c_str(), a.clients, a.users, a.rate, achieved,
              static_cast<long long>(recorded_writes.load()), static_cast<long long>(errors.load()));
  std::printf("delivered=%zu expected=%zu (%.2f%%) before_answer=%zu dropped_clients=%llu\n",
              lat.size(), expected, expected ? 100.0 * static_cast<double>(lat.size()) / static_cast<double>(expected) : 0.0,
              before_answer, static_cast<unsigned long long>(static_cast<size_t>(a.clients) - hub.subscribers));
  std::printf("delivery_ms p50=%.2f p90=%.2f p99=%.2f max=%.2f\n", Pct(lat, 0.5), Pct(lat, 0.9),
              Pct(lat, 0.99), lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()));
  std::printf("from_request_sent_ms p50=%.2f p99=%.2f\n", Pct(from_sent, 0.5), Pct(from_sent, 0.99));
  std::printf("write_ms p50=%.2f p99=%.2f\n", Pct(wl, 0.5), Pct(wl, 0.99));
  std::fflush(stdout);
  (void)unknown;

  for (auto& io : ios) io->stop();
  for (auto& t : client_threads) t.join();
  for (auto& s : sockets) {
    beast::error_code ec;
    beast::get_lowest_layer(s->ws).socket().close(ec);  // the server sees the client go
  }
  sockets.clear();
  app.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

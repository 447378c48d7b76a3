// api_bench: throughput and latency of the Debt Tracker API over real HTTP.
//
// For each mode (event store client x read-model store) it starts a real App (dt-server's
// code, on a free loopback port), creates users and contacts, then for 1, 16 and 64
// keep-alive connections runs
//   POST /api/transactions  (each answered only once the read model has it)
//   GET  /api/contacts      (20 contacts with balances)
// for --seconds each, and prints requests/s with p50/p99 latency: the median of --repeat
// runs. It also prints the CPU time per request (user + system, median run) of the server
// side (this process without its client threads, plus the dt-eventstore process in the
// remote modes) and of the bench's client threads: unlike requests/s these do not depend
// on what else the machine runs. In the PostgreSQL modes it prints the CPU time per request of
// the PostgreSQL server as well (its postmaster and every process of it: the backends serving
// dt-server, WAL writer, checkpointer...; a server of its own makes this the bench's alone).
// Modes: in_process+sqlite, in_process+pg (needs DT_TEST_PG_URL or --pg-url),
// remote+sqlite, remote+pg (need a dt-eventstore executable: --eventstore-bin). Between
// modes the machine settles (Settle): no mode measures the background work of the one before.
#include <spdlog/spdlog.h>
#include <libpq-fe.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>  // instruction counts of the measured runs only (no-op natively)
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define RUNNING_ON_VALGRIND 0
#endif

#include "proc_cpu.h"
#include "api/app.h"
#include "client/test_eventstore_process.h"
#include "http/test_client.h"
#include "readmodel/test_databases.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

using namespace dt::bench;

struct Args {
  double seconds = 5;
  int repeat = 3;
  std::vector<int> connections{1, 16, 64};
  std::vector<std::string> modes{"in_process+sqlite", "in_process+pg", "remote+sqlite",
                                 "remote+pg"};
  std::string pg_url;
  std::string eventstore_bin;
  bool writes = true, reads = true;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

struct RunResult {
  double rps = 0, p50_ms = 0, p99_ms = 0;
  double server_cpu_us = 0, client_cpu_us = 0;  // CPU time per request
  double pg_cpu_us = 0;  // the PostgreSQL server's, in the pg modes
  size_t errors = 0;
  size_t requests = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

double Seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

// User + system CPU seconds of this process (RUSAGE_SELF) or the calling thread.
double CpuSeconds(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return Seconds(ru.ru_utime) + Seconds(ru.ru_stime);
}

struct Session {
  std::string token;
  std::vector<std::string> contacts;
};

json Login(dt::http::TestClient& c, const std::string& user) {
  auto r = c.Do(dt::http::Verb::post, "/api/auth/login",
                json{{"username", user}, {"password", "pw-" + user}}.dump(),
                {{"Content-Type", "application/json"}});
  return json::parse(r.body());
}

// One measured run: `conns` threads, each with its own keep-alive connection.
RunResult Run(uint16_t port, const std::vector<Session>& sessions, int conns, bool write,
              double seconds, pid_t eventstore_pid, pid_t postmaster_pid) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(conns));
  std::vector<double> client_cpu(static_cast<size_t>(conns));
  std::atomic<size_t> errors{0};
  std::atomic<bool> go{false};
  Clock::time_point end;
  std::vector<std::thread> threads;
  for (int i = 0; i < conns; ++i) {
    threads.emplace_back([&, i] {
      dt::http::TestClient c(port);
      const Session& s = sessions[static_cast<size_t>(i) % sessions.size()];
      std::string auth = "Bearer " + s.token;
      size_t n = 0;
      while (!go) std::this_thread::yield();
      double cpu0 = CpuSeconds(RUSAGE_THREAD);
      while (Clock::now() < end) {
        auto t0 = Clock::now();
        unsigned status;
        if (write) {
          json body = {{"contact_id", s.contacts[n % s.contacts.size()]},
                       {"type", "money"},
                       {"direction", n % 3 ? "lent" : "owed"},
                       {"amount", 1000 + static_cast<int64_t>(n % 97)},
                       {"currency", "IQD"},
                       {"transaction_date", "2024-06-01"},
                       {"comment", "bench"}};
          status = c.Do(dt::http::Verb::post, "/api/transactions", body.dump(),
                        {{"Authorization", auth}, {"Content-Type", "application/json"}})
                       .result_int();
          if (status != 201) errors++;
        } else {
          status = c.Do(dt::http::Verb::get, "/api/contacts", {}, {{"Authorization", auth}})
                       .result_int();
          if (status != 200) errors++;
        }
        lat[static_cast<size_t>(i)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        ++n;
      }
      client_cpu[static_cast<size_t>(i)] = CpuSeconds(RUSAGE_THREAD) - cpu0;
    });
  }
  double self0 = CpuSeconds(RUSAGE_SELF), es0 = ProcessCpuSeconds(eventstore_pid);
  double pg0 = PostgresCpuSeconds(postmaster_pid);
  auto start = Clock::now();
  end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  go = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double self = CpuSeconds(RUSAGE_SELF) - self0, es = ProcessCpuSeconds(eventstore_pid) - es0;
  double pg = PostgresCpuSeconds(postmaster_pid) - pg0;
  double clients = 0;
  for (double c : client_cpu) clients += c;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  RunResult r;
  r.rps = static_cast<double>(all.size()) / elapsed;
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  r.errors = errors;
  r.requests = all.size();
  if (!all.empty()) {
    double n = static_cast<double>(all.size());
    r.server_cpu_us = (self - clients + es) * 1e6 / n;
    r.client_cpu_us = clients * 1e6 / n;
    r.pg_cpu_us = pg * 1e6 / n;
  }
  return r;
}

}  // namespace

// Lets the machine settle before the next mode, so that a mode does not measure what the one
// before it left running: a PostgreSQL mode's schema is dropped (no autovacuum of its tables
// later) and a CHECKPOINT writes the server's dirty buffers now (both best effort); the
// kernel writes its dirty pages (sync); then the bench waits, up to 20 s, until PostgreSQL
// uses under 5 % of a core. (Without it, remote+sqlite run right after in_process+pg gave
// ~9,700 writes/s at 64 connections, against 12,000-13,400 run alone, on the same machine.)
void Settle(const std::string& mode_pg_url, pid_t postmaster) {
  if (!mode_pg_url.empty()) {
    PGconn* c = PQconnectdb(mode_pg_url.c_str());
    if (PQstatus(c) == CONNECTION_OK) {
      PGresult* r = PQexec(c, "SELECT quote_ident(current_schema())");
      std::string schema = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                                   !PQgetisnull(r, 0, 0)
                               ? PQgetvalue(r, 0, 0)
                               : "";
      PQclear(r);
      if (!schema.empty() && schema != "public") {
        PQclear(PQexec(c, ("DROP SCHEMA " + schema + " CASCADE").c_str()));
      }
      PQclear(PQexec(c, "CHECKPOINT"));
    }
    PQfinish(c);
  }
  ::sync();
  for (int i = 0; postmaster > 0 && i < 40; ++i) {
    const double before = PostgresCpuSeconds(postmaster);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (PostgresCpuSeconds(postmaster) - before < 0.025) break;
  }
}

int main(int argc, char** argv) {
  Args a;
  if (const char* pg = std::getenv("DT_TEST_PG_URL")) a.pg_url = pg;
#ifdef DT_EVENTSTORE_BIN
  a.eventstore_bin = DT_EVENTSTORE_BIN;
#endif
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--seconds") a.seconds = std::stod(next());
    else if (k == "--repeat") a.repeat = std::stoi(next());
    else if (k == "--connections") {
      a.connections.clear();
      for (auto& c : Split(next())) a.connections.push_back(std::stoi(c));
    } else if (k == "--modes") a.modes = Split(next());
    else if (k == "--pg-url") a.pg_url = next();
    else if (k == "--eventstore-bin") a.eventstore_bin = next();
    else if (k == "--endpoints") {
      std::string e = next();
      a.writes = e.find("post") != std::string::npos;
      a.reads = e.find("get") != std::string::npos;
    }
    else {
      std::fprintf(stderr,
                   "usage: api_bench [--seconds S] [--repeat N] [--connections 1,16,64]\n"
                   "                 [--modes in_process+sqlite,in_process+pg,remote+sqlite,"
                   "remote+pg]\n                 [--pg-url URL] [--eventstore-bin PATH]\n");
      return 2;
    }
  }
  if (!a.pg_url.empty()) ::setenv("DT_TEST_PG_URL", a.pg_url.c_str(), 1);
  spdlog::set_level(spdlog::level::warn);
  std::printf(
      "| client | read model | endpoint | connections | requests/s | p50 ms | p99 ms | errors "
      "| server CPU µs/req | PostgreSQL CPU µs/req | bench client CPU µs/req |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  Settle(std::string(), a.pg_url.empty() ? 0 : PostmasterPid(a.pg_url));
  for (const auto& mode : a.modes) {
    bool remote = mode.rfind("remote", 0) == 0;
    bool pg = mode.size() > 3 && mode.substr(mode.size() - 2) == "pg";
    if (pg && a.pg_url.empty()) {
      std::fprintf(stderr, "skip %s: no PostgreSQL (DT_TEST_PG_URL / --pg-url)\n", mode.c_str());
      continue;
    }
    if (remote && a.eventstore_bin.empty()) {
      std::fprintf(stderr, "skip %s: no dt-eventstore (--eventstore-bin)\n", mode.c_str());
      continue;
    }
    std::string dir = dt::readmodel::testing::TempDir("bench");
    std::unique_ptr<dt::client::testing::EventStoreProcess> eventstore;
    dt::api::Config cfg;
    cfg.port = 0;
    cfg.bind = "127.0.0.1";
    cfg.data_dir = dir;
    cfg.jwt_secret = "bench-secret-0123456789abcdef";
    cfg.workers = 96;
    cfg.log_level = "warn";
    if (remote) {
      ::setenv("EVENTSTORE_LOG_LEVEL", "Warning", 1);  // no access-log line per request
      eventstore = std::make_unique<dt::client::testing::EventStoreProcess>(a.eventstore_bin, dir);
      cfg.eventstore_url = eventstore->url();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    } else {
      cfg.eventstore_url = "file:" + dir + "/eventstore";
    }
    cfg.database_url = pg ? dt::readmodel::testing::FreshPgDatabaseUrl()
                          : "sqlite:" + dir + "/projections.db";
    const pid_t postmaster = pg ? PostmasterPid(cfg.database_url) : 0;
    const int kUsers = 8, kContacts = 20;
    std::string users;
    for (int u = 0; u < kUsers; ++u) {
      users += (u ? "," : "") + std::string("u") + std::to_string(u) + ":pw-u" + std::to_string(u);
    }
    cfg.bootstrap_users = users;
    auto app = dt::api::App::Create(cfg);
    if (!app.ok()) {
      std::fprintf(stderr, "%s: %s\n", mode.c_str(), app.status().ToString().c_str());
      return 1;
    }
    if (auto s = (*app)->Start(); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", mode.c_str(), s.ToString().c_str());
      return 1;
    }
    uint16_t port = (*app)->port();
    std::vector<Session> sessions;
    {
      dt::http::TestClient c(port);
      for (int u = 0; u < kUsers; ++u) {
        Session s;
        s.token = Login(c, "u" + std::to_string(u)).value("token", "");
        for (int k = 0; k < kContacts; ++k) {
          auto r = c.Do(dt::http::Verb::post, "/api/contacts",
                        json{{"name", "contact " + std::to_string(k)}}.dump(),
                        {{"Authorization", "Bearer " + s.token},
                         {"Content-Type", "application/json"}});
          s.contacts.push_back(json::parse(r.body()).value("id", ""));
        }
        sessions.push_back(std::move(s));
      }
    }
    auto sep = mode.find('+');
    std::string client = mode.substr(0, sep), store = mode.substr(sep + 1);
    for (bool write : {true, false}) {
      if ((write && !a.writes) || (!write && !a.reads)) continue;
      for (int conns : a.connections) {
        std::vector<RunResult> runs;
        for (int r = 0; r < a.repeat; ++r) {
          // Under `valgrind --tool=callgrind --instr-atstart=no` only the measured runs are
          // counted (setup excluded), and their request counts go to stderr: instructions
          // per request are then the total / requests.
          CALLGRIND_START_INSTRUMENTATION;
          runs.push_back(Run(port, sessions, conns, write, a.seconds,
                             eventstore ? eventstore->pid() : 0, postmaster));
          CALLGRIND_STOP_INSTRUMENTATION;
          if (RUNNING_ON_VALGRIND) {
            std::fprintf(stderr, "%s %s %d connections: %zu requests\n", mode.c_str(),
                         write ? "post" : "get", conns, runs.back().requests);
          }
        }
        std::sort(runs.begin(), runs.end(), [](auto& x, auto& y) { return x.rps < y.rps; });
        const RunResult& m = runs[runs.size() / 2];
        size_t errors = 0;
        for (auto& r : runs) errors += r.errors;
        char pg_cpu[32] = "-";
        if (pg) std::snprintf(pg_cpu, sizeof pg_cpu, "%.0f", m.pg_cpu_us);
        std::printf("| %s | %s | %s | %d | %.0f | %.2f | %.2f | %zu | %.0f | %s | %.0f |\n",
                    client.c_str(), store.c_str(),
                    write ? "POST /api/transactions" : "GET /api/contacts", conns, m.rps,
                    m.p50_ms, m.p99_ms, errors, m.server_cpu_us, pg_cpu,
                    m.client_cpu_us);
        std::fflush(stdout);
      }
    }
    (*app)->Stop();
    app->reset();
    eventstore.reset();
    std::filesystem::remove_all(dir);
    Settle(pg ? cfg.database_url : std::string(), a.pg_url.empty() ? 0 : PostmasterPid(a.pg_url));
  }
  return 0;
}

// rebuild_bench: projection rebuild speed (events/s) into SQLite and PostgreSQL.
//
// Writes --events domain events (default 1,000,000: per contact one ContactCreated and
// nine TransactionCreated/Updated, in the shape the API writes them) into an engine folder
// (unsynced appends: this measures the rebuild, not the writes), then rebuilds the read
// model from them --repeat times per store and prints the median events/s.
//   rebuild_bench [--events N] [--repeat N] [--stores sqlite,pg] [--folder DIR (reuse)]
// PostgreSQL: DT_TEST_PG_URL or --pg-url. Per PostgreSQL run it also prints the server's CPU
// time (its postmaster and children, from /proc: the server must run on this machine) and
// the WAL it wrote, which do not move with the machine's load as the wall time does. Each
// run starts after a sync(), so that no run pays for writing back what came before it.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/resource.h>
#include <thread>

#include "client/in_process_client.h"
#include "client/time_util.h"
#include "proc_cpu.h"
#include "readmodel/projector.h"
#include "readmodel/test_databases.h"
#include "store/store.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

dt::store::EventData Event(const std::string& type, const json& data) {
  dt::store::EventData e;
  e.id = dt::Uuid::Random();
  e.type = type;
  e.data = data.dump();
  e.metadata = json{{"request_id", "bench"}, {"user_id", data["user_id"]}, {"source", "api"}}.dump();
  return e;
}

// Writes `total` events from 4 threads; returns the number written.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t Generate(dt::store::Store& store, int64_t total) {
  std::atomic<int64_t> written{0};
  const int kThreads = 4;
  const int64_t contacts = total / 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t c = t; c < contacts; c += kThreads) {
        std::string user = dt::Uuid::NameBased(dt::Uuid{}, "user" + std::to_string(c % 100)).ToString();
        std::string cid = dt::Uuid::Random().ToString();
        std::string now = dt::FormatRfc3339Micros(dt::NowMicros());
        json contact = {{"id", cid}, {"user_id", user}, {"name", "Contact " + std::to_string(c)},
                        {"username", nullptr}, {"phone", "0770" + std::to_string(c)},
                        {"email", nullptr}, {"notes", nullptr}, {"created_at", now},
                        {"updated_at", now}};
        (void)store.Append("contact-" + cid, dt::store::kExpectedNoStream,
                           {Event("ContactCreated", {{"user_id", user}, {"contact_id", cid},
                                                     {"contact", contact},
                                                     {"comment", "No comment provided"},
                                                     {"occurred_at", now}})});
        written++;
        for (int k = 0; k < 9; ++k) {
          std::string tid = dt::Uuid::Random().ToString();
          json tx = {{"id", tid}, {"user_id", user}, {"contact_id", cid}, {"type", "money"},
                     {"direction", k % 2 ? "owed" : "lent"}, {"amount", 1000 * (k + 1)},
                     {"currency", k % 3 ? "IQD" : "USD"}, {"description", "groceries"},
                     {"transaction_date", "2024-06-0" + std::to_string(k + 1)},
                     {"due_date", nullptr}, {"created_at", now}, {"updated_at", now}};
          if (k == 8) {  // one update per contact: a second event in the same stream
            (void)store.Append("transaction-" + tid, dt::store::kExpectedNoStream,
                               {Event("TransactionCreated",
                                      {{"user_id", user}, {"transaction_id", tid},
                                       {"contact_id", cid}, {"transaction", tx},
                                       {"comment", "No comment provided"}, {"occurred_at", now}})});
            written++;
            json prev = {{"amount", tx["amount"]}};
            tx["amount"] = 42;
            (void)store.Append("transaction-" + tid, 0,
                               {Event("TransactionUpdated",
                                      {{"user_id", user}, {"transaction_id", tid},
                                       {"contact_id", cid}, {"changes", {{"amount", 42}}},
                                       {"previous", prev}, {"transaction", tx},
                                       {"comment", "fix"}, {"occurred_at", now}})});
            written++;
            break;
          }
          (void)store.Append("transaction-" + tid, dt::store::kExpectedNoStream,
                             {Event("TransactionCreated",
                                    {{"user_id", user}, {"transaction_id", tid}, {"contact_id", cid},
                                     {"transaction", tx}, {"comment", "No comment provided"},
                                     {"occurred_at", now}})});
          written++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return written;
}

// The server's current WAL position in bytes (pg_current_wal_lsn), or -1.
int64_t WalPosition(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  int64_t at = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, "SELECT pg_current_wal_lsn() - '0/0'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) at = std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10);
    PQclear(r);
  }
  PQfinish(c);
  return at;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 1000000;
  int repeat = 3;
  std::vector<std::string> stores{"sqlite", "pg"};
  std::string folder, pg_url;
  if (const char* pg = std::getenv("DT_TEST_PG_URL")) pg_url = pg;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--events") events = std::stoll(next());
    else if (k == "--repeat") repeat = std::stoi(next());
    else if (k == "--stores") stores = Split(next());
    else if (k == "--folder") folder = next();
    else if (k == "--pg-url") pg_url = next();
    else {
      std::fprintf(stderr, "usage: rebuild_bench [--events N] [--repeat N] [--stores sqlite,pg] "
                           "[--folder DIR] [--pg-url URL]\n");
      return 2;
    }
  }
  if (!pg_url.empty()) ::setenv("DT_TEST_PG_URL", pg_url.c_str(), 1);
  spdlog::set_level(spdlog::level::warn);
  bool keep = !folder.empty();
  std::string work = dt::readmodel::testing::TempDir("rebuild-bench");
  if (folder.empty()) folder = work + "/eventstore";
  dt::store::Options o;
  o.folder = folder;
  o.sync = false;
  auto store = dt::store::Store::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", folder.c_str(), store.status().ToString().c_str());
    return 1;
  }
  if ((*store)->HeadPosition() == 0) {
    auto t0 = Clock::now();
    int64_t n = Generate(**store, events);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::fprintf(stderr, "wrote %lld events in %.1f s into %s\n", static_cast<long long>(n), s,
                 folder.c_str());
  }
  auto client = std::make_unique<dt::client::InProcessClient>(**store, folder);
  std::printf("| read model | events | runs | median events/s | min | max |\n|---|---|---|---|---|---|\n");
  for (const auto& kind : stores) {
    std::string url;
    if (kind == "pg") {
      url = dt::readmodel::testing::FreshPgDatabaseUrl();
      if (url.empty()) {
        std::fprintf(stderr, "skip pg: no PostgreSQL (DT_TEST_PG_URL / --pg-url)\n");
        continue;
      }
    } else {
      url = "sqlite:" + work + "/projections.db";
    }
    auto rm = dt::readmodel::OpenReadModelStore(url);
    if (!rm.ok()) {
      std::fprintf(stderr, "%s: %s\n", kind.c_str(), rm.status().ToString().c_str());
      return 1;
    }
    std::vector<double> rates;
    int64_t applied = 0;
    const pid_t postmaster = kind == "pg" ? dt::bench::PostmasterPid(url) : 0;
    for (int r = 0; r < repeat; ++r) {
      // Each run starts with no dirty pages left to write back: the events were appended
      // unsynced (gigabytes of page cache the kernel would write back during the first run),
      // and a run's own files are the next run's.
      ::sync();
      dt::readmodel::Projector projector(*client, **rm);
      const int64_t wal0 = kind == "pg" ? WalPosition(url) : -1;
      const double server0 = dt::bench::PostgresCpuSeconds(postmaster);
      double cpu0 = CpuSeconds();
      auto t0 = Clock::now();
      auto s = projector.Rebuild([&](const dt::readmodel::RebuildProgress& p) {
        std::fprintf(stderr, "\r%s run %d: %5.1f%% %lld events %.0f events/s   ", kind.c_str(),
                     r + 1, p.fraction * 100, static_cast<long long>(p.events),
                     p.events_per_second);
      });
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      double cpu = CpuSeconds() - cpu0;
      const double server_cpu = dt::bench::PostgresCpuSeconds(postmaster) - server0;
      const int64_t wal = kind == "pg" && wal0 >= 0 ? WalPosition(url) - wal0 : -1;
      std::fprintf(stderr, "\n");
      if (!s.ok()) {
        std::fprintf(stderr, "rebuild: %s\n", s.ToString().c_str());
        return 1;
      }
      auto st = projector.GetStatus();
      applied = st.events_applied;
      const auto& ph = st.rebuild.phases;
      // The phases (wall clock; read, decode and write overlap) and this process's CPU time
      // (user + system, all threads; a PostgreSQL server's own CPU is not in it).
      std::fprintf(stderr,
                   "%s run %d: %.2f s, %.0f events/s; phases s: read %.2f decode %.2f write %.2f "
                   "finish_bulk %.2f catch_up %.2f swap %.2f; cpu %.2f s = %.2f us/event "
                   "(reader thread %.2f, writer thread %.2f us/event)\n",
                   kind.c_str(), r + 1, secs, static_cast<double>(applied) / secs, ph.read,
                   ph.decode, ph.write, ph.finish_bulk, ph.catch_up, ph.swap, cpu,
                   applied ? cpu * 1e6 / static_cast<double>(applied) : 0.0,
                   applied ? ph.reader_cpu * 1e6 / static_cast<double>(applied) : 0.0,
                   applied ? ph.writer_cpu * 1e6 / static_cast<double>(applied) : 0.0);
      if (postmaster > 0 && applied > 0) {
        std::fprintf(stderr, "%s run %d: PostgreSQL cpu %.2f s = %.2f us/event, WAL %.0f MB = %.0f "
                     "bytes/event\n", kind.c_str(), r + 1, server_cpu,
                     server_cpu * 1e6 / static_cast<double>(applied), static_cast<double>(wal) / 1e6,
                     static_cast<double>(wal) / static_cast<double>(applied));
      }
      rates.push_back(static_cast<double>(applied) / secs);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("| %s | %lld | %d | %.0f | %.0f | %.0f |\n", kind == "pg" ? "PostgreSQL" : "SQLite",
                static_cast<long long>(applied), repeat, rates[rates.size() / 2], rates.front(),
                rates.back());
    std::fflush(stdout);
  }
  client.reset();
  (void)(*store)->Close();
  std::filesystem::remove_all(work);  // the event folder too, unless --folder named one
  (void)keep;
  return 0;
}

// apply_bench: the CPU cost of the live projector's batch apply (ReadModelStore::Apply), per
// row, at fixed batch sizes: each batch N transaction creates with their audit-trail events
// and balance changes (8 users x 20 contacts, the shape of api_bench's writes), applied to a
// fresh read model in a row. Prints per store and batch size the median of --repeat runs of
//   - the database server's CPU per row (PostgreSQL: its postmaster and every process of it,
//     from /proc; SQLite runs inside this process: none), and
//   - this process's CPU per row (SQLite: all of the work; PostgreSQL: encoding the batch and
//     the client library's part).
// Unlike api_bench's figures these do not depend on how large the projector's batches grow
// under load or on what else the machine runs at the same time.
// Usage: apply_bench [--stores sqlite,pg] [--batches 16,64] [--rows 48000] [--repeat 3]
//                    [--pg-url URL]     (PostgreSQL: DT_TEST_PG_URL or --pg-url)
#include <libpq-fe.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "proc_cpu.h"
#include "readmodel/read_model_store.h"
#include "readmodel/test_databases.h"

using namespace dt::readmodel;

namespace {

using namespace dt::bench;

double SelfCpuSeconds() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// An id shaped like the API's (36 characters).
std::string Id(const char* prefix, long n) {
  char b[80];
  std::snprintf(b, sizeof b, "%s%08lx-6980-54a9-8518-7f831ccd7daa", prefix, n);
  return b;
}

// Batch `i` of `size` transaction creates; `seq` is the next audit-trail position.
Batch MakeBatch(long i, int size, int64_t& seq) {
  Batch b;
  std::set<std::pair<int, int>> touched;
  for (int j = 0; j < size; ++j) {
    const int u = j % 8, c = static_cast<int>((i * 7 + j) % 20);
    dt::tracker::Transaction t;
    t.id = Id("01a2", i * 1000 + j);
    t.user_id = Id("u", u);
    t.contact_id = Id("c", u * 100 + c);
    t.type = "money";
    t.direction = "owed";
    t.amount = 1000 + j;
    t.currency = "IQD";
    t.description = "";
    t.transaction_date = "2024-06-01";
    t.created_at = t.updated_at = "2026-11-27T18:47:59.409284Z";
    t.version = 0;
    EventRow e;
    e.seq = seq++;
    e.event_id = Id("e", i * 1000 + j);
    e.stream = "transaction-";
    e.stream += t.id;
    e.version = 0;
    e.user_id = t.user_id;
    e.aggregate_type = "transaction";
    e.aggregate_id = t.id;
    e.event_type = "TransactionCreated";
    std::string& d = e.data;  // what the API writes for a create (members in name order)
    d = "{\"comment\":\"bench\",\"contact_id\":\"";
    d.append(t.contact_id).append("\",\"occurred_at\":\"").append(t.created_at);
    d.append("\",\"transaction\":{\"amount\":").append(std::to_string(t.amount));
    d.append(",\"contact_id\":\"").append(t.contact_id);
    d.append("\",\"created_at\":\"").append(t.created_at);
    d.append("\",\"currency\":\"IQD\",\"description\":null,\"direction\":\"owed\",");
    d.append("\"due_date\":null,\"id\":\"").append(t.id);
    d.append("\",\"transaction_date\":\"2024-06-01\",\"type\":\"money\",\"updated_at\":\"");
    d.append(t.updated_at).append("\",\"user_id\":\"").append(t.user_id);
    d.append("\"},\"transaction_id\":\"").append(t.id).append("\",\"user_id\":\"");
    d.append(t.user_id).append("\"}");
    e.occurred_at = t.created_at;
    if (touched.insert({u, c}).second) {
      b.balances.push_back({t.user_id, t.contact_id, "IQD", -t.amount});
    }
    b.transactions.push_back(std::move(t));
    b.events.push_back(std::move(e));
  }
  return b;
}

struct Run {
  double server_us = 0, client_us = 0;
};

// Applies `rows` rows in batches of `size` to a fresh read model (after 20 batches of warm-up).
bool Measure(const std::string& kind, int size, long rows, Run& out) {
  std::string dir, url;
  if (kind == "pg") {
    url = testing::FreshPgDatabaseUrl();
  } else {
    dir = testing::TempDir("apply-bench");
    url = "sqlite:" + dir + "/rm.db";
  }
  auto store = OpenReadModelStore(url);
  if (!store.ok()) {
    std::fprintf(stderr, "%s: %s\n", kind.c_str(), store.status().ToString().c_str());
    return false;
  }
  const pid_t postmaster = kind == "pg" ? PostmasterPid(url) : 0;
  const long batches = std::max(1L, rows / size);
  int64_t seq = 0;
  double server0 = 0, client0 = 0;
  for (long i = 0; i < batches + 20; ++i) {
    if (i == 20) {
      server0 = PostgresCpuSeconds(postmaster);
      client0 = SelfCpuSeconds();
    }
    Batch b = MakeBatch(i, size, seq);
    ProjectionState st;
    st.position = std::to_string(i);
    st.events_applied = seq;
    if (auto s = (*store)->Apply(Target::kLive, b, st); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n", kind.c_str(), s.ToString().c_str());
      return false;
    }
  }
  const double n = static_cast<double>(batches * size);
  out.client_us = (SelfCpuSeconds() - client0) * 1e6 / n;
  ::usleep(300 * 1000);  // the WAL writer's share of the last batches
  out.server_us = (PostgresCpuSeconds(postmaster) - server0) * 1e6 / n;
  store->reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return true;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t comma = s.find(',', at);
    if (comma == std::string::npos) comma = s.size();
    if (comma > at) out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> stores{"sqlite", "pg"};
  std::vector<int> sizes{16, 64};
  long rows = 48000;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--stores") {
      stores = Split(next());
    } else if (k == "--batches") {
      sizes.clear();
      for (const auto& s : Split(next())) sizes.push_back(std::max(1, std::stoi(s)));
    } else if (k == "--rows") {
      rows = std::max(1L, std::stol(next()));
    } else if (k == "--repeat") {
      repeat = std::max(1, std::stoi(next()));
    } else if (k == "--pg-url") {
      ::setenv("DT_TEST_PG_URL", next().c_str(), 1);
    } else {
      std::fprintf(stderr,
                   "usage: apply_bench [--stores sqlite,pg] [--batches 16,64] [--rows N] "
                   "[--repeat N] [--pg-url URL]\n");
      return 2;
    }
  }
  std::printf(
      "| read model | batch | rows | database server CPU µs/row | apply_bench CPU µs/row |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& kind : stores) {
    if (kind == "pg" && !testing::PgUrl()) {
      std::fprintf(stderr, "skip pg: no PostgreSQL (DT_TEST_PG_URL / --pg-url)\n");
      continue;
    }
    for (int size : sizes) {
      std::vector<Run> runs;
      for (int r = 0; r < repeat; ++r) {
        Run run;
        if (!Measure(kind, size, rows, run)) return 1;
        runs.push_back(run);
      }
      auto median = [&](double Run::*field) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r.*field);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      std::printf("| %s | %d | %ld | %.1f | %.1f |\n", kind.c_str(), size, (rows / size) * size,
                  median(&Run::server_us), median(&Run::client_us));
      std::fflush(stdout);
    }
  }
  return 0;
}

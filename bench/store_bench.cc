// store_bench: throughput and latency of the storage engine, in process, on a real disk.
//
// Measures (each figure the median of --repeats runs, each run on a fresh store):
//   - the physical limit: one writer, append + fdatasync per write, on the same disk;
//   - durable appends/s with 1/16/64 writers x batches of 1/10/100 events (256-byte JSON)
//     to 1,000 streams, with p50/p99 append latency and events per fsync;
//   - reads: one stream, and $all, in events/s;
//   - reopen time of a cleanly closed store with 1M and 10M events.
// Usage: store_bench [--dir D] [--repeats N] [--seconds S] [--reopen 1000000,10000000]
//                    [--only fsync,append,read,reopen] [--writers 1,16,64]
//                    [--batches 1,10,100] [--no-sync] [--quick]
// --no-sync skips fdatasync (Options::sync = false): the CPU cost alone, not durable.
#include <fcntl.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

extern char** environ;

using namespace dt::store;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string dir;
  int repeats = 3;
  double seconds = 3;
  std::vector<uint64_t> reopen = {1000000, 10000000};
  std::string only = "fsync,append,read,reopen";
  std::vector<int> writers = {1, 16, 64};
  std::vector<int> batches = {1, 10, 100};
  bool Want(const char* what) const { return only.find(what) != std::string::npos; }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double Percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::string Json256(int i) {
  // 256 bytes of JSON.
  std::string s = "{\"amount\":" + std::to_string(1000 + i % 9000) + ",\"currency\":\"EUR\",\"note\":\"";
  const size_t pad = 256 - s.size() - 2;
  s.append(pad, 'x');
  s += "\"}";
  return s;
}

std::vector<EventData> Batch(int n, int seed) {
  std::vector<EventData> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[i].id = dt::Uuid::Random();
    v[i].type = "DebtRecorded";
    v[i].data = Json256(seed + i);
    v[i].metadata = "{}";
  }
  return v;
}

bool g_sync = true;

std::unique_ptr<Store> OpenStore(const std::string& folder, bool sync = true) {
  sync = sync && g_sync;
  Options o;
  o.folder = folder;
  o.sync = sync;
  auto r = Store::Open(o);
  if (!r.ok()) {
    std::fprintf(stderr, "open %s: %s\n", folder.c_str(), r.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

std::string Fresh(const Config& c, const std::string& name) {
  std::string p = c.dir + "/" + name;
  std::filesystem::remove_all(p);
  return p;
}

// ---------------------------------------------------------------- physical limit

void BenchFsync(const Config& c) {
  const std::string path = c.dir + "/fsync-probe";
  std::vector<double> rates;
  std::vector<uint32_t> lat_median_run;
  for (int r = 0; r < c.repeats; ++r) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ::fallocate(fd, 0, 0, 256 << 20) != 0) {
      std::perror("fsync probe");
      std::exit(1);
    }
    std::string rec(330, 'r');  // about one 256-byte event as a log record
    std::vector<uint32_t> lat;
    uint64_t off = 0, n = 0;
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(c.seconds);
    while (Clock::now() < end) {
      const auto t0 = Clock::now();
      if (::pwrite(fd, rec.data(), rec.size(), static_cast<off_t>(off)) < 0 || ::fdatasync(fd) != 0) {
        std::perror("write");
        std::exit(1);
      }
      lat.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      off += rec.size();
      ++n;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    rates.push_back(static_cast<double>(n) / secs);
    if (r == 0 || lat_median_run.empty()) lat_median_run = lat;
    ::close(fd);
    ::unlink(path.c_str());
  }
  std::printf("| physical limit: 1 writer, pwrite 330 B + fdatasync | %.0f writes/s | p50 %.0f us, p99 %.0f us |\n",
              Median(rates), Percentile(lat_median_run, 0.5), Percentile(lat_median_run, 0.99));
  std::fflush(stdout);
}

// ---------------------------------------------------------------- appends

double CpuSeconds() {
  rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct AppendRun {
  double cpu_us_per_event = 0;  // CPU time of the whole process (writers included)
  double events_per_s = 0;
  double p50_us = 0, p99_us = 0;
  double events_per_fsync = 0;
};

AppendRun OneAppendRun(const Config& c, int writers, int batch) {
  const std::string folder = Fresh(c, "append");
  auto store = OpenStore(folder);
  // Prepare batches ahead so the writers measure the store, not the event building.
  std::atomic<bool> go{false};
  std::mutex go_mu;
  std::condition_variable go_cv;
  std::atomic<uint64_t> events{0};
  std::vector<std::vector<uint32_t>> lat(static_cast<size_t>(writers));
  std::vector<std::thread> ts;
  const auto duration = std::chrono::duration<double>(c.seconds);
  Clock::time_point start, end;
  for (int w = 0; w < writers; ++w) {
    ts.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w * 7919 + 1));
      std::vector<std::vector<EventData>> ready;
      for (int i = 0; i < 64; ++i) ready.push_back(Batch(batch, i));
      auto& my = lat[static_cast<size_t>(w)];
      my.reserve(200000);
      {
        std::unique_lock lock(go_mu);
        go_cv.wait(lock, [&] { return go.load(); });
      }
      size_t i = 0;
      while (Clock::now() < end) {
        std::vector<EventData> b = ready[i++ % ready.size()];
        for (auto& e : b) e.id = dt::Uuid::Random();
        const std::string stream = "debts-" + std::to_string(rng() % 1000);
        const auto t0 = Clock::now();
        auto r = store->Append(stream, kExpectedAny, std::move(b));
        const auto t1 = Clock::now();
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        my.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
        events.fetch_add(static_cast<uint64_t>(batch), std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the writers build batches
  const Stats before = store->GetStats();
  const double cpu0 = CpuSeconds();
  start = Clock::now();
  end = start + std::chrono::duration_cast<Clock::duration>(duration);
  {
    std::lock_guard lock(go_mu);
    go.store(true);
  }
  go_cv.notify_all();
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu0;
  const Stats after = store->GetStats();
  std::vector<uint32_t> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  AppendRun run;
  run.events_per_s = static_cast<double>(events.load()) / secs;
  run.cpu_us_per_event = cpu * 1e6 / static_cast<double>(std::max<uint64_t>(1, events.load()));
  run.p50_us = Percentile(all, 0.5);
  run.p99_us = Percentile(all, 0.99);
  const uint64_t fsyncs = after.fsyncs - before.fsyncs;
  run.events_per_fsync = fsyncs ? static_cast<double>(after.events_written - before.events_written) / static_cast<double>(fsyncs) : 0;
  store.reset();
  std::filesystem::remove_all(folder);
  return run;
}

void BenchAppends(const Config& c) {
  std::printf("\n| writers | batch | events/s (median) | p50 latency | p99 latency | events per fsync | CPU per event |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int writers : c.writers) {
    for (int batch : c.batches) {
      std::vector<AppendRun> runs;
      for (int r = 0; r < c.repeats; ++r) {
        std::fprintf(stderr, "appends: %d writers x %d events, run %d/%d\n", writers, batch, r + 1, c.repeats);
        runs.push_back(OneAppendRun(c, writers, batch));
      }
      std::sort(runs.begin(), runs.end(), [](auto& a, auto& b) { return a.events_per_s < b.events_per_s; });
      const AppendRun& m = runs[runs.size() / 2];  // the median run
      std::printf("| %d | %d | %.0f | %.0f us | %.0f us | %.1f | %.2f us |\n", writers, batch, m.events_per_s,
                  m.p50_us, m.p99_us, m.events_per_fsync, m.cpu_us_per_event);
      std::fflush(stdout);
    }
  }
}

// ---------------------------------------------------------------- fixtures for reads/reopen

// Fills a store with `events` events (batches of 100 to 1,000 streams, plus one long stream
// "single" of up to 100k events), unsynced to build it quickly, then closes it cleanly.
void Fill(const std::string& folder, uint64_t events) {
  auto store = OpenStore(folder, /*sync=*/false);
  const int writers = 4;
  std::atomic<uint64_t> next{0};
  const uint64_t batches = events / 100;
  const uint64_t single_batches = std::min<uint64_t>(1000, batches / 10);
  std::vector<std::thread> ts;
  auto t0 = Clock::now();
  for (int w = 0; w < writers; ++w)
    ts.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w + 1));
      auto tmpl = Batch(100, w);
      for (;;) {
        const uint64_t b = next.fetch_add(1);
        if (b >= batches) break;
        auto batch = tmpl;
        for (auto& e : batch) e.id = dt::Uuid::Random();
        const std::string stream = b < single_batches ? "single" : "debts-" + std::to_string(rng() % 1000);
        auto r = store->Append(stream, kExpectedAny, std::move(batch));
        if (!r.ok()) {
          std::fprintf(stderr, "fill: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        if (w == 0 && b % 10000 == 0 && b > 0)
          std::fprintf(stderr, "  filled %llu of %llu events (%.0f s)\n", static_cast<unsigned long long>(b * 100),
                       static_cast<unsigned long long>(events),
                       std::chrono::duration<double>(Clock::now() - t0).count());
      }
    });
  for (auto& t : ts) t.join();
  if (!store->Close().ok()) std::exit(1);
}

void BenchReads(const Config& c, const std::string& folder, uint64_t events) {
  auto store = OpenStore(folder);
  std::vector<double> one, all;
  uint64_t single_events = 0, all_events = 0;
  for (int r = 0; r < c.repeats; ++r) {
    auto t0 = Clock::now();
    int64_t from = 0;
    uint64_t n = 0;
    for (;;) {
      auto s = store->ReadStream("single", from, 1000, Direction::kForward);
      if (!s.ok()) std::exit(1);
      n += s->events.size();
      from = s->next_number;
      if (s->end_of_stream) break;
    }
    one.push_back(static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count());
    single_events = n;
    t0 = Clock::now();
    Position pos = 0;
    n = 0;
    for (;;) {
      auto s = store->ReadAll(pos, 4096, Direction::kForward);
      if (!s.ok()) std::exit(1);
      n += s->events.size();
      pos = s->next_position;
      if (s->end_of_log) break;
    }
    all.push_back(static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - t0).count());
    all_events = n;
  }
  std::printf("\n| read | events | events/s (median) |\n|---|---:|---:|\n");
  std::printf("| one stream forward, pages of 1,000 | %llu | %.0f |\n", static_cast<unsigned long long>(single_events), Median(one));
  std::printf("| $all forward, pages of 4,096 (store of %llu events) | %llu | %.0f |\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(all_events), Median(all));
  std::fflush(stdout);
}

// The child of BenchReopenAfterKill: fills a store and exits without closing it.
int FillAndDie(const std::string& folder, uint64_t events) {
  auto store = OpenStore(folder, /*sync=*/false);
  auto tmpl = Batch(100, 0);
  for (uint64_t b = 0; b < events / 100; ++b) {
    auto batch = tmpl;
    for (auto& e : batch) e.id = dt::Uuid::Random();
    if (!store->Append("debts-" + std::to_string(b % 1000), kExpectedAny, std::move(batch)).ok()) return 1;
  }
  ::_exit(0);  // no Close(): as if killed
}

// Reopen after the writing process died without closing the store: the index's memtables
// (no WAL) are lost and the tail of the log past the index's checkpoints is re-indexed.
void BenchReopenAfterKill(const Config& c, uint64_t events) {
  std::vector<double> ms;
  for (int r = 0; r < c.repeats; ++r) {
    const std::string folder = Fresh(c, "killed");
    // A child process (this program again, not fork(): RocksDB's threads make fork unsafe).
    std::string count = std::to_string(events);
    char* argv[] = {const_cast<char*>("/proc/self/exe"), const_cast<char*>("--fill-and-die"),
                    const_cast<char*>(folder.c_str()), count.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0) {
      std::perror("posix_spawn");
      std::exit(1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "the filling child failed\n");
      std::exit(1);
    }
    auto t0 = Clock::now();
    auto store = OpenStore(folder);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    store.reset();
    std::filesystem::remove_all(folder);
  }
  std::printf("| reopen after the writer died without closing, %llu events | %.0f ms |\n",
              static_cast<unsigned long long>(events), Median(ms));
  std::fflush(stdout);
}

void BenchReopen(const Config& c, const std::string& folder, uint64_t events) {
  std::vector<double> ms;
  for (int r = 0; r < c.repeats; ++r) {
    auto t0 = Clock::now();
    auto store = OpenStore(folder);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    store.reset();
  }
  uint64_t log_bytes = 0;
  for (auto& f : std::filesystem::directory_iterator(folder + "/log")) log_bytes += f.file_size();
  std::printf("| reopen after a clean close, %llu events (%.1f GiB of segments) | %.0f ms |\n",
              static_cast<unsigned long long>(events), static_cast<double>(log_bytes) / (1 << 30), Median(ms));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--fill-and-die") return FillAndDie(argv[2], std::strtoull(argv[3], nullptr, 10));
  Config c;
  const char* tmp = std::getenv("TMPDIR");
  c.dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/dt-store-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") c.dir = val();
    else if (a == "--repeats") c.repeats = std::max(1, std::atoi(val().c_str()));
    else if (a == "--seconds") c.seconds = std::atof(val().c_str());
    else if (a == "--only") c.only = val();
    else if (a == "--no-sync") g_sync = false;
    else if (a == "--writers" || a == "--batches") {
      std::vector<int>& v = a == "--writers" ? c.writers : c.batches;
      v.clear();
      std::stringstream ss(val());
      std::string item;
      while (std::getline(ss, item, ',')) v.push_back(std::atoi(item.c_str()));
    }
    else if (a == "--reopen") {
      c.reopen.clear();
      std::stringstream ss(val());
      std::string item;
      while (std::getline(ss, item, ',')) c.reopen.push_back(std::strtoull(item.c_str(), nullptr, 10));
    } else if (a == "--quick") {
      c.repeats = 1;
      c.seconds = 1;
      c.reopen = {100000};
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: store_bench [--dir D] [--repeats N] [--seconds S] [--reopen N,M] "
                  "[--only fsync,append,read,reopen] [--writers 1,16,64] [--batches 1,10,100] [--no-sync] [--quick]\n");
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  std::filesystem::create_directories(c.dir);
  std::printf("store_bench: folder %s, %d repeats of %.1f s, medians\n\n", c.dir.c_str(), c.repeats, c.seconds);
  std::printf("| measure | result | latency |\n|---|---:|---:|\n");
  if (c.Want("fsync")) BenchFsync(c);
  if (c.Want("append")) BenchAppends(c);
  if (c.Want("read") || c.Want("reopen")) {
    bool first = true;
    for (uint64_t n : c.reopen) {
      const std::string folder = Fresh(c, "fill");
      std::fprintf(stderr, "filling a store with %llu events\n", static_cast<unsigned long long>(n));
      Fill(folder, n);
      if (first && c.Want("read")) BenchReads(c, folder, n);
      if (c.Want("reopen")) {
        if (first) std::printf("\n| reopen | time (median) |\n|---|---:|\n");
        BenchReopen(c, folder, n);
      }
      if (c.Want("reopen") && n <= 1000000) BenchReopenAfterKill(c, n);
      first = false;
      std::filesystem::remove_all(folder);
    }
  }
  std::filesystem::remove_all(c.dir);
  return 0;
}

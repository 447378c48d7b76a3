// store_crash_child: appends from several threads until killed, printing one line per
// acknowledged append ("<stream> <last number>\n", one write each) on stdout.
// Usage: store_crash_child <folder> <threads> <segment bytes>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/crash_workload.h"
#include "store/store.h"

using namespace dt::store;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <folder> <threads> <segment bytes>\n", argv[0]);
    return 2;
  }
  Options o;
  o.folder = argv[1];
  o.segment_bytes = std::strtoull(argv[3], nullptr, 10);
  const int threads = std::atoi(argv[2]);
  auto opened = Store::Open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  Store& store = **opened;
  const char ready[] = "ready\n";
  if (::write(1, ready, sizeof ready - 1) < 0) return 1;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&store, t] {
      std::mt19937 rng(static_cast<unsigned>(::getpid() * 31 + t));
      std::vector<int64_t> version(4);
      for (int k = 0; k < 4; ++k) {
        auto info = store.GetStreamInfo(crash::StreamName(t, k));
        if (!info.ok()) std::abort();
        version[k] = info->last_number;
      }
      for (;;) {
        const int k = static_cast<int>(rng() % 4);
        const std::string stream = crash::StreamName(t, k);
        const int n = 1 + static_cast<int>(rng() % 5);
        std::vector<EventData> batch;
        for (int i = 0; i < n; ++i) batch.push_back(crash::EventFor(stream, version[k] + 1 + i));
        auto r = store.Append(stream, version[k], std::move(batch));
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::abort();
        }
        version[k] = r->last_number;
        const std::string line = stream + " " + std::to_string(r->last_number) + "\n";
        if (::write(1, line.data(), line.size()) < 0) std::abort();
      }
    });
  }
  for (auto& t : ts) t.join();
  return 0;
}

// store_crash_child: the child processes of the engine's crash tests.
//   store_crash_child <folder> <threads> <segment bytes>
//     appends from several threads until killed, printing one line per acknowledged append
//     ("<stream> <last number>\n", one write each) on stdout.
//   store_crash_child --die-without-close <folder> <event id>
//     a fixed script of writes (see fault_test.cc), then exits without closing the store.
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

namespace {

EventData Event(const std::string& type, const std::string& data, dt::Uuid id = dt::Uuid::Random()) {
  EventData e;
  e.id = id;
  e.type = type;
  e.data = data;
  e.metadata = "{}";
  return e;
}

std::vector<EventData> Events(int n) {
  std::vector<EventData> v;
  for (int i = 0; i < n; ++i) v.push_back(Event("T", "{\"n\":" + std::to_string(i) + "}"));
  return v;
}

// The writes of FaultTest.IndexBehindTheLogAfterTheWriterDiedIsCaughtUp.
int DieWithoutClose(const std::string& folder, const dt::Uuid& retry_id) {
  Options o;
  o.folder = folder;
  {
    // A first session closes cleanly: its states are in the index.
    auto first = Store::Open(o);
    if (!first.ok()) return 2;
    for (int i = 0; i < 15; ++i)
      if (!(*first)->Append("s-" + std::to_string(i % 3), kExpectedAny, Events(10)).ok()) return 3;
  }
  auto st = Store::Open(o);
  if (!st.ok()) return 2;
  Store& store = **st;
  for (int i = 15; i < 30; ++i)
    if (!store.Append("s-" + std::to_string(i % 3), kExpectedAny, Events(10)).ok()) return 3;
  if (!store.Append("s-0", kExpectedAny, {Event("T", "{}", retry_id)}).ok()) return 4;
  if (!store.Delete("s-1", kExpectedAny, false).ok()) return 5;
  if (!store.Append("s-1", kExpectedNoStream, Events(2)).ok()) return 6;
  if (!store.Delete("s-2", kExpectedAny, true).ok()) return 7;
  if (!store.Append("$$s-0", kExpectedAny, {Event("$metadata", "{\"$maxCount\":5}")}).ok()) return 8;
  ::_exit(0);  // no Close(): the index's memtables are lost
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--die-without-close") {
    auto id = dt::Uuid::Parse(argv[3]);
    return id ? DieWithoutClose(argv[2], *id) : 2;
  }
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

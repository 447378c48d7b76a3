// The real crash test: a child process appends from several threads and reports every
// acknowledgement; it is killed with SIGKILL at a random moment (sometimes while it is still
// opening and recovering); the store is reopened and must hold every acknowledged event
// exactly once, in order, with its bytes. DT_CRASH_CYCLES sets the number of cycles
// (default 20); use a large number for a soak.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "store/crash_workload.h"
#include "store/store.h"
#include "store/test_util.h"

extern char** environ;

namespace dt::store {
namespace {

constexpr int kThreads = 4;
constexpr uint64_t kSegmentBytes = 256 << 10;  // small: segments roll during the test

struct ChildRun {
  std::map<std::string, int64_t> acked;  // stream -> highest acknowledged number
  uint64_t acks = 0;
  bool was_ready = false;
  int status = 0;
};

// Runs the child until `kill_after` has passed (counted from "ready", or from the spawn when
// kill_during_open), kills it, and returns every acknowledgement it printed.
ChildRun RunAndKill(const std::string& folder, std::chrono::milliseconds kill_after, bool kill_during_open) {
  ChildRun run;
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_addclose(&actions, pipefd[0]);
  std::string threads = std::to_string(kThreads), seg = std::to_string(kSegmentBytes);
  char* argv[] = {const_cast<char*>(DT_CRASH_CHILD), const_cast<char*>(folder.c_str()),
                  threads.data(), seg.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, DT_CRASH_CHILD, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);

  std::string pending;
  auto consume = [&](bool block_until_eof) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n <= 0) return;
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (line == "ready") {
          run.was_ready = true;
          continue;
        }
        std::istringstream in(line);
        std::string stream;
        int64_t last;
        in >> stream >> last;
        ++run.acks;
        auto& a = run.acked[stream];
        a = std::max(a, last);
      }
      if (!block_until_eof) return;
    }
  };
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  bool started = kill_during_open;
  for (;;) {
    if (!started && run.was_ready) {
      started = true;
      start = Clock::now();
    }
    if (started && Clock::now() - start >= kill_after) break;
    if (!started && Clock::now() - start > std::chrono::seconds(60)) {
      ADD_FAILURE() << "the child did not open the store within 60 s";
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 1) > 0) {
      if (p.revents & POLLIN) {
        consume(false);
      } else {
        break;  // the child died on its own
      }
    }
  }
  ::kill(pid, SIGKILL);
  consume(true);  // every line written before the kill was an acknowledgement
  ::close(pipefd[0]);
  ::waitpid(pid, &run.status, 0);
  return run;
}

TEST(CrashTest, EveryAcknowledgedEventSurvivesSigkill) {
  const char* env = std::getenv("DT_CRASH_CYCLES");
  const int cycles = env ? std::atoi(env) : 20;
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  testing::TempDir dir;
  std::map<std::string, int64_t> acked;  // over all cycles
  uint64_t total_acks = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    const bool during_open = rng() % 5 == 0;
    const auto after = std::chrono::milliseconds(during_open ? rng() % 40 : 5 + rng() % 300);
    ChildRun run = RunAndKill(dir.path(), after, during_open);
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "the child ended on its own (status " << run.status << ")";
    for (auto& [s, n] : run.acked) acked[s] = std::max(acked[s], n);
    total_acks += run.acks;

    Options o;
    o.folder = dir.path();
    o.segment_bytes = kSegmentBytes;
    auto opened = Store::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Store& store = **opened;
    // Every stream: numbers 0..last without a gap, each event's bytes as written, at least
    // everything acknowledged.
    std::map<std::string, int64_t> found;
    for (int t = 0; t < kThreads; ++t) {
      for (int k = 0; k < 4; ++k) {
        const std::string stream = crash::StreamName(t, k);
        int64_t expect = 0;
        int64_t from = 0;
        for (;;) {
          auto slice = store.ReadStream(stream, from, 500, Direction::kForward);
          if (slice.status().Is(Code::kStreamNotFound)) break;
          ASSERT_TRUE(slice.ok()) << slice.status().ToString();
          for (const RecordedEvent& e : slice->events) {
            ASSERT_EQ(e.number, expect) << stream;
            const EventData want = crash::EventFor(stream, expect);
            ASSERT_EQ(e.id, want.id) << stream << " " << expect;
            ASSERT_EQ(e.type, want.type);
            ASSERT_EQ(e.data, want.data);
            ASSERT_EQ(e.metadata, want.metadata);
            ++expect;
          }
          from = slice->next_number;
          if (slice->end_of_stream) break;
        }
        found[stream] = expect - 1;
        auto it = acked.find(stream);
        if (it != acked.end()) {
          ASSERT_GE(expect - 1, it->second) << "acknowledged events of " << stream << " are missing";
        }
      }
    }
    // $all: every event exactly once, streams in order.
    std::set<Uuid> ids;
    std::map<std::string, int64_t> last_in_all;
    Position pos = 0;
    uint64_t count = 0;
    for (;;) {
      auto slice = store.ReadAll(pos, 2000, Direction::kForward);
      ASSERT_TRUE(slice.ok()) << slice.status().ToString();
      for (const RecordedEvent& e : slice->events) {
        ASSERT_TRUE(ids.insert(e.id).second) << "event twice in $all: " << e.stream << " " << e.number;
        auto [it, fresh] = last_in_all.emplace(e.stream, e.number);
        if (!fresh) {
          ASSERT_EQ(e.number, it->second + 1) << e.stream;
          it->second = e.number;
        }
        ++count;
      }
      pos = slice->next_position;
      if (slice->end_of_log) break;
    }
    for (auto& [s, n] : found) {
      if (n >= 0) {
        ASSERT_EQ(last_in_all[s], n) << s;
      }
    }
    uint64_t in_streams = 0;
    for (auto& [s, n] : found) in_streams += static_cast<uint64_t>(n + 1);
    ASSERT_EQ(count, in_streams);
    acked = found;  // unacknowledged events that made it are part of the history now
  }
  EXPECT_GT(total_acks, 0u);
  std::printf("crash test: %d cycles, %llu acknowledged appends checked (seed %u)\n", cycles,
              static_cast<unsigned long long>(total_acks), seed);
}

}  // namespace
}  // namespace dt::store

// Crash test through HTTP: concurrent clients append and record every 201; the server is
// killed with SIGKILL mid-load; after a restart every acknowledged event is readable
// exactly once, at the number its 201 named. Also: SIGTERM stops cleanly with exit 0.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/uuid.h"
#include "eventstore_process.h"
#include "http/basic_auth.h"
#include "http/test_client.h"

namespace dt {
namespace {

using http::HttpStatus;
using http::Verb;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kAuth = "Basic " + http::Base64Encode("admin:changeit");

struct Ack {
  std::string stream;
  int64_t number;
  std::string id;
};

// Every event of a stream, following "previous" links forward from 0.
std::vector<json> ReadAll(http::TestClient& c, const std::string& stream) {
  std::vector<json> out;
  std::string target = "/streams/" + stream + "/0/forward/100?embed=body";
  for (int guard = 0; guard < 10000; ++guard) {
    auto r = c.Do(Verb::get, target, {}, {{"Authorization", kAuth}});
    if (r.result() == HttpStatus::not_found) return out;
    EXPECT_EQ(r.result(), HttpStatus::ok);
    json page = json::parse(r.body());
    if (page["entries"].empty()) break;
    for (auto it = page["entries"].rbegin(); it != page["entries"].rend(); ++it) out.push_back(*it);
    std::string prev;
    for (const auto& l : page["links"]) {
      if (l["relation"] == "previous") prev = l["uri"];
    }
    if (prev.empty()) break;
    target = prev.substr(prev.find("/streams/")) + "?embed=body";
  }
  return out;
}

TEST(EventStoreCrashTest, EveryAcknowledgedAppendSurvivesSigkill) {
  testing::EventStoreProcess proc(DT_EVENTSTORE_BIN);
  uint16_t port = proc.Start();
  std::mutex mu;
  std::vector<Ack> acks;
  std::atomic<bool> stop{false};
  std::atomic<int> errors_after_kill{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      http::TestClient c(port);
      for (int k = 0; !stop; ++k) {
        std::string stream = "crash-" + std::to_string(t) + "-" + std::to_string(k % 5);
        std::string id = Uuid::Random().ToString();
        json body = json::array({{{"eventId", id}, {"eventType", "Tick"}, {"data", {{"t", t}, {"k", k}}}}});
        try {
          auto r = c.Do(Verb::post, "/streams/" + stream, body.dump(),
                        {{"Authorization", kAuth}, {"Content-Type", "application/vnd.eventstore.events+json"}});
          if (r.result() != HttpStatus::created) continue;
          std::string loc(r[http::bhttp::field::location]);
          int64_t n = std::stoll(loc.substr(loc.rfind('/') + 1));
          std::lock_guard lock(mu);
          acks.push_back({stream, n, id});
        } catch (const std::exception&) {
          ++errors_after_kill;  // the server is gone
          return;
        }
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(proc.Kill(SIGKILL), 128 + SIGKILL);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_GT(acks.size(), 100u) << "too few appends acknowledged to test anything";

  port = proc.Start();
  http::TestClient c(port);
  std::map<std::string, std::vector<Ack>> by_stream;
  for (const auto& a : acks) by_stream[a.stream].push_back(a);
  size_t checked = 0;
  for (const auto& [stream, stream_acks] : by_stream) {
    std::vector<json> events = ReadAll(c, stream);
    std::map<std::string, std::vector<int64_t>> numbers_of_id;
    for (const auto& e : events) numbers_of_id[e["eventId"]].push_back(e["eventNumber"]);
    for (const auto& a : stream_acks) {
      auto it = numbers_of_id.find(a.id);
      ASSERT_NE(it, numbers_of_id.end()) << "acknowledged event lost: " << a.stream << " #" << a.number;
      ASSERT_EQ(it->second.size(), 1u) << "event stored more than once: " << a.id;
      EXPECT_EQ(it->second[0], a.number) << a.id;
      ++checked;
    }
    // Numbers are dense from 0: nothing half-written in between.
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["eventNumber"], static_cast<int64_t>(i));
  }
  EXPECT_EQ(checked, acks.size());
  // The restarted server takes writes again.
  auto r = c.Do(Verb::post, "/streams/after-crash",
                json::array({{{"eventId", Uuid::Random().ToString()}, {"eventType", "T"}, {"data", json::object()}}}).dump(),
                {{"Authorization", kAuth}, {"Content-Type", "application/vnd.eventstore.events+json"}});
  EXPECT_EQ(r.result(), HttpStatus::created);
}

TEST(EventStoreCrashTest, SigtermStopsCleanlyAndASecondServerIsRefusedTheFolder) {
  testing::EventStoreProcess proc(DT_EVENTSTORE_BIN);
  uint16_t port = proc.Start();
  http::TestClient c(port);
  ASSERT_EQ(c.Do(Verb::get, "/health/live").result(), HttpStatus::ok);
  {
    // A second server on the same folder must refuse to start, naming the holder.
    std::string cmd = std::string(DT_EVENTSTORE_BIN) + " --db " + proc.folder() + "/data --http-port 0 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, f)) out += buf;
    int status = pclose(f);
    EXPECT_NE(WEXITSTATUS(status), 0) << out;
    EXPECT_NE(out.find("cannot open the store"), std::string::npos) << out;
  }
  EXPECT_EQ(proc.Kill(SIGTERM), 0) << proc.output();
  EXPECT_NE(proc.output().find("stopped cleanly"), std::string::npos) << proc.output();
}

}  // namespace
}  // namespace dt

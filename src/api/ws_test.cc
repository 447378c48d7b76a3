// The real-time channel (GET /ws) end to end: a running App, real WebSocket clients (Beast)
// over real sockets, the read model in SQLite or PostgreSQL (the "pg" cases need
// DT_TEST_PG_URL).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "api/api_test_env.h"
#include "api/ws_hub.h"
#include "api/ws_test_client.h"

namespace dt::api {
namespace {

using namespace std::chrono_literals;
using testing::ApiEnv;
using testing::Client;
using testing::json;
using testing::WsTestClient;
using Clock = std::chrono::steady_clock;

class WsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& mode = GetParam();
    if (mode.find("pg") != std::string::npos && !readmodel::testing::PgUrl()) {
      GTEST_SKIP() << "DT_TEST_PG_URL not set";
    }
    if (mode.rfind("remote", 0) == 0 && !testing::HaveRemoteEventStore()) {
      GTEST_SKIP() << "no dt-eventstore built and no DT_TEST_EVENTSTORE_URL";
    }
    env_ = std::make_unique<ApiEnv>(GetParam());
  }
  void Start() {
    env_->Start();
    alice_ = env_->Login("alice");
    bob_ = env_->Login("bob");
    alice_token_ = Token("alice");
    bob_token_ = Token("bob");
  }
  void TearDown() override {
    alice_.reset();
    bob_.reset();
    env_.reset();
  }
  std::string Token(const std::string& user) {
    Client c(env_->port());
    return c.Post("/api/auth/login", {{"username", user}, {"password", "pw-" + user}})
        .body.value("token", "");
  }
  std::unique_ptr<WsTestClient> Connect(const std::string& token, const std::string& extra = "") {
    auto ws = std::make_unique<WsTestClient>();
    EXPECT_EQ(ws->Connect(env_->port(), "/ws?token=" + token + extra), 101u);
    WaitSubscribers();
    return ws;
  }
  // Subscribers become live once their (short) catch-up is done.
  void WaitSubscribers() {
    for (int i = 0; i < 500; ++i) {
      auto st = env_->app().hub().GetStats();
      if (st.live == st.subscribers) return;
      std::this_thread::sleep_for(2ms);
    }
    ADD_FAILURE() << "subscribers did not go live";
  }
  // Reads `n` messages (each within `each`), as JSON.
  std::vector<json> ReadN(WsTestClient& ws, size_t n, std::chrono::milliseconds each = 5000ms) {
    std::vector<json> out;
    while (out.size() < n) {
      auto m = ws.Read(each);
      if (!m) break;
      out.push_back(json::parse(*m));
    }
    return out;
  }
  std::string NewContact(Client& c, const std::string& name) {
    auto r = c.Post("/api/contacts", {{"name", name}});
    EXPECT_EQ(r.status, 201u) << r.raw;
    return r.body.value("id", "");
  }
  json Tx(const std::string& contact, const std::string& direction, int64_t amount) {
    return {{"contact_id", contact}, {"type", "money"},    {"direction", direction},
            {"amount", amount},      {"currency", "IQD"}, {"transaction_date", "2024-05-01"}};
  }

  std::unique_ptr<ApiEnv> env_;
  std::unique_ptr<Client> alice_, bob_;
  std::string alice_token_, bob_token_;
};

TEST_P(WsTest, BadOrMissingTokenIsRefusedBeforeTheUpgrade) {
  Start();
  WsTestClient none, forged, expired_format;
  EXPECT_EQ(none.Connect(env_->port(), "/ws"), 401u);
  EXPECT_EQ(forged.Connect(env_->port(), "/ws?token=abc.def.ghi"), 401u);
  EXPECT_EQ(expired_format.Connect(env_->port(), "/ws?token="), 401u);
  WsTestClient bad_since;
  EXPECT_EQ(bad_since.Connect(env_->port(), "/ws?token=" + alice_token_ + "&since=soon"), 400u);
  EXPECT_EQ(env_->app().hub().GetStats().subscribers, 0u);
}

TEST_P(WsTest, TwoUsersEachSeeExactlyTheirOwnChangesInOrder) {
  Start();
  auto a1 = Connect(alice_token_);
  auto a2 = Connect(alice_token_);
  auto b1 = Connect(bob_token_);

  std::string ca = NewContact(*alice_, "Omar");
  std::string cb = NewContact(*bob_, "Bilal");
  auto t = alice_->Post("/api/transactions", Tx(ca, "lent", 900));
  ASSERT_EQ(t.status, 201u);
  std::string tid = t.body["id"];
  ASSERT_EQ(bob_->Put("/api/contacts/" + cb, {{"phone", "0770"}}).status, 200u);
  ASSERT_EQ(alice_->Put("/api/contacts/" + ca, {{"name", "Omar K"}}).status, 200u);
  ASSERT_EQ(alice_->Put("/api/transactions/" + tid, {{"amount", 1000}}).status, 200u);
  ASSERT_EQ(alice_->Put("/api/settings/dark_mode", {{"value", "false"}}).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/transactions/" + tid).status, 200u);
  ASSERT_EQ(bob_->Delete("/api/contacts/" + cb).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/contacts/" + ca).status, 200u);

  const std::vector<std::pair<std::string, std::string>> alice_want = {
      {"contact_created", ca},     {"transaction_created", tid}, {"contact_updated", ca},
      {"transaction_updated", tid}, {"transaction_deleted", tid}, {"contact_deleted", ca}};
  const std::vector<std::pair<std::string, std::string>> bob_want = {
      {"contact_created", cb}, {"contact_updated", cb}, {"contact_deleted", cb}};
  for (WsTestClient* ws : {a1.get(), a2.get()}) {
    auto got = ReadN(*ws, alice_want.size());
    ASSERT_EQ(got.size(), alice_want.size());
    int64_t last = -1;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["type"], alice_want[i].first) << got[i].dump();
      EXPECT_EQ(got[i]["data"]["id"], alice_want[i].second);
      int64_t cp = std::stoll(got[i]["checkpoint"].get<std::string>());
      EXPECT_GT(cp, last);
      last = cp;
    }
    EXPECT_EQ(got[0]["data"]["name"], "Omar");
    EXPECT_TRUE(got[0]["data"]["balance"].is_number_integer());
    EXPECT_EQ(got[2]["data"]["name"], "Omar K");
    EXPECT_EQ(got[1]["data"]["amount"], 900);
    EXPECT_EQ(got[3]["data"]["amount"], 1000);
    EXPECT_TRUE(got[5]["data"]["is_deleted"].get<bool>());
    EXPECT_FALSE(ws->Read(300ms)) << "no other messages (bob's, settings)";
  }
  auto got = ReadN(*b1, bob_want.size());
  ASSERT_EQ(got.size(), bob_want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["type"], bob_want[i].first);
    EXPECT_EQ(got[i]["data"]["id"], bob_want[i].second);
  }
  EXPECT_EQ(got[1]["data"]["phone"], "0770");
  EXPECT_FALSE(b1->Read(300ms));

  // Offline sync: the events' own messages, then events_synced.
  std::string cid = Uuid::Random().ToString();
  json batch = json::array({{{"id", Uuid::Random().ToString()},
                             {"aggregate_type", "contact"},
                             {"aggregate_id", cid},
                             {"event_type", "CREATED"},
                             {"event_data", {{"name", "Offline"}}}}});
  ASSERT_EQ(alice_->Post("/api/sync/events", batch).status, 200u);
  auto synced = ReadN(*a1, 2);
  ASSERT_EQ(synced.size(), 2u);
  EXPECT_EQ(synced[0]["type"], "contact_created");
  EXPECT_EQ(synced[0]["data"]["id"], cid);
  EXPECT_EQ(synced[1]["type"], "events_synced");
  EXPECT_EQ(synced[1]["data"]["accepted"], json::array({batch[0]["id"]}));
  EXPECT_TRUE(synced[1]["data"]["id"].is_string());
  EXPECT_FALSE(b1->Read(200ms));

  // A contact's message carries its balance as read when the message was built: after the
  // transaction's own message has arrived, a change of the contact shows it.
  std::string cc = NewContact(*alice_, "Counted");
  ASSERT_EQ(ReadN(*a1, 1).size(), 1u);
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(cc, "owed", 250)).status, 201u);
  ASSERT_EQ(ReadN(*a1, 1).size(), 1u);
  ASSERT_EQ(alice_->Put("/api/contacts/" + cc, {{"notes", "owes nothing"}}).status, 200u);
  auto counted = ReadN(*a1, 1);
  ASSERT_EQ(counted.size(), 1u);
  EXPECT_EQ(counted[0]["type"], "contact_updated");
  EXPECT_EQ(counted[0]["data"]["balance"], -250);
  EXPECT_EQ(counted[0]["data"]["balances"]["IQD"], -250);
}

TEST_P(WsTest, AMessageMeansTheChangeIsVisibleToReads) {
  Start();
  auto ws = Connect(alice_token_);
  // Another client writes; as soon as this one hears of it, a read finds it.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    auto other = env_->Login("alice");
    for (int i = 0; i < 30; ++i) NewContact(*other, std::string("c").append(std::to_string(i)));
    done = true;
  });
  auto reader = env_->Login("alice");
  int seen = 0;
  while (seen < 30) {
    auto m = ws->Read(5000ms);
    ASSERT_TRUE(m);
    json j = json::parse(*m);
    ASSERT_EQ(j["type"], "contact_created");
    auto r = reader->Get("/api/contacts/" + j["data"]["id"].get<std::string>());
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body["name"], j["data"]["name"]);
    ++seen;
  }
  writer.join();
}

TEST_P(WsTest, ReconnectWithSinceLosesNothingAndRepeatsNothing) {
  Start();
  // A writer keeps changing alice's data while a client disconnects and resumes with
  // ?since= from the last checkpoint it saw, several times.
  std::string c = NewContact(*alice_, "Busy");
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    auto w = env_->Login("alice");
    for (int i = 0; !stop && i < 400; ++i) {
      auto r = w->Post("/api/transactions", Tx(c, i % 2 ? "lent" : "owed", 10 + i));
      EXPECT_EQ(r.status, 201u);
      ++writes;
      std::this_thread::sleep_for(2ms);
    }
  });
  std::vector<std::string> received;  // event ids, in arrival order
  std::string checkpoint;
  for (int round = 0; round < 6; ++round) {
    auto ws = std::make_unique<WsTestClient>();
    std::string target = "/ws?token=" + alice_token_;
    if (!checkpoint.empty()) target += "&since=" + checkpoint;
    ASSERT_EQ(ws->Connect(env_->port(), target), 101u);
    auto until = Clock::now() + 150ms;
    while (Clock::now() < until) {
      auto m = ws->Read(50ms);
      if (!m) continue;
      json j = json::parse(*m);
      received.push_back(j["data"]["event_id"]);
      checkpoint = j["checkpoint"];
    }
    ws->Drop();  // vanishes without a close handshake
    std::this_thread::sleep_for(60ms);  // misses some writes
  }
  stop = true;
  writer.join();
  // Catch up on the rest, then everything must be there exactly once, in order.
  auto ws = std::make_unique<WsTestClient>();
  ASSERT_EQ(ws->Connect(env_->port(), "/ws?token=" + alice_token_ + "&since=" + checkpoint), 101u);
  while (auto m = ws->Read(1000ms)) received.push_back(json::parse(*m)["data"]["event_id"]);

  http::TestClient h(env_->port());
  auto res = h.Do(http::Verb::get, "/api/sync/events", "", {{"Authorization", "Bearer " + alice_token_}});
  json all = json::parse(res.body());
  // The first connection had no ?since=: it starts with whatever was applied when it
  // connected; from its first message on, nothing may be missing or repeated.
  ASSERT_FALSE(received.empty());
  std::vector<std::string> want;
  for (const auto& e : all) {
    if (want.empty() && e["id"] != received.front()) continue;
    want.push_back(e["id"]);
  }
  EXPECT_GT(writes.load(), 20);
  EXPECT_EQ(received.size(), want.size());
  EXPECT_EQ(received, want);

  // A timestamp works as ?since= too.
  std::string ts = all[all.size() - 3]["timestamp"];
  WsTestClient by_time;
  ASSERT_EQ(by_time.Connect(env_->port(), "/ws?token=" + alice_token_ + "&since=" + ts), 101u);
  auto replay = ReadN(by_time, 2, 2000ms);
  ASSERT_EQ(replay.size(), 2u);
  EXPECT_EQ(replay[0]["data"]["event_id"], all[all.size() - 2]["id"]);
  EXPECT_EQ(replay[1]["data"]["event_id"], all[all.size() - 1]["id"]);
}

TEST_P(WsTest, AClientThatNeverReadsIsDroppedWithoutDelayingOthers) {
  // A queue small enough to fill quickly, large enough that the reading client is not
  // dropped while the machine is busy and its thread waits for a core.
  env_->config().ws_queue = 64;
  Start();
  std::string c = NewContact(*alice_, "Big");
  // The stuck client's receive buffer is tiny and it never reads.
  WsTestClient stuck;
  ASSERT_EQ(stuck.Connect(env_->port(), "/ws?token=" + alice_token_, 4096), 101u);
  auto fine = Connect(alice_token_);
  auto other = Connect(bob_token_);
  ASSERT_EQ(env_->app().hub().GetStats().subscribers, 3u);

  // Large messages (10 KB notes) fill the stuck client's buffers and then its queue.
  const std::string notes(9900, 'n');
  std::mutex mu;
  std::map<int64_t, Clock::time_point> answered;  // version -> when the write was answered
  std::vector<double> delays_ms;
  std::atomic<bool> writing{true};
  std::atomic<size_t> expected{0};  // set when the writes stop: every update they made
  std::thread reader([&] {
    // On a loaded machine delivery can lag the writes by seconds: read until every update
    // has arrived, or nothing came for 8 s after the writes stopped.
    while (true) {
      auto m = fine->Read(1000ms);
      if (!m) {
        if (fine->closed()) break;
        if (writing) continue;
        size_t got;
        {
          std::lock_guard lock(mu);
          got = delays_ms.size();
        }
        if (got >= expected) break;
        m = fine->Read(7000ms);
        if (!m) break;
      }
      auto now = Clock::now();
      json j = json::parse(*m);
      if (j["type"] != "contact_updated") continue;  // (the creation may come just after connecting)
      std::lock_guard lock(mu);
      auto it = answered.find(j["data"]["version"].get<int64_t>());
      if (it != answered.end()) {
        delays_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      } else {
        delays_ms.push_back(0);  // arrived before the HTTP answer
      }
    }
  });
  const int kWrites = 1500;
  bool dropped_at = false;
  int writes_when_dropped = -1;
  int writes_done = 0;
  for (int i = 1; i <= kWrites; ++i) {
    auto r = alice_->Put("/api/contacts/" + c, {{"notes", notes + std::to_string(i)}});
    ASSERT_EQ(r.status, 200u);
    {
      std::lock_guard lock(mu);
      answered[r.body["version"].get<int64_t>()] = Clock::now();
    }
    writes_done = i;
    if (!dropped_at && env_->app().hub().GetStats().subscribers == 2) {
      dropped_at = true;
      writes_when_dropped = i;
    }
    if (dropped_at && i > writes_when_dropped + 20) break;
  }
  expected = static_cast<size_t>(writes_done);
  writing = false;
  reader.join();
  EXPECT_FALSE(fine->closed()) << "the reading client was dropped too";
  EXPECT_TRUE(dropped_at) << "the client that never reads was not dropped";
  // Bounded: it was dropped after at most its queue plus what the kernel buffers hold.
  EXPECT_LT(writes_when_dropped, 1200);
  auto st = env_->app().hub().GetStats();
  EXPECT_EQ(st.subscribers, 2u);
  // The reading client got every change, promptly, while the other one was stuck.
  size_t total = 0;
  std::vector<double> d;
  {
    std::lock_guard lock(mu);
    total = delays_ms.size();
    d = delays_ms;
  }
  EXPECT_EQ(total, static_cast<size_t>(writes_done));
  std::sort(d.begin(), d.end());
  ASSERT_FALSE(d.empty());
  EXPECT_LT(d[d.size() * 99 / 100], 1000.0) << "p99 delivery delay (ms) to the reading client";
  // Bob saw none of it and is still connected.
  EXPECT_FALSE(other->Read(100ms));
  EXPECT_FALSE(other->closed());
  NewContact(*bob_, "Still here");
  auto m = other->Read(3000ms);
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(*m)["data"]["name"], "Still here");
}

TEST_P(WsTest, IdleConnectionsArePingedAndSilentOnesDropped) {
  env_->config().ws_idle = 800ms;
  Start();
  auto alive = Connect(alice_token_);
  WsTestClient silent;  // never reads, so never answers a ping
  ASSERT_EQ(silent.Connect(env_->port(), "/ws?token=" + alice_token_), 101u);
  WaitSubscribers();
  ASSERT_EQ(env_->app().hub().GetStats().subscribers, 2u);
  // Reading (and so answering pings) for three idle periods keeps a connection open.
  auto until = Clock::now() + 2400ms;
  while (Clock::now() < until) EXPECT_FALSE(alive->Read(100ms));
  EXPECT_FALSE(alive->closed());
  EXPECT_GE(alive->pings(), 2);
  EXPECT_EQ(env_->app().hub().GetStats().subscribers, 1u) << "the silent client is dropped";
  // An application-level ping is answered too.
  alive->Send(R"({"type":"ping"})");
  auto pong = alive->Read(2000ms);
  ASSERT_TRUE(pong);
  EXPECT_EQ(json::parse(*pong)["type"], "pong");
  NewContact(*alice_, "After idling");
  auto m = alive->Read(3000ms);
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(*m)["type"], "contact_created");
}

INSTANTIATE_TEST_SUITE_P(Stores, WsTest, ::testing::Values("sqlite", "pg"),
                         [](const auto& info) { return info.param; });

// Two API instances on one event store (a dt-eventstore process) and one read model: only
// one runs the projector; sockets on the other one are served too.
class WsTwoInstancesTest : public WsTest {};

TEST_P(WsTwoInstancesTest, AnInstanceWhoseProjectorIsOnStandbyDeliversToo) {
  if (!testing::HaveRemoteEventStore()) GTEST_SKIP() << "no dt-eventstore built";
  Start();
  ApiEnv second(*env_, 0);
  second.Start();
  ASSERT_TRUE(env_->app().projector().GetStatus().active);
  ASSERT_FALSE(second.app().projector().GetStatus().active);
  WsTestClient on_standby, on_active;
  ASSERT_EQ(on_standby.Connect(second.port(), "/ws?token=" + alice_token_), 101u);
  ASSERT_EQ(on_active.Connect(env_->port(), "/ws?token=" + alice_token_), 101u);
  std::this_thread::sleep_for(300ms);  // both sockets subscribed
  Client writer(second.port());
  writer.set_token(alice_token_);
  for (int i = 0; i < 5; ++i) NewContact(writer, "Via the standby " + std::to_string(i));
  for (WsTestClient* ws : {&on_standby, &on_active}) {
    auto got = ReadN(*ws, 5, 3000ms);
    ASSERT_EQ(got.size(), 5u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(got[i]["type"], "contact_created");
      EXPECT_EQ(got[i]["data"]["name"], "Via the standby " + std::to_string(i));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RemoteStores, WsTwoInstancesTest,
                         ::testing::Values("remote_sqlite", "remote_pg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dt::api

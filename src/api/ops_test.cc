// GET /metrics and GET /health/ready of dt-server over real sockets: request metrics by
// route, projection lag in events and seconds, readiness failing while the read model is
// far behind or the event store cannot be read, and recovering when it catches up.
#include <gtest/gtest.h>

#include <thread>

#include "api/api_test_env.h"
#include "common/uuid.h"

namespace dt::api {
namespace {

using testing::ApiEnv;
using testing::Client;

void AppendTestEvents(App& app, int n) {
  for (int i = 0; i < n; ++i) {
    std::vector<client::ProposedEvent> batch;
    batch.push_back({Uuid::Random(), "OpsTestEvent", "{\"i\":" + std::to_string(i) + "}", ""});
    auto r = app.events().Append("opstest-" + Uuid::Random().ToString(), client::kAny, std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// Polls /health/ready until it answers `status` (the lag is cached for a second).
testing::Reply WaitReady(Client& c, unsigned status) {
  testing::Reply r;
  for (int i = 0; i < 100; ++i) {
    r = c.Get("/health/ready");
    if (r.status == status) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

TEST(OpsEndpointsTest, MetricsCountRequestsByRouteAndShowTheProjection) {
  ApiEnv env("sqlite");
  env.Start();
  auto alice = env.Login("alice");
  auto created = alice->Post("/api/contacts", {{"name", "Metrics"}});
  ASSERT_EQ(created.status, 201u) << created.raw;
  std::string id = created.body["id"];
  EXPECT_EQ(alice->Get("/api/contacts/" + id).status, 200u);
  EXPECT_EQ(alice->Get("/api/contacts/" + id).status, 200u);
  EXPECT_EQ(alice->Get("/api/contacts/" + Uuid::Random().ToString()).status, 404u);
  EXPECT_EQ(alice->Get("/no/such/route").status, 404u);

  Client plain(env.port());
  auto m = plain.Get("/metrics");
  ASSERT_EQ(m.status, 200u);
  const std::string& t = m.raw;
  EXPECT_NE(t.find("http_requests_total{method=\"GET\",route=\"/api/contacts/{id}\",code=\"200\"} 2"),
            std::string::npos) << t;
  EXPECT_NE(t.find("http_requests_total{method=\"GET\",route=\"/api/contacts/{id}\",code=\"404\"} 1"),
            std::string::npos) << t;
  EXPECT_NE(t.find("http_requests_total{method=\"POST\",route=\"/api/contacts\",code=\"201\"} 1"),
            std::string::npos) << t;
  EXPECT_NE(t.find("http_requests_total{method=\"GET\",route=\"(unmatched)\",code=\"404\"} 1"),
            std::string::npos) << t;
  EXPECT_NE(t.find("http_request_duration_seconds_count{method=\"POST\",route=\"/api/contacts\"} 1"),
            std::string::npos) << t;
  EXPECT_NE(t.find("http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/contacts/{id}\",le=\"+Inf\"} 3"),
            std::string::npos) << t;
  EXPECT_NE(t.find("\nhttp_websocket_connections_active 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_event_store_up 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_projection_lag_events 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_projection_lag_seconds 0\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_projector_active 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_projection_rebuild_running 0\n"), std::string::npos) << t;
  // The user and the contact are applied: at least the contact's event.
  EXPECT_EQ(t.find("\ndt_projection_events_applied_total 0\n"), std::string::npos) << t;

  auto ready = plain.Get("/health/ready");
  EXPECT_EQ(ready.status, 200u) << ready.raw;
  EXPECT_EQ(ready.body["ready"], true);
  EXPECT_EQ(ready.body["projection"]["lag_events"], 0);
}

// Events no store can take as they are (written straight to the event store) do not stop
// the projector: they are counted in /metrics and in the projection status.
TEST(OpsEndpointsTest, UnreadableAndRepairedEventsAreCounted) {
  ApiEnv env("sqlite");
  env.Start();
  auto alice = env.Login("alice");
  auto append = [&](const std::string& stream, const std::string& data) {
    std::vector<client::ProposedEvent> batch;
    batch.push_back({Uuid::Random(), "ContactCreated", data, ""});
    auto r = env.app().events().Append(stream, client::kAny, std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  append("contact-unreadable", "not json");
  append("contact-nul", R"({"user_id":"u","contact":{"id":"nul","user_id":"u","name":"a\u0000b"}})");
  // Read-your-writes: answered once the projector is past both events.
  ASSERT_EQ(alice->Post("/api/contacts", {{"name", "After"}}).status, 201u);
  Client plain(env.port());
  std::string t;
  for (int i = 0; i < 50; ++i) {  // the projection figures are cached for a second
    t = plain.Get("/metrics").raw;
    if (t.find("\ndt_projection_events_skipped_total 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(t.find("\ndt_projection_events_skipped_total 1\n"), std::string::npos) << t;
  EXPECT_NE(t.find("\ndt_projection_events_repaired_total 1\n"), std::string::npos) << t;
  auto status = alice->Get("/api/admin/projections/status");
  ASSERT_EQ(status.status, 200u) << status.raw;
  EXPECT_EQ(status.body["events_skipped"], 1);
  EXPECT_EQ(status.body["events_repaired"], 1);
  EXPECT_EQ(status.body["last_error"], "");
}

TEST(OpsEndpointsTest, ReadinessFailsWhileTheReadModelIsManyEventsBehind) {
  ApiEnv env("sqlite");
  env.config().ready_max_lag_events = 3;
  env.Start();
  Client c(env.port());
  EXPECT_EQ(WaitReady(c, 200).status, 200u);

  env.app().projector().Stop();
  AppendTestEvents(env.app(), 5);
  auto r = WaitReady(c, 503);
  ASSERT_EQ(r.status, 503u) << r.raw;
  EXPECT_EQ(r.body["ready"], false);
  EXPECT_NE(r.body["error"].get<std::string>().find("5 events behind"), std::string::npos) << r.raw;
  EXPECT_EQ(r.body["projection"]["lag_events"], 5);
  EXPECT_EQ(c.Get("/health").status, 200u);  // alive all the same
  auto m = c.Get("/metrics");
  EXPECT_NE(m.raw.find("\ndt_projection_lag_events 5\n"), std::string::npos) << m.raw;

  env.app().projector().Start();
  r = WaitReady(c, 200);
  EXPECT_EQ(r.status, 200u) << r.raw;
  EXPECT_EQ(r.body["projection"]["lag_events"], 0);
}

TEST(OpsEndpointsTest, ReadinessFailsWhenTheOldestUnappliedEventIsTooOld) {
  ApiEnv env("sqlite");
  env.config().ready_max_lag_seconds = 0.5;
  env.Start();
  Client c(env.port());
  EXPECT_EQ(WaitReady(c, 200).status, 200u);
  env.app().projector().Stop();
  AppendTestEvents(env.app(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto r = WaitReady(c, 503);
  ASSERT_EQ(r.status, 503u) << r.raw;
  EXPECT_NE(r.body["error"].get<std::string>().find("s old"), std::string::npos) << r.raw;
  EXPECT_GE(r.body["projection"]["lag_seconds"].get<double>(), 1.0);
  env.app().projector().Start();
  EXPECT_EQ(WaitReady(c, 200).status, 200u);
}

TEST(OpsEndpointsTest, ReadinessFailsWhenTheEventStoreCannotBeRead) {
  // A port nothing listens on: bind one, note it, close it.
  uint16_t dead_port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    dead_port = a.local_endpoint().port();
  }
  ApiEnv env("sqlite");
  env.config().eventstore_url = "http://127.0.0.1:" + std::to_string(dead_port);
  env.config().bootstrap_users = "";
  env.Start();
  Client c(env.port());
  EXPECT_EQ(c.Get("/health").status, 200u);
  auto r = c.Get("/health/ready");
  ASSERT_EQ(r.status, 503u) << r.raw;
  EXPECT_NE(r.body["error"].get<std::string>().find("event store"), std::string::npos) << r.raw;
  auto m = c.Get("/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_NE(m.raw.find("\ndt_event_store_up 0\n"), std::string::npos) << m.raw;
}

}  // namespace
}  // namespace dt::api

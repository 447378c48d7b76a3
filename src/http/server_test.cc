// The HTTP plumbing over real sockets: keep-alive, limits, timeouts, async and blocking
// handlers, connection bound, metrics, WebSocket and graceful stop.
#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <thread>

#include "http/access_log.h"
#include "http/metrics.h"
#include "http/test_client.h"
#include "http/websocket.h"

namespace dt::http {
namespace {

using namespace std::chrono_literals;
namespace websocket = boost::beast::websocket;

struct Fixture {
  std::atomic<int> blocking_calls{0};
  std::atomic<int> slow_started{0};
  std::promise<void> release_slow;
  std::shared_future<void> slow_released = release_slow.get_future().share();
  std::vector<std::shared_ptr<WebSocket>> sockets;
  std::mutex sockets_mu;
  Registry metrics;
  // /burst: replies held until `burst_size` requests wait, then answered together by a
  // thread of their own (as a group commit or a projector batch releases many at once).
  std::mutex burst_mu;
  size_t burst_size = 1;
  std::vector<std::pair<std::string, Reply>> burst;

  Router MakeRouter() {
    return Router({
        {Verb::get, "/hello", Handler([](const Exchange&) {
           return MakeResponse(HttpStatus::ok, "hello");
         })},
        {Verb::post, "/echo", Handler([](const Exchange& ex) {
           return MakeResponse(HttpStatus::ok, ex.request.body());
         })},
        {Verb::get, "/big", Handler([](const Exchange&) {
           return MakeResponse(HttpStatus::ok, std::string(64u << 20, 'b'));
         })},
        {Verb::get, "/own-headers", Handler([](const Exchange&) {
           Response r = MakeResponse(HttpStatus::ok, "own");
           r.set("Access-Control-Allow-Origin", "handler");
           r.set(bhttp::field::server, "handler");
           r.set("X-Kept", "yes");
           return r;
         })},
        {Verb::get, "/chunked", Handler([](const Exchange&) {
           Response r = MakeResponse(HttpStatus::ok, "in chunks");
           r.chunked(true);
           return r;
         })},
        {Verb::get, "/id", Handler([](const Exchange& ex) {
           return MakeResponse(HttpStatus::ok, ex.request_id);
         })},
        {Verb::get, "/timer", AsyncHandler([](Exchange ex, Reply reply) {
           auto t = std::make_shared<boost::asio::steady_timer>(ex.executor, 50ms);
           t->async_wait([t, reply](auto) { reply(MakeResponse(HttpStatus::ok, "timer")); });
         })},
        {Verb::get, "/slow", AsyncHandler([this](Exchange, Reply reply) {
           ++slow_started;
           std::thread([this, reply] {
             slow_released.wait();
             reply(MakeResponse(HttpStatus::ok, "slow done"));
           }).detach();
         })},
        {Verb::get, "/burst", AsyncHandler([this](Exchange ex, Reply reply) {
           std::vector<std::pair<std::string, Reply>> ready;
           {
             std::lock_guard lock(burst_mu);
             burst.emplace_back(ex.Query("n").value_or(""), std::move(reply));
             if (burst.size() < burst_size) return;
             ready.swap(burst);
           }
           std::thread([ready = std::move(ready)] {
             for (const auto& [n, r] : ready) r(MakeResponse(HttpStatus::ok, "burst " + n));
           }).detach();
         })},
        {Verb::get, "/blocking", Handler([this](const Exchange&) {
           ++blocking_calls;
           std::this_thread::sleep_for(200ms);  // long enough for the other requests to queue up
           return MakeResponse(HttpStatus::ok, "blocked");
         }), Run::kBlocking},
        {Verb::get, "/ws", WebSocketHandler([this](const Exchange& ex, const std::shared_ptr<WebSocket>& ws)
                                               -> std::optional<Response> {
           if (ex.Query("token") != "ok") return ErrorResponse(HttpStatus::unauthorized, "no token");
           std::weak_ptr<WebSocket> weak = ws;
           ws->on_message = [weak](std::string text) {
             if (auto s = weak.lock()) s->Send("echo:" + text);
           };
           std::lock_guard lock(sockets_mu);
           sockets.push_back(ws);
           return std::nullopt;
         })},
    });
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    o.metrics = &f_.metrics;
    o.access_log = false;
    router_ = std::make_unique<Router>(f_.MakeRouter());
    server_ = std::make_unique<Server>(o, *router_);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    try {
      f_.release_slow.set_value();
    } catch (...) {
    }
    if (server_) server_->Stop();
  }
  Fixture f_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, ServesManyRequestsOnOneKeptAliveConnection) {
  StartServer();
  TestClient c(port_);
  for (int i = 0; i < 50; ++i) {
    Response r = c.Do(Verb::get, "/hello");
    ASSERT_EQ(r.result(), HttpStatus::ok);
    ASSERT_EQ(r.body(), "hello");
    ASSERT_TRUE(r.keep_alive());
  }
  EXPECT_EQ(server_->active_connections(), 1u);
  EXPECT_EQ(c.Do(Verb::post, "/echo", "payload").body(), "payload");
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestClient c(port_);
  c.WriteRaw("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 3\r\n\r\nabcGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string out = c.ReadRaw(2s);
  size_t a = out.find("hello"), b = out.find("\r\n\r\nabc"), n = out.find("404");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(n, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, n);
}

TEST_F(ServerTest, RequestIdIsEchoedOrGenerated) {
  StartServer();
  TestClient c(port_);
  Response mine = c.Do(Verb::get, "/id", {}, {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(mine.body(), "abc-123");
  EXPECT_EQ(mine["X-Request-Id"], "abc-123");
  Response gen1 = c.Do(Verb::get, "/id");
  Response gen2 = c.Do(Verb::get, "/id");
  EXPECT_FALSE(gen1.body().empty());
  EXPECT_NE(gen1.body(), gen2.body());
  EXPECT_EQ(gen1["X-Request-Id"], gen1.body());
}

TEST_F(ServerTest, ConstantHeadersAreOnEveryResponseAndReplaceTheHandlers) {
  ServerOptions o;
  o.server_name = "test-server";
  o.headers = {{"Access-Control-Allow-Origin", "*"}, {"X-Constant", "1"}};
  StartServer(o);
  TestClient c(port_);
  auto count = [](const Response& r, boost::beast::string_view name) {
    return std::distance(r.equal_range(name).first, r.equal_range(name).second);
  };
  for (const char* target : {"/hello", "/own-headers", "/chunked", "/nope"}) {
    SCOPED_TRACE(target);
    Response r = c.Do(Verb::get, target);
    EXPECT_EQ(count(r, "Access-Control-Allow-Origin"), 1);
    EXPECT_EQ(r["Access-Control-Allow-Origin"], "*");
    EXPECT_EQ(r["X-Constant"], "1");
    EXPECT_EQ(count(r, "Server"), 1);
    EXPECT_EQ(r[bhttp::field::server], "test-server");
    EXPECT_EQ(count(r, "X-Request-Id"), 1);
    EXPECT_FALSE(r["X-Request-Id"].empty());
  }
  Response own = c.Do(Verb::get, "/own-headers");
  EXPECT_EQ(own["X-Kept"], "yes");
  EXPECT_EQ(own.body(), "own");
  EXPECT_EQ(c.Do(Verb::get, "/chunked").body(), "in chunks");
  Response head = c.Do(Verb::head, "/hello");
  EXPECT_EQ(head["X-Constant"], "1");
  EXPECT_EQ(head[bhttp::field::content_length], "5");
}

TEST_F(ServerTest, ClientThatDoesNotReadTheResponseIsDroppedAfterTheWriteTimeout) {
  ServerOptions o;
  o.write_timeout = 300ms;
  StartServer(o);
  TestClient stuck(port_);
  stuck.WriteRaw("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");  // and never reads
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server_->active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(server_->active_connections(), 0u);
  TestClient other(port_);
  EXPECT_EQ(other.Do(Verb::get, "/hello").body(), "hello");
}

TEST_F(ServerTest, OversizedBodyIs413AndConnectionCloses) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  StartServer(o);
  TestClient c(port_);
  Response r = c.Do(Verb::post, "/echo", std::string(1001, 'x'));
  EXPECT_EQ(r.result(), HttpStatus::payload_too_large);
  EXPECT_FALSE(r.keep_alive());
  TestClient c2(port_);
  EXPECT_EQ(c2.Do(Verb::post, "/echo", std::string(1000, 'y')).result(), HttpStatus::ok);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  ServerOptions o;
  o.max_body_bytes = 10;
  StartServer(o);
  TestClient c(port_);
  c.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  EXPECT_NE(c.ReadRaw(2s).find("HTTP/1.1 413"), std::string::npos);
}

TEST_F(ServerTest, OversizedHeadersAre431) {
  ServerOptions o;
  o.max_header_bytes = 1024;
  StartServer(o);
  TestClient c(port_);
  Response r = c.Do(Verb::get, "/hello", {}, {{"X-Big", std::string(2000, 'a')}});
  EXPECT_EQ(r.result(), HttpStatus::request_header_fields_too_large);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  StartServer();
  TestClient c(port_);
  c.WriteRaw("GARBAGE\r\n\r\n");
  EXPECT_NE(c.ReadRaw(2s).find("HTTP/1.1 400"), std::string::npos);
  TestClient c2(port_);
  c2.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_NE(c2.ReadRaw(2s).find("HTTP/1.1 400"), std::string::npos);
}

TEST_F(ServerTest, SlowRequestGets408AndIdleConnectionIsClosedQuietly) {
  ServerOptions o;
  o.idle_timeout = 300ms;
  o.read_timeout = 300ms;
  StartServer(o);
  TestClient slow(port_);
  slow.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-part");
  std::string out = slow.ReadRaw(3s);
  EXPECT_NE(out.find("HTTP/1.1 408"), std::string::npos) << out;

  TestClient headers_trickle(port_);
  headers_trickle.WriteRaw("GET /hello HTTP/1.1\r\nHo");
  EXPECT_NE(headers_trickle.ReadRaw(3s).find("HTTP/1.1 408"), std::string::npos);

  TestClient idle(port_);
  idle.Connect();
  EXPECT_EQ(idle.ReadRaw(3s), "");  // closed without a response
  // And the server still serves.
  TestClient ok(port_);
  EXPECT_EQ(ok.Do(Verb::get, "/hello").body(), "hello");
}

TEST_F(ServerTest, TruncatedBodyIsRejectedAndServerKeepsServing) {
  StartServer();
  TestClient c(port_);
  c.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort");
  c.ShutdownWrite();
  std::string out = c.ReadRaw(2s);
  EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
  TestClient ok(port_);
  EXPECT_EQ(ok.Do(Verb::get, "/hello").body(), "hello");
}

TEST_F(ServerTest, ExpectContinueIsHonoured) {
  StartServer();
  TestClient c(port_);
  c.WriteRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(c.ReadRaw(300ms).find("HTTP/1.1 100 Continue"), std::string::npos);
  c.WriteRaw("body");
  std::string out = c.ReadRaw(500ms);
  EXPECT_NE(out.find("200 OK"), std::string::npos);
  EXPECT_NE(out.find("body"), std::string::npos);
}

TEST_F(ServerTest, HeadHasNoBodyButTheLength) {
  StartServer();
  TestClient c(port_);
  c.WriteRaw("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string out = c.ReadRaw(2s);
  EXPECT_NE(out.find("Content-Length: 5"), std::string::npos);
  EXPECT_EQ(out.find("hello"), std::string::npos);
}

TEST_F(ServerTest, AsyncHandlersAnswerLaterWithoutBlockingOthers) {
  StartServer();
  auto slow = std::async(std::launch::async, [&] {
    TestClient c(port_);
    return c.Do(Verb::get, "/slow").body();
  });
  std::this_thread::sleep_for(50ms);
  TestClient c(port_);
  EXPECT_EQ(c.Do(Verb::get, "/timer").body(), "timer");
  EXPECT_EQ(c.Do(Verb::get, "/hello").body(), "hello");
  f_.release_slow.set_value();
  EXPECT_EQ(slow.get(), "slow done");
}

TEST_F(ServerTest, RepliesFromAnotherThreadInBurstsReachTheirOwnConnections) {
  // Replies made outside the I/O threads are queued and written together: each must still
  // reach the connection that asked, in order on that connection, round after round.
  f_.burst_size = 8;
  StartServer();
  std::vector<std::future<std::string>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async, [this, i] {
      TestClient c(port_);
      std::string problems;
      for (int round = 0; round < 25; ++round) {
        std::string n = std::to_string(i) + "-" + std::to_string(round);
        auto r = c.Do(Verb::get, "/burst?n=" + n);
        if (r.result_int() != 200 || r.body() != "burst " + n) {
          problems += n + ": " + std::to_string(r.result_int()) + " " + r.body() + "\n";
        }
      }
      return problems;
    }));
  }
  for (auto& c : clients) EXPECT_EQ(c.get(), "");
}

TEST_F(ServerTest, BlockingHandlersRunOnThePoolAndAFullQueueIs503) {
  ServerOptions o;
  o.worker_threads = 1;
  o.worker_queue = 1;
  StartServer(o);
  std::vector<std::future<unsigned>> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      TestClient c(port_);
      return c.Do(Verb::get, "/blocking").result_int();
    }));
  }
  int ok = 0, busy = 0;
  for (auto& f : calls) {
    unsigned s = f.get();
    if (s == 200) ++ok;
    if (s == 503) ++busy;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(ok + busy, 6);
  EXPECT_EQ(f_.blocking_calls.load(), ok);
}

TEST_F(ServerTest, ConnectionsBeyondTheBoundAreRefusedWith503) {
  ServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  TestClient a(port_), b(port_);
  ASSERT_EQ(a.Do(Verb::get, "/hello").result(), HttpStatus::ok);
  ASSERT_EQ(b.Do(Verb::get, "/hello").result(), HttpStatus::ok);
  TestClient c(port_);
  c.Connect();
  EXPECT_NE(c.ReadRaw(2s).find("503"), std::string::npos);
  a.WriteRaw("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  a.ReadRaw(1s);
  for (int i = 0; i < 50 && server_->active_connections() > 1; ++i) std::this_thread::sleep_for(10ms);
  TestClient d(port_);
  EXPECT_EQ(d.Do(Verb::get, "/hello").result(), HttpStatus::ok);
}

TEST_F(ServerTest, MetricsCountRequestsByStatus) {
  StartServer();
  TestClient c(port_);
  c.Do(Verb::get, "/hello");
  c.Do(Verb::get, "/hello");
  c.Do(Verb::get, "/missing");
  std::string text = f_.metrics.Render();
  EXPECT_NE(text.find("http_requests_total{code=\"200\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("http_requests_total{code=\"404\"} 1"), std::string::npos);
  EXPECT_NE(text.find("http_connections_active 1"), std::string::npos);
  EXPECT_NE(text.find("http_request_duration_seconds_count 3"), std::string::npos);
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequests) {
  StartServer();
  auto slow = std::async(std::launch::async, [&] {
    TestClient c(port_);
    return c.Do(Verb::get, "/slow");
  });
  TestClient idle(port_);
  ASSERT_EQ(idle.Do(Verb::get, "/hello").result(), HttpStatus::ok);
  for (int i = 0; i < 100 && f_.slow_started == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(f_.slow_started, 1);
  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(idle.ServerClosed(1s));  // the idle connection is closed at once
  f_.release_slow.set_value();
  Response r = slow.get();
  EXPECT_EQ(r.body(), "slow done");
  EXPECT_FALSE(r.keep_alive());
  stopped.get();
  TestClient after(port_);
  EXPECT_THROW(after.Connect(), boost::system::system_error);
}

// ---------------------------------------------------------------------------- WebSocket

struct WsClient {
  boost::asio::io_context io;
  websocket::stream<boost::asio::ip::tcp::socket> ws{io};
  void Connect(uint16_t port, const std::string& target) {
    ws.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    ws.handshake("127.0.0.1", target);
  }
  std::string Read() {
    boost::beast::flat_buffer b;
    ws.read(b);
    return boost::beast::buffers_to_string(b.data());
  }
};

TEST_F(ServerTest, WebSocketUpgradeEchoesTextAndServerPushes) {
  StartServer();
  WsClient c;
  c.Connect(port_, "/ws?token=ok");
  c.ws.text(true);
  c.ws.write(boost::asio::buffer(std::string("hi")));
  EXPECT_EQ(c.Read(), "echo:hi");
  {
    std::lock_guard lock(f_.sockets_mu);
    ASSERT_EQ(f_.sockets.size(), 1u);
    EXPECT_TRUE(f_.sockets[0]->Send("{\"type\":\"pushed\"}"));
  }
  EXPECT_EQ(c.Read(), "{\"type\":\"pushed\"}");
}

TEST_F(ServerTest, WebSocketUpgradeCanBeRefused) {
  StartServer();
  WsClient c;
  EXPECT_THROW(c.Connect(port_, "/ws?token=bad"), boost::system::system_error);
  TestClient plain(port_);
  EXPECT_EQ(plain.Do(Verb::get, "/ws").result(), HttpStatus::upgrade_required);
}

TEST_F(ServerTest, WebSocketClientThatStopsReadingIsDroppedAndOthersStillServed) {
  ServerOptions o;
  o.websocket.max_queued_messages = 8;
  StartServer(o);
  WsClient stuck, fine;
  stuck.Connect(port_, "/ws?token=ok");
  fine.Connect(port_, "/ws?token=ok");
  std::shared_ptr<WebSocket> stuck_ws, fine_ws;
  {
    std::lock_guard lock(f_.sockets_mu);
    ASSERT_EQ(f_.sockets.size(), 2u);
    stuck_ws = f_.sockets[0];
    fine_ws = f_.sockets[1];
  }
  // The stuck client never reads: its socket buffers fill, then its queue, then it is dropped.
  std::string big(256 << 10, 'x');
  for (int i = 0; i < 400 && !stuck_ws->closed(); ++i) {
    stuck_ws->Send(big);
    if (i % 20 == 0) {
      ASSERT_TRUE(fine_ws->Send("tick"));
      ASSERT_EQ(fine.Read(), "tick");
    }
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_TRUE(stuck_ws->closed());
  EXPECT_FALSE(stuck_ws->Send("more"));
  EXPECT_TRUE(fine_ws->Send("still here"));
  EXPECT_EQ(fine.Read(), "still here");
}

TEST_F(ServerTest, WebSocketAnswersPingsAndServerClosesCleanlyOnStop) {
  StartServer();
  WsClient c;
  c.Connect(port_, "/ws?token=ok");
  bool got_pong = false;
  c.ws.control_callback([&](websocket::frame_type kind, boost::beast::string_view) {
    if (kind == websocket::frame_type::pong) got_pong = true;
  });
  c.ws.ping({});
  std::this_thread::sleep_for(50ms);  // the pong is on its way before the next message
  {
    std::lock_guard lock(f_.sockets_mu);
    ASSERT_EQ(f_.sockets.size(), 1u);
    f_.sockets[0]->Send("after ping");
  }
  EXPECT_EQ(c.Read(), "after ping");
  EXPECT_TRUE(got_pong);
  auto stop = std::async(std::launch::async, [&] { server_->Stop(); });
  boost::beast::flat_buffer b;
  boost::system::error_code ec;
  c.ws.read(b, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws.reason().code, websocket::close_code::going_away);
  stop.get();
}

// ---------------------------------------------------------------------------- route metrics

TEST_F(ServerTest, RouteMetricsLabelRequestsByMethodRouteAndStatus) {
  ServerOptions o;
  o.route_metrics = true;
  StartServer(o);
  TestClient c(port_);
  c.Do(Verb::get, "/hello");
  c.Do(Verb::get, "/hello");
  c.Do(Verb::post, "/echo", "x");
  c.Do(Verb::get, "/no/such/path");
  c.Do(Verb::get, "/another/missing");
  std::string text = f_.metrics.Render();
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"/hello\",code=\"200\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_requests_total{method=\"POST\",route=\"/echo\",code=\"200\"} 1"),
            std::string::npos) << text;
  // Unknown paths share one label value (no unbounded label cardinality).
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"(unmatched)\",code=\"404\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_count{method=\"GET\",route=\"/hello\"} 2"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_bucket{method=\"POST\",route=\"/echo\",le=\"+Inf\"} 1"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("http_requests_total{code="), std::string::npos) << text;
}

TEST_F(ServerTest, RouteMetricsStayRightWhenAConnectionChangesRouteOrStatus) {
  // A connection counts a request of the same route and status as its last one directly;
  // any change of route, method or status must still land under its own labels.
  ServerOptions o;
  o.route_metrics = true;
  StartServer(o);
  TestClient c(port_);
  c.Do(Verb::get, "/hello");
  c.Do(Verb::get, "/hello");
  c.Do(Verb::post, "/echo", "x");
  c.Do(Verb::get, "/hello");
  c.Do(Verb::get, "/missing");
  c.Do(Verb::get, "/hello");
  c.Do(Verb::post, "/hello");  // 405 on a known path
  c.Do(Verb::get, "/hello");
  TestClient other(port_);
  other.Do(Verb::get, "/hello");
  std::string text = f_.metrics.Render();
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"/hello\",code=\"200\"} 6"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_count{method=\"GET\",route=\"/hello\"} 6"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_requests_total{method=\"POST\",route=\"/echo\",code=\"200\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_requests_total{method=\"GET\",route=\"(unmatched)\",code=\"404\"} 1"),
            std::string::npos) << text;
  EXPECT_NE(text.find("http_requests_total{method=\"POST\",route=\"(unmatched)\",code=\"405\"} 1"),
            std::string::npos) << text;
}

TEST_F(ServerTest, WebSocketGaugeCountsOpenSockets) {
  StartServer();
  auto gauge = [&] {
    std::string text = f_.metrics.Render();
    std::string key = "\nhttp_websocket_connections_active ";
    size_t at = text.find(key);
    return at == std::string::npos ? std::string("missing") : text.substr(at + key.size(), 1);
  };
  EXPECT_EQ(gauge(), "0");
  {
    WsClient a, b;
    a.Connect(port_, "/ws?token=ok");
    b.Connect(port_, "/ws?token=ok");
    a.ws.text(true);
    a.ws.write(boost::asio::buffer(std::string("hi")));
    EXPECT_EQ(a.Read(), "echo:hi");
    EXPECT_EQ(gauge(), "2");
    a.ws.close(websocket::close_code::normal);
    for (int i = 0; i < 200 && gauge() != "1"; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(gauge(), "1");
  }
  for (int i = 0; i < 200 && gauge() != "0"; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(gauge(), "0");
}

TEST(AccessLog, SecretQueryParametersAreRedacted) {
  EXPECT_EQ(RedactTarget("/ws?token=abc.def"), "/ws?token=***");
  EXPECT_EQ(RedactTarget("/api/sync/events?since=5&token=x&limit=2"),
            "/api/sync/events?since=5&token=***&limit=2");
  EXPECT_EQ(RedactTarget("/a?password=p&access_token=t"), "/a?password=***&access_token=***");
  EXPECT_EQ(RedactTarget("/streams/x?embed=body"), "/streams/x?embed=body");
  EXPECT_EQ(RedactTarget("/plain"), "/plain");
  EXPECT_EQ(RedactTarget("/q?tokenish=1&token"), "/q?tokenish=1&token");
}

}  // namespace
}  // namespace dt::http

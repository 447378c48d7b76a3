// Bad input: every row is answered with a clear 4xx, writes nothing, and the server keeps
// serving. Over real sockets against the real engine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store_http/test_server.h"

namespace dt::store_http {
namespace {

using http::HttpStatus;
using http::Verb;
using namespace std::chrono_literals;

struct Row {
  const char* name;
  Verb method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  unsigned status;
  const char* reason_contains = "";
};

const std::string kId = "fbf4a1a1-b4a3-4dfe-a01f-ec52c34e16e4";

std::vector<Row> Rows() {
  auto events = [](std::string body) { return body; };
  std::vector<std::pair<std::string, std::string>> ej = {{"Content-Type", kEventsJson}};
  std::vector<std::pair<std::string, std::string>> sj = {{"Content-Type", "application/json"},
                                                         {"ES-EventType", "T"}, {"ES-EventId", kId}};
  return {
      {"malformed JSON batch", Verb::post, "/streams/s", ej, events("[{\"eventId\":"), 400, "malformed JSON"},
      {"batch not an array", Verb::post, "/streams/s", ej, R"({"eventId":"x"})", 400, "array"},
      {"empty batch", Verb::post, "/streams/s", ej, "[]", 400, "no events"},
      {"event not an object", Verb::post, "/streams/s", ej, "[1]", 400, "not an object"},
      {"missing eventId", Verb::post, "/streams/s", ej, R"([{"eventType":"T","data":{}}])", 400, "eventId"},
      {"invalid eventId", Verb::post, "/streams/s", ej, R"([{"eventId":"not-a-uuid","eventType":"T"}])", 400, "UUID"},
      {"nil eventId", Verb::post, "/streams/s", ej,
       R"([{"eventId":"00000000-0000-0000-0000-000000000000","eventType":"T"}])", 400, "UUID"},
      {"missing eventType", Verb::post, "/streams/s", ej, "[{\"eventId\":\"" + kId + "\"}]", 400, "eventType"},
      {"empty eventType", Verb::post, "/streams/s", ej, "[{\"eventId\":\"" + kId + "\",\"eventType\":\"\"}]", 400, "eventType"},
      {"second event bad", Verb::post, "/streams/s", ej,
       "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\"},{\"eventType\":\"T\"}]", 400, "event 1"},
      {"malformed single JSON", Verb::post, "/streams/s", sj, "{nope", 400, "malformed JSON"},
      {"bad ES-EventId", Verb::post, "/streams/s",
       {{"Content-Type", "application/json"}, {"ES-EventType", "T"}, {"ES-EventId", "123"}}, "{}", 400, "EventId"},
      {"no content type", Verb::post, "/streams/s", {}, "{}", 415, "Unsupported Media Type"},
      {"text/plain", Verb::post, "/streams/s", {{"Content-Type", "text/plain"}}, "hello", 415, "Unsupported"},
      {"xml", Verb::post, "/streams/s", {{"Content-Type", "application/vnd.eventstore.events+xml"}}, "<a/>", 415, "XML"},
      {"expected version text", Verb::post, "/streams/s",
       {{"Content-Type", kEventsJson}, {"ES-ExpectedVersion", "abc"}},
       "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\"}]", 400, "ExpectedVersion"},
      {"expected version -3", Verb::post, "/streams/s",
       {{"Content-Type", kEventsJson}, {"ES-ExpectedVersion", "-3"}},
       "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\"}]", 400, "ExpectedVersion"},
      {"expected version overflow", Verb::post, "/streams/s",
       {{"Content-Type", kEventsJson}, {"ES-ExpectedVersion", "99999999999999999999"}},
       "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\"}]", 400, "ExpectedVersion"},
      {"write to $all", Verb::post, "/streams/%24all", ej, "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\"}]", 400, "$all"},
      {"bad incoming id", Verb::post, "/streams/s/incoming/zzz", sj, "{}", 400, "UUID"},
      {"bad event number", Verb::get, "/streams/s/abc", {}, "", 400, "event number"},
      {"negative count", Verb::get, "/streams/s/0/forward/-1", {}, "", 400, "count"},
      {"zero count", Verb::get, "/streams/s/0/forward/0", {}, "", 400, "count"},
      {"huge count", Verb::get, "/streams/s/0/forward/100000", {}, "", 400, "count"},
      {"bad direction", Verb::get, "/streams/s/0/sideways/10", {}, "", 404, ""},
      {"forward from head", Verb::get, "/streams/s/head/forward/10", {}, "", 400, "head"},
      {"bad $all position", Verb::get, "/streams/%24all/12/forward/10", {}, "", 400, "position"},
      {"bad long poll", Verb::get, "/streams/s/0/forward/10", {{"ES-LongPoll", "soon"}}, "", 400, "LongPoll"},
      {"bad hard delete", Verb::delete_, "/streams/s", {{"ES-HardDelete", "maybe"}}, "", 400, "HardDelete"},
      {"bad delete version", Verb::delete_, "/streams/s", {{"ES-ExpectedVersion", "x"}}, "", 400, "ExpectedVersion"},
      {"metadata not an object", Verb::post, "/streams/s/metadata", {{"Content-Type", "application/json"}}, "[1]", 400, "object"},
      {"bad path escape", Verb::get, "/streams/%zz", {}, "", 400, "escape"},
      {"unknown route", Verb::get, "/nothing/here", {}, "", 404, ""},
      {"wrong method", Verb::put, "/streams/s", {}, "x", 405, ""},
      {"liveCode out of range", Verb::get, "/health/live?liveCode=42", {}, "", 400, "liveCode"},
  };
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::ServerOptions ho;
    ho.max_body_bytes = 64u << 10;
    ho.idle_timeout = 500ms;
    ho.read_timeout = 500ms;
    server_ = std::make_unique<TestServer>(ServiceOptions{}, ho);
    // One existing stream, so reads that reach the engine have something to refuse.
    http::TestClient c(server_->port());
    auto r = c.Do(Verb::post, "/streams/s", "[{\"eventId\":\"" + Uuid::Random().ToString() + "\",\"eventType\":\"T\"}]",
                  {{"Content-Type", kEventsJson}, {"Authorization", kAdminAuth}});
    ASSERT_EQ(r.result(), HttpStatus::created);
    head_ = server_->store().HeadPosition();
  }
  void ExpectNothingWrittenAndServing() {
    EXPECT_EQ(server_->store().HeadPosition(), head_);
    http::TestClient c(server_->port());
    EXPECT_EQ(c.Do(Verb::get, "/health/live").result(), HttpStatus::ok);
  }
  std::unique_ptr<TestServer> server_;
  store::Position head_ = 0;
};

TEST_F(BadInputTest, EveryRowIsAClear4xxAndWritesNothing) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    http::TestClient c(server_->port());
    http::Request req{row.method, row.target, 11};
    req.set(http::bhttp::field::host, "127.0.0.1");
    req.set(http::bhttp::field::authorization, kAdminAuth);
    for (const auto& [k, v] : row.headers) req.set(k, v);
    req.body() = row.body;
    req.prepare_payload();
    http::Response r = c.Send(std::move(req));
    EXPECT_EQ(r.result_int(), row.status) << r.reason() << " / " << r.body();
    EXPECT_NE(std::string(r.reason()).find(row.reason_contains), std::string::npos) << r.reason();
    EXPECT_FALSE(r.body().empty() && row.status != 404 && row.status != 405) << "no explanation given";
    ExpectNothingWrittenAndServing();
  }
}

TEST_F(BadInputTest, OversizedBodyIs413) {
  http::TestClient c(server_->port());
  std::string big = "[{\"eventId\":\"" + kId + "\",\"eventType\":\"T\",\"data\":\"" + std::string(70u << 10, 'x') + "\"}]";
  auto r = c.Do(Verb::post, "/streams/s", big, {{"Content-Type", kEventsJson}, {"Authorization", kAdminAuth}});
  EXPECT_EQ(r.result(), HttpStatus::payload_too_large);
  ExpectNothingWrittenAndServing();
}

TEST_F(BadInputTest, SlowRequestIs408AndTruncatedRequestIs400) {
  std::string head = "POST /streams/s HTTP/1.1\r\nHost: x\r\nAuthorization: " + kAdminAuth +
                     "\r\nContent-Type: " + kEventsJson + "\r\nContent-Length: 500\r\n\r\n[{\"eventId\":";
  {
    http::TestClient slow(server_->port());
    slow.WriteRaw(head);
    std::string out = slow.ReadRaw(3s);
    EXPECT_NE(out.find("HTTP/1.1 408"), std::string::npos) << out;
  }
  {
    http::TestClient truncated(server_->port());
    truncated.WriteRaw(head);
    truncated.ShutdownWrite();
    std::string out = truncated.ReadRaw(3s);
    EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
  }
  {
    http::TestClient garbage(server_->port());
    garbage.WriteRaw("\x16\x03\x01\x02\x00 not http at all\r\n\r\n");
    EXPECT_NE(garbage.ReadRaw(3s).find("HTTP/1.1 400"), std::string::npos);
  }
  ExpectNothingWrittenAndServing();
}

}  // namespace
}  // namespace dt::store_http

// The EventStoreDB HTTP API compatibility suite: each behaviour of
// ../shared/docs/eventstore-http-api.md, over real sockets against the real engine.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "store_http/atom.h"
#include "store_http/test_server.h"

namespace dt::store_http {
namespace {

using http::HttpStatus;
using http::Response;
using http::Verb;
using nlohmann::json;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

class Api {
 public:
  explicit Api(uint16_t port, std::string auth = kAdminAuth) : client_(port), auth_(std::move(auth)) {}
  Response Do(Verb v, const std::string& target, std::string body = {}, const Headers& headers = {}) {
    http::Request req{v, target, 11};
    req.set(http::bhttp::field::host, "127.0.0.1");
    if (!auth_.empty()) req.set(http::bhttp::field::authorization, auth_);
    for (const auto& [k, val] : headers) req.set(k, val);
    if (!body.empty() || v == Verb::post) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    return client_.Send(std::move(req));
  }
  Response Get(const std::string& target, const Headers& h = {}) { return Do(Verb::get, target, {}, h); }
  json GetJson(const std::string& target, const Headers& h = {}) {
    Response r = Get(target, h);
    EXPECT_EQ(r.result(), HttpStatus::ok) << target << ": " << r.reason();
    return json::parse(r.body());
  }
  Response PostEvents(const std::string& stream, const json& events, const Headers& h = {}) {
    Headers all = h;
    all.emplace_back("Content-Type", kEventsJson);
    return Do(Verb::post, "/streams/" + stream, events.dump(), all);
  }

 private:
  http::TestClient client_;
  std::string auth_;
};

json Event(const std::string& type, json data, std::string id = Uuid::Random().ToString()) {
  return json{{"eventId", id}, {"eventType", type}, {"data", std::move(data)}};
}

std::string LinkOf(const json& feed, const std::string& relation) {
  for (const auto& l : feed["links"]) {
    if (l["relation"] == relation) return l["uri"];
  }
  return "";
}

std::string PathOf(const std::string& url) {
  auto p = url.find("/streams/");
  return p == std::string::npos ? url : url.substr(p);
}

int64_t LastNumber(TestServer& s, const std::string& stream) {
  auto info = s.store().GetStreamInfo(stream);
  return info.ok() ? info->last_number : -1;
}

class CompatTest : public ::testing::Test {
 protected:
  TestServer server_;
  Api api_{server_.port()};
};

// ------------------------------------------------------------------- append

TEST_F(CompatTest, AppendBatchAnswers201WithLocationOfFirstEvent) {
  Response r = api_.PostEvents("orders-1", json::array({Event("A", {{"n", 1}}), Event("B", {{"n", 2}})}));
  EXPECT_EQ(r.result(), HttpStatus::created);
  EXPECT_EQ(r[http::bhttp::field::location], "http://127.0.0.1/streams/orders-1/0");
  Response r2 = api_.PostEvents("orders-1", json::array({Event("C", {{"n", 3}})}));
  EXPECT_EQ(r2[http::bhttp::field::location], "http://127.0.0.1/streams/orders-1/2");
  EXPECT_EQ(LastNumber(server_, "orders-1"), 2);
}

TEST_F(CompatTest, KurrentContentTypeAndHeadersAreAccepted) {
  Response r = api_.Do(Verb::post, "/streams/k-1", json::array({Event("A", json::object())}).dump(),
                       {{"Content-Type", "application/vnd.kurrent.events+json"},
                        {"Kurrent-ExpectedVersion", "-1"}});
  EXPECT_EQ(r.result(), HttpStatus::created);
  Response again = api_.Do(Verb::post, "/streams/k-1", json::array({Event("A", json::object())}).dump(),
                           {{"Content-Type", "application/vnd.kurrent.events+json"},
                            {"Kurrent-ExpectedVersion", "-1"}});
  EXPECT_EQ(again.result(), HttpStatus::bad_request);
  EXPECT_EQ(again["Kurrent-CurrentVersion"], "0");
}

TEST_F(CompatTest, SingleJsonEventWithoutIdRedirectsToAnIdempotentUri) {
  Response r = api_.Do(Verb::post, "/streams/single-1", R"({"a":1})",
                       {{"Content-Type", "application/json"}, {"ES-EventType", "Thing"}});
  ASSERT_EQ(r.result(), HttpStatus::temporary_redirect);
  std::string location(r[http::bhttp::field::location]);
  ASSERT_NE(location.find("/streams/single-1/incoming/"), std::string::npos) << location;
  EXPECT_EQ(LastNumber(server_, "single-1"), -1);  // nothing written yet
  std::string path = PathOf(location);
  Response first = api_.Do(Verb::post, path, R"({"a":1})",
                           {{"Content-Type", "application/json"}, {"ES-EventType", "Thing"}});
  EXPECT_EQ(first.result(), HttpStatus::created);
  EXPECT_EQ(first[http::bhttp::field::location], "http://127.0.0.1/streams/single-1/0");
  Response retry = api_.Do(Verb::post, path, R"({"a":1})",
                           {{"Content-Type", "application/json"}, {"ES-EventType", "Thing"}});
  EXPECT_EQ(retry.result(), HttpStatus::created);
  EXPECT_EQ(retry[http::bhttp::field::location], "http://127.0.0.1/streams/single-1/0");
  EXPECT_EQ(LastNumber(server_, "single-1"), 0);
  json e = api_.GetJson("/streams/single-1/0", {{"Accept", "application/vnd.eventstore.atom+json"}});
  EXPECT_EQ(e["content"]["data"]["a"], 1);
  EXPECT_EQ(e["content"]["eventType"], "Thing");
}

TEST_F(CompatTest, SingleEventWithIdAndOctetStream) {
  std::string id = Uuid::Random().ToString();
  Response r = api_.Do(Verb::post, "/streams/bin-1", std::string("\x01\x02raw", 5),
                       {{"Content-Type", "application/octet-stream"}, {"ES-EventType", "Blob"}, {"ES-EventId", id}});
  ASSERT_EQ(r.result(), HttpStatus::created);
  Response data = api_.Get("/streams/bin-1/0", {{"Accept", "application/octet-stream"}});
  EXPECT_EQ(data.body(), std::string("\x01\x02raw", 5));
  // As JSON, data that is not JSON is a JSON string (EventStoreDB's SmartFormat).
  Response as_json = api_.Get("/streams/bin-1/0", {{"Accept", "application/json"}});
  EXPECT_EQ(json::parse(as_json.body()), std::string("\x01\x02raw", 5));
  json feed = api_.GetJson("/streams/bin-1?embed=rich");
  EXPECT_EQ(feed["entries"][0]["isJson"], false);
  EXPECT_EQ(feed["entries"][0]["eventId"], id);
}

TEST_F(CompatTest, MissingEventTypeIs400WithTheReasonPhrase) {
  Response r = api_.Do(Verb::post, "/streams/s", R"({"a":1})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.result(), HttpStatus::bad_request);
  EXPECT_EQ(r.reason(), "Must include an event type with the request either in body or as ES-EventType header.");
}

TEST_F(CompatTest, ExpectedVersionsFollowEventStoreDb) {
  auto post = [&](const std::string& stream, const std::string& ev) {
    return api_.PostEvents(stream, json::array({Event("E", json::object())}), {{"ES-ExpectedVersion", ev}});
  };
  EXPECT_EQ(post("ev-1", "-4").result(), HttpStatus::bad_request);  // must exist
  Response missing = post("ev-1", "-4");
  EXPECT_EQ(missing.reason(), "Wrong expected EventNumber");
  EXPECT_EQ(missing["ES-CurrentVersion"], "-1");
  EXPECT_EQ(post("ev-1", "-1").result(), HttpStatus::created);      // no stream
  Response exists = post("ev-1", "-1");
  EXPECT_EQ(exists.result(), HttpStatus::bad_request);
  EXPECT_EQ(exists["ES-CurrentVersion"], "0");
  EXPECT_EQ(exists["Kurrent-CurrentVersion"], "0");
  EXPECT_EQ(post("ev-1", "0").result(), HttpStatus::created);       // exact
  Response stale = post("ev-1", "0");
  EXPECT_EQ(stale.result(), HttpStatus::bad_request);
  EXPECT_EQ(stale["ES-CurrentVersion"], "1");
  EXPECT_EQ(post("ev-1", "-4").result(), HttpStatus::created);      // exists
  EXPECT_EQ(post("ev-1", "-2").result(), HttpStatus::created);      // any
  EXPECT_EQ(LastNumber(server_, "ev-1"), 3);
}

TEST_F(CompatTest, IdempotentRepostWritesNothingAndPartialMatchIsWrongVersion) {
  json batch = json::array({Event("A", {{"i", 0}}), Event("B", {{"i", 1}})});
  ASSERT_EQ(api_.PostEvents("idem-1", batch, {{"ES-ExpectedVersion", "-1"}}).result(), HttpStatus::created);
  Response again = api_.PostEvents("idem-1", batch, {{"ES-ExpectedVersion", "-1"}});
  EXPECT_EQ(again.result(), HttpStatus::created);
  EXPECT_EQ(again[http::bhttp::field::location], "http://127.0.0.1/streams/idem-1/0");
  Response any = api_.PostEvents("idem-1", batch);
  EXPECT_EQ(any.result(), HttpStatus::created);
  EXPECT_EQ(LastNumber(server_, "idem-1"), 1);
  json partial = json::array({batch[0], Event("C", json::object())});
  Response p = api_.PostEvents("idem-1", partial, {{"ES-ExpectedVersion", "-1"}});
  EXPECT_EQ(p.result(), HttpStatus::bad_request);
  EXPECT_EQ(p.reason(), "Wrong expected EventNumber");
  EXPECT_EQ(LastNumber(server_, "idem-1"), 1);
}

// ------------------------------------------------------------------- reads

TEST_F(CompatTest, StreamFeedShapeAndPagingLinks) {
  json batch = json::array();
  for (int i = 0; i < 45; ++i) batch.push_back(Event("Tick", {{"i", i}}));
  ASSERT_EQ(api_.PostEvents("paged", batch).result(), HttpStatus::created);

  json head = api_.GetJson("/streams/paged");
  EXPECT_EQ(head["title"], "Event stream 'paged'");
  EXPECT_EQ(head["id"], "http://127.0.0.1/streams/paged");
  EXPECT_EQ(head["selfUrl"], "http://127.0.0.1/streams/paged");
  EXPECT_EQ(head["streamId"], "paged");
  EXPECT_EQ(head["author"]["name"], "EventStore");
  EXPECT_EQ(head["headOfStream"], true);
  EXPECT_TRUE(head["eTag"].get<std::string>().starts_with("44;"));
  ASSERT_EQ(head["entries"].size(), 20u);
  EXPECT_EQ(head["entries"][0]["title"], "44@paged");
  EXPECT_EQ(head["entries"][19]["title"], "25@paged");
  EXPECT_EQ(head["entries"][0]["summary"], "Tick");
  EXPECT_EQ(LinkOf(head, "self"), "http://127.0.0.1/streams/paged");
  EXPECT_EQ(LinkOf(head, "first"), "http://127.0.0.1/streams/paged/head/backward/20");
  EXPECT_EQ(LinkOf(head, "last"), "http://127.0.0.1/streams/paged/0/forward/20");
  EXPECT_EQ(LinkOf(head, "next"), "http://127.0.0.1/streams/paged/24/backward/20");
  EXPECT_EQ(LinkOf(head, "previous"), "http://127.0.0.1/streams/paged/45/forward/20");
  EXPECT_EQ(LinkOf(head, "metadata"), "http://127.0.0.1/streams/paged/metadata");

  // Follow "next" to the end: every event exactly once, newest first in each page.
  std::vector<int> seen;
  std::string url = "/streams/paged";
  for (int pages = 0; !url.empty() && pages < 10; ++pages) {
    json page = api_.GetJson(PathOf(url) + "?embed=body");
    int prev = 1000;
    for (const auto& e : page["entries"]) {
      int n = e["eventNumber"];
      EXPECT_LT(n, prev);
      prev = n;
      seen.push_back(json::parse(e["data"].get<std::string>())["i"]);
    }
    url = LinkOf(page, "next");
  }
  ASSERT_EQ(seen.size(), 45u);
  for (int i = 0; i < 45; ++i) EXPECT_EQ(seen[i], 44 - i);

  // Forward from the start by following "previous".
  std::vector<int> forward;
  url = "/streams/paged/0/forward/20";
  for (int pages = 0; !url.empty() && pages < 10; ++pages) {
    json page = api_.GetJson(PathOf(url));
    std::vector<int> nums;
    for (const auto& e : page["entries"]) nums.push_back(std::stoi(e["title"].get<std::string>()));
    for (auto it = nums.rbegin(); it != nums.rend(); ++it) forward.push_back(*it);
    if (page["entries"].empty()) break;
    url = LinkOf(page, "previous");
  }
  ASSERT_EQ(forward.size(), 45u);
  for (int i = 0; i < 45; ++i) EXPECT_EQ(forward[i], i);
}

TEST_F(CompatTest, EmbedLevels) {
  ASSERT_EQ(api_.PostEvents("emb", json::array({json{{"eventId", Uuid::Random().ToString()},
                                                      {"eventType", "E"},
                                                      {"data", {{"a", 1}}},
                                                      {"metadata", {{"m", 2}}}}}))
                .result(),
            HttpStatus::created);
  json none = api_.GetJson("/streams/emb");
  EXPECT_FALSE(none["entries"][0].contains("data"));
  EXPECT_FALSE(none["entries"][0].contains("eventId"));
  json rich = api_.GetJson("/streams/emb?embed=rich");
  EXPECT_TRUE(rich["entries"][0].contains("eventId"));
  EXPECT_FALSE(rich["entries"][0].contains("data"));
  json body = api_.GetJson("/streams/emb?embed=body");
  const json& e = body["entries"][0];
  for (const char* k : {"eventId", "eventType", "eventNumber", "streamId", "isJson", "isMetaData",
                        "isLinkMetaData", "data", "metaData", "positionEventNumber", "positionStreamId"}) {
    EXPECT_TRUE(e.contains(k)) << k;
  }
  EXPECT_EQ(json::parse(e["data"].get<std::string>())["a"], 1);
  EXPECT_EQ(json::parse(e["metaData"].get<std::string>())["m"], 2);
  EXPECT_EQ(e["isJson"], true);
  EXPECT_EQ(e["isMetaData"], true);
  json pretty = api_.GetJson("/streams/emb?embed=pretty");
  EXPECT_NE(pretty["entries"][0]["data"].get<std::string>().find("\n"), std::string::npos);
  json content = api_.GetJson("/streams/emb?embed=content");
  EXPECT_EQ(content["entries"][0]["content"]["data"]["a"], 1);
}

TEST_F(CompatTest, SingleEventReadsAndContentNegotiation) {
  ASSERT_EQ(api_.PostEvents("one", json::array({Event("E", {{"v", "first"}}), Event("E", {{"v", "second"}})})).result(),
            HttpStatus::created);
  Response data = api_.Get("/streams/one/0", {{"Accept", "application/json"}});
  EXPECT_EQ(json::parse(data.body())["v"], "first");
  EXPECT_NE(data[http::bhttp::field::content_type].find("application/json"), std::string::npos);
  Response entry = api_.Get("/streams/one/1", {{"Accept", "application/vnd.eventstore.atom+json"}});
  EXPECT_NE(entry[http::bhttp::field::content_type].find("application/vnd.eventstore.atom+json"), std::string::npos);
  json j = json::parse(entry.body());
  EXPECT_EQ(j["title"], "1@one");
  EXPECT_EQ(j["content"]["data"]["v"], "second");
  // ?format=json overrides Accept.
  Response fmt = api_.Get("/streams/one/1?format=json", {{"Accept", "application/vnd.eventstore.atom+json"}});
  EXPECT_EQ(json::parse(fmt.body())["v"], "second");
  // head = the last event.
  EXPECT_EQ(json::parse(api_.Get("/streams/one/head", {{"Accept", "application/json"}}).body())["v"], "second");
  Response k = api_.Get("/streams/one", {{"Accept", "application/vnd.kurrent.atom+json"}});
  EXPECT_NE(k[http::bhttp::field::content_type].find("application/vnd.kurrent.atom+json"), std::string::npos);
  EXPECT_EQ(api_.Get("/streams/one/7").result(), HttpStatus::not_found);
}

TEST_F(CompatTest, MissingStreamIs404AndETagGives304) {
  EXPECT_EQ(api_.Get("/streams/nope").result(), HttpStatus::not_found);
  ASSERT_EQ(api_.PostEvents("etag", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  Response r = api_.Get("/streams/etag");
  std::string etag(r[http::bhttp::field::etag]);
  ASSERT_TRUE(etag.starts_with("\"0;")) << etag;
  EXPECT_EQ(api_.Get("/streams/etag", {{"If-None-Match", etag}}).result(), HttpStatus::not_modified);
  ASSERT_EQ(api_.PostEvents("etag", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  EXPECT_EQ(api_.Get("/streams/etag", {{"If-None-Match", etag}}).result(), HttpStatus::ok);
}

TEST_F(CompatTest, LongPollWaitsForTheNextEvent) {
  ASSERT_EQ(api_.PostEvents("lp", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  auto start = std::chrono::steady_clock::now();
  auto waiting = std::async(std::launch::async, [&] {
    Api other(server_.port());
    return other.Get("/streams/lp/1/forward/20?embed=body", {{"ES-LongPoll", "10"}});
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(waiting.wait_for(0ms), std::future_status::timeout);  // still waiting
  ASSERT_EQ(api_.PostEvents("lp", json::array({Event("Late", {{"x", 1}})})).result(), HttpStatus::created);
  Response r = waiting.get();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 5s);
  json feed = json::parse(r.body());
  ASSERT_EQ(feed["entries"].size(), 1u);
  EXPECT_EQ(feed["entries"][0]["eventType"], "Late");

  // Nothing new: an empty page after the poll time.
  start = std::chrono::steady_clock::now();
  Response empty = api_.Get("/streams/lp/2/forward/20", {{"Kurrent-LongPoll", "1"}});
  took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(empty.result(), HttpStatus::ok);
  EXPECT_TRUE(json::parse(empty.body())["entries"].empty());
  EXPECT_GE(took, 900ms);
}

// ------------------------------------------------------------------- $all

TEST_F(CompatTest, AllFeedHasPositionsBothSpellingsAndNeedsAdmin) {
  ASSERT_EQ(api_.PostEvents("a-1", json::array({Event("X", {{"i", 0}})})).result(), HttpStatus::created);
  ASSERT_EQ(api_.PostEvents("b-1", json::array({Event("Y", {{"i", 1}})})).result(), HttpStatus::created);
  ASSERT_EQ(api_.PostEvents("a-1", json::array({Event("Z", {{"i", 2}})})).result(), HttpStatus::created);
  json dollar = api_.GetJson("/streams/$all");
  json escaped = api_.GetJson("/streams/%24all");
  EXPECT_EQ(dollar["entries"], escaped["entries"]);
  EXPECT_EQ(dollar["title"], "All events");
  ASSERT_GE(dollar["entries"].size(), 3u);
  EXPECT_EQ(dollar["entries"][0]["title"], "1@a-1");  // newest first
  EXPECT_EQ(dollar["entries"][1]["title"], "0@b-1");
  EXPECT_EQ(dollar["entries"][2]["title"], "0@a-1");
  std::string prev = LinkOf(dollar, "previous");
  std::string pos = prev.substr(prev.find("%24all/") + 7, 32);
  EXPECT_EQ(pos.size(), 32u);
  EXPECT_TRUE(ParseAllPosition(pos).has_value()) << pos;

  // Forward from the start in pages of 2, following "previous": every event once, in order.
  std::vector<std::string> titles;
  std::string url = "/streams/%24all/00000000000000000000000000000000/forward/2";
  for (int i = 0; i < 10 && !url.empty(); ++i) {
    json page = api_.GetJson(PathOf(url));
    if (page["entries"].empty()) break;
    for (auto it = page["entries"].rbegin(); it != page["entries"].rend(); ++it) titles.push_back((*it)["title"]);
    url = LinkOf(page, "previous");
  }
  ASSERT_EQ(titles, (std::vector<std::string>{"0@a-1", "0@b-1", "1@a-1"}));

  // Backward from head in pages of 2 following "next".
  std::vector<std::string> back;
  url = "/streams/%24all/head/backward/2";
  for (int i = 0; i < 10 && !url.empty(); ++i) {
    json page = api_.GetJson(PathOf(url));
    for (const auto& e : page["entries"]) back.push_back(e["title"]);
    url = LinkOf(page, "next");
  }
  EXPECT_EQ(back, (std::vector<std::string>{"1@a-1", "0@b-1", "0@a-1"}));

  Api anonymous(server_.port(), "");
  Response denied = anonymous.Get("/streams/%24all");
  EXPECT_EQ(denied.result(), HttpStatus::unauthorized);
  EXPECT_EQ(api_.Get("/streams/%24all/XYZ/forward/2").result(), HttpStatus::bad_request);
}

TEST_F(CompatTest, AllLongPollWaitsForAnyWrite) {
  ASSERT_EQ(api_.PostEvents("w-1", json::array({Event("X", json::object())})).result(), HttpStatus::created);
  json head = api_.GetJson("/streams/%24all/head/backward/1");
  std::string from = PathOf(LinkOf(head, "previous"));
  auto waiting = std::async(std::launch::async, [&] {
    Api other(server_.port());
    return other.Get(from, {{"ES-LongPoll", "10"}});
  });
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(api_.PostEvents("w-2", json::array({Event("New", json::object())})).result(), HttpStatus::created);
  json page = json::parse(waiting.get().body());
  ASSERT_EQ(page["entries"].size(), 1u);
  EXPECT_EQ(page["entries"][0]["title"], "0@w-2");
}

// ------------------------------------------------------------------- deletes

TEST_F(CompatTest, SoftDeleteHidesAndRecreateContinuesNumbering) {
  ASSERT_EQ(api_.PostEvents("soft", json::array({Event("A", json::object()), Event("B", json::object())})).result(),
            HttpStatus::created);
  Response del = api_.Do(Verb::delete_, "/streams/soft");
  EXPECT_EQ(del.result(), HttpStatus::no_content);
  EXPECT_EQ(del.reason(), "Stream deleted");
  EXPECT_EQ(api_.Get("/streams/soft").result(), HttpStatus::not_found);
  Response again = api_.PostEvents("soft", json::array({Event("C", json::object())}), {{"ES-ExpectedVersion", "-1"}});
  EXPECT_EQ(again.result(), HttpStatus::created);
  EXPECT_EQ(again[http::bhttp::field::location], "http://127.0.0.1/streams/soft/2");
  json feed = api_.GetJson("/streams/soft");
  ASSERT_EQ(feed["entries"].size(), 1u);
  EXPECT_EQ(feed["entries"][0]["title"], "2@soft");
}

TEST_F(CompatTest, HardDeleteIsGoneForever) {
  ASSERT_EQ(api_.PostEvents("hard", json::array({Event("A", json::object())})).result(), HttpStatus::created);
  Response del = api_.Do(Verb::delete_, "/streams/hard", {}, {{"ES-HardDelete", "true"}});
  EXPECT_EQ(del.result(), HttpStatus::no_content);
  Response read = api_.Get("/streams/hard");
  EXPECT_EQ(read.result(), HttpStatus::gone);
  Response write = api_.PostEvents("hard", json::array({Event("B", json::object())}));
  EXPECT_EQ(write.result(), HttpStatus::gone);
  EXPECT_EQ(write.reason(), "Stream deleted");
  EXPECT_EQ(api_.Get("/streams/hard/0").result(), HttpStatus::gone);
  EXPECT_EQ(api_.Do(Verb::delete_, "/streams/hard", {}, {{"Kurrent-HardDelete", "true"}}).result(), HttpStatus::gone);
}

TEST_F(CompatTest, DeleteWithWrongExpectedVersionIs400WithCurrentVersion) {
  ASSERT_EQ(api_.PostEvents("dv", json::array({Event("A", json::object()), Event("B", json::object())})).result(),
            HttpStatus::created);
  Response r = api_.Do(Verb::delete_, "/streams/dv", {}, {{"ES-ExpectedVersion", "0"}});
  EXPECT_EQ(r.result(), HttpStatus::bad_request);
  EXPECT_EQ(r.reason(), "Wrong expected EventNumber");
  EXPECT_EQ(r["ES-CurrentVersion"], "1");
  EXPECT_EQ(api_.Get("/streams/dv").result(), HttpStatus::ok);
  EXPECT_EQ(api_.Do(Verb::delete_, "/streams/dv", {}, {{"ES-ExpectedVersion", "1"}}).result(), HttpStatus::no_content);
}

// ------------------------------------------------------------------- metadata

TEST_F(CompatTest, MetadataIsStoredInDollarDollarStreamAndApplied) {
  json batch = json::array();
  for (int i = 0; i < 5; ++i) batch.push_back(Event("E", {{"i", i}}));
  ASSERT_EQ(api_.PostEvents("meta", batch).result(), HttpStatus::created);
  Response set = api_.Do(Verb::post, "/streams/meta/metadata",
                         json::array({Event("$user-updated", {{"$maxCount", 2}, {"owner", "me"}})}).dump(),
                         {{"Content-Type", kEventsJson}});
  ASSERT_EQ(set.result(), HttpStatus::created);
  EXPECT_EQ(set[http::bhttp::field::location], "http://127.0.0.1/streams/%24%24meta/0");
  json feed = api_.GetJson("/streams/meta");
  ASSERT_EQ(feed["entries"].size(), 2u);
  EXPECT_EQ(feed["entries"][0]["title"], "4@meta");
  EXPECT_EQ(feed["entries"][1]["title"], "3@meta");
  json meta = json::parse(api_.Get("/streams/meta/metadata", {{"Accept", "application/json"}}).body());
  EXPECT_EQ(meta["$maxCount"], 2);
  EXPECT_EQ(meta["owner"], "me");
  json mstream = api_.GetJson("/streams/$$meta?embed=body");
  EXPECT_EQ(mstream["entries"][0]["eventType"], "$metadata");
  // application/json body form, with $tb.
  ASSERT_EQ(api_.Do(Verb::post, "/streams/meta/metadata", R"({"$tb":4})", {{"Content-Type", "application/json"}}).result(),
            HttpStatus::created);
  EXPECT_EQ(api_.GetJson("/streams/meta")["entries"].size(), 1u);
}

// ------------------------------------------------------------------- operations

TEST_F(CompatTest, OperationsEndpoints) {
  Api anonymous(server_.port(), "");
  EXPECT_EQ(anonymous.Get("/health/live").result(), HttpStatus::ok);
  EXPECT_EQ(anonymous.Do(Verb::head, "/health/live").result(), HttpStatus::ok);
  EXPECT_EQ(anonymous.Get("/health/live?liveCode=204").result(), HttpStatus::no_content);
  json info = json::parse(anonymous.Get("/info").body());
  for (const char* k : {"dbVersion", "esVersion", "state", "features", "authentication"}) EXPECT_TRUE(info.contains(k)) << k;
  json gossip = json::parse(anonymous.Get("/gossip").body());
  ASSERT_EQ(gossip["members"].size(), 1u);
  EXPECT_EQ(gossip["members"][0]["state"], "Leader");
  EXPECT_EQ(gossip["members"][0]["isAlive"], true);
  EXPECT_EQ(json::parse(anonymous.Get("/ping").body())["msg"], "PongMessage");
  json stats = json::parse(anonymous.Get("/stats").body());
  EXPECT_TRUE(stats.contains("proc"));
  EXPECT_TRUE(stats.contains("es"));
  ASSERT_EQ(api_.PostEvents("m-1", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  Response metrics = anonymous.Get("/metrics");
  EXPECT_NE(metrics[http::bhttp::field::content_type].find("text/plain"), std::string::npos);
  for (const char* m : {"eventstore_appends_total 1", "eventstore_events_written_total 1",
                        "eventstore_bytes_written_total", "eventstore_fsync_duration_seconds_bucket",
                        "eventstore_events_per_fsync", "eventstore_reads_total", "http_connections_active",
                        "http_requests_total{code=\"201\"} 1"}) {
    EXPECT_NE(metrics.body().find(m), std::string::npos) << m;
  }
}

TEST_F(CompatTest, BasicAuthIsRequired) {
  Api anonymous(server_.port(), "");
  Response r = anonymous.PostEvents("auth", json::array({Event("E", json::object())}));
  EXPECT_EQ(r.result(), HttpStatus::unauthorized);
  EXPECT_EQ(r[http::bhttp::field::www_authenticate], "Basic realm=\"ESDB\"");
  Api wrong(server_.port(), "Basic " + http::Base64Encode("admin:wrong"));
  EXPECT_EQ(wrong.Get("/streams/auth").result(), HttpStatus::unauthorized);
  EXPECT_EQ(LastNumber(server_, "auth"), -1);
  Response ui = anonymous.Get("/streams/auth", {{"X-Requested-With", "XMLHttpRequest"}});
  EXPECT_EQ(ui[http::bhttp::field::www_authenticate], "X-Basic realm=\"ESDB\"");
}

TEST(CompatInsecureTest, InsecureModeNeedsNoCredentials) {
  ServiceOptions o;
  o.insecure = true;
  TestServer server(o);
  Api anonymous(server.port(), "");
  EXPECT_EQ(anonymous.PostEvents("open", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  EXPECT_EQ(anonymous.Get("/streams/%24all").result(), HttpStatus::ok);
  EXPECT_EQ(json::parse(anonymous.Get("/info").body())["authentication"]["type"], "insecure");
}

TEST(CompatPasswordTest, AdminPasswordIsConfigurable) {
  ServiceOptions o;
  o.admin_password = "s3cret";
  TestServer server(o);
  EXPECT_EQ(Api(server.port()).Get("/streams/%24all").result(), HttpStatus::unauthorized);
  EXPECT_EQ(Api(server.port(), "Basic " + http::Base64Encode("admin:s3cret")).Get("/streams/%24all").result(),
            HttpStatus::ok);
}

TEST_F(CompatTest, TooLargeEventIs413) {
  std::string big(5u << 20, 'x');
  Response r = api_.PostEvents("big", json::array({Event("E", big)}));
  EXPECT_EQ(r.result(), HttpStatus::payload_too_large);
  EXPECT_EQ(LastNumber(server_, "big"), -1);
}

// Regression (found by the fuzzer): a stream name that is not UTF-8 made the feed's JSON
// serialisation throw, and the read answered 500.
TEST_F(CompatTest, NonUtf8StreamNamesAndTypesAreServed) {
  std::string id = Uuid::Random().ToString();
  Response w = api_.Do(Verb::post, "/streams/bad%94name", "{}",
                       {{"Content-Type", "application/json"}, {"ES-EventType", "T\xd0"}, {"ES-EventId", id}});
  ASSERT_EQ(w.result(), HttpStatus::created);
  Response r = api_.Get("/streams/bad%94name?embed=body");
  EXPECT_EQ(r.result(), HttpStatus::ok);
  json feed = json::parse(r.body());
  EXPECT_EQ(feed["entries"][0]["eventId"], id);
  EXPECT_EQ(api_.Get("/streams/%24all").result(), HttpStatus::ok);
}

TEST_F(CompatTest, WebUiIsServed) {
  Api anonymous(server_.port(), "");
  Response index = anonymous.Get("/");
  EXPECT_EQ(index.result(), HttpStatus::ok);
  EXPECT_NE(index[http::bhttp::field::content_type].find("text/html"), std::string::npos);
  ASSERT_EQ(api_.PostEvents("contact-42", json::array({Event("ContactCreated", json::object())})).result(),
            HttpStatus::created);
  json list = api_.GetJson("/web/api/streams?search=contact-");
  ASSERT_EQ(list["streams"].size(), 1u);
  EXPECT_EQ(list["streams"][0]["streamId"], "contact-42");
  EXPECT_EQ(list["streams"][0]["eventCount"], 1);
  EXPECT_EQ(anonymous.Get("/web/api/streams").result(), HttpStatus::unauthorized);
}

// Accept: application/vnd.eventstore.streamdesc+json (or the kurrent spelling) on a stream's
// URI answers its description document rather than a page.
TEST_F(CompatTest, StreamDescriptionDocument) {
  ASSERT_EQ(api_.PostEvents("described", json::array({Event("E", json::object())})).result(),
            HttpStatus::created);
  for (std::string media : {"application/vnd.eventstore.streamdesc+json",
                            "application/vnd.kurrent.streamdesc+json"}) {
    Response r = api_.Get("/streams/described", {{"Accept", media}});
    ASSERT_EQ(r.result(), HttpStatus::ok) << media;
    EXPECT_EQ(r.reason(), "Description Document");
    EXPECT_EQ(r[http::bhttp::field::content_type], media + "; charset=utf-8");
    json doc = json::parse(r.body());
    EXPECT_EQ(doc["title"], "Description document for 'described'");
    EXPECT_EQ(doc["_links"]["self"]["href"], "/streams/described");
    EXPECT_EQ(doc["_links"]["self"]["supportedContentTypes"], json::array({media}));
    EXPECT_EQ(doc["_links"]["stream"]["href"], "/streams/described");
    // Each media type it offers for the stream is one the stream is served in.
    for (const auto& offered : doc["_links"]["stream"]["supportedContentTypes"]) {
      Response page = api_.Get("/streams/described", {{"Accept", offered.get<std::string>()}});
      EXPECT_EQ(page.result(), HttpStatus::ok) << offered;
      EXPECT_EQ(json::parse(page.body())["entries"].size(), 1u) << offered;
    }
  }
  EXPECT_EQ(api_.GetJson("/streams/%24%24described", {{"Accept", "application/vnd.eventstore.streamdesc+json"}})
                ["_links"]["self"]["href"],
            "/streams/%24%24described");
  Api anonymous(server_.port(), "");
  EXPECT_EQ(anonymous.Get("/streams/described", {{"Accept", "application/vnd.eventstore.streamdesc+json"}}).result(),
            HttpStatus::unauthorized);
}

// /streams/{s}/metadata/{event} and /streams/{s}/metadata/{from}/{direction}/{count} read
// the metadata stream ($$s) as EventStoreDB routes them.
TEST_F(CompatTest, MetadataStreamReadsByEventAndPage) {
  ASSERT_EQ(api_.PostEvents("mroute", json::array({Event("E", json::object())})).result(), HttpStatus::created);
  for (int max : {5, 7}) {
    ASSERT_EQ(api_.Do(Verb::post, "/streams/mroute/metadata", json{{"$maxCount", max}}.dump(),
                      {{"Content-Type", "application/json"}})
                  .result(),
              HttpStatus::created);
  }
  const Headers atom = {{"Accept", "application/vnd.eventstore.atom+json"}};
  json one = api_.GetJson("/streams/mroute/metadata/0?embed=body", atom);
  EXPECT_EQ(one["content"]["eventStreamId"], "$$mroute");
  EXPECT_EQ(one["content"]["eventNumber"], 0);
  EXPECT_EQ(one["content"]["data"]["$maxCount"], 5);
  EXPECT_EQ(api_.GetJson("/streams/mroute/metadata/1", atom)["content"]["data"]["$maxCount"], 7);
  EXPECT_EQ(api_.Get("/streams/mroute/metadata/2", atom).result(), HttpStatus::not_found);

  json forward = api_.GetJson("/streams/mroute/metadata/0/forward/10?embed=body", atom);
  ASSERT_EQ(forward["entries"].size(), 2u);
  EXPECT_EQ(forward["entries"][0]["eventNumber"], 1);  // newest first, as every feed
  json newest = api_.GetJson("/streams/mroute/metadata/head/backward/1", atom);
  ASSERT_EQ(newest["entries"].size(), 1u);
  EXPECT_EQ(newest["entries"][0]["title"], "1@$$mroute");
  // The same answers as the $$ stream's own URIs.
  EXPECT_EQ(api_.Get("/streams/mroute/metadata/0/forward/10?embed=body", atom).body(),
            api_.Get("/streams/%24%24mroute/0/forward/10?embed=body", atom).body());
  Api anonymous(server_.port(), "");
  EXPECT_EQ(anonymous.Get("/streams/mroute/metadata/0", atom).result(), HttpStatus::unauthorized);
}

// The web UI's event count is what a read of the stream returns, not last number + 1.
TEST_F(CompatTest, WebUiEventCountIsTheReadableEvents) {
  auto post = [&](const std::string& stream, int n) {
    json batch = json::array();
    for (int i = 0; i < n; ++i) batch.push_back(Event("E", {{"i", i}}));
    ASSERT_EQ(api_.PostEvents(stream, batch).result(), HttpStatus::created) << stream;
  };
  auto set_meta = [&](const std::string& stream, const json& meta) {
    ASSERT_EQ(api_.Do(Verb::post, "/streams/" + stream + "/metadata", meta.dump(),
                      {{"Content-Type", "application/json"}})
                  .result(),
              HttpStatus::created);
  };
  auto counts = [&] {
    std::map<std::string, int64_t> out;
    json list = api_.GetJson("/web/api/streams?search=wc-");
    for (const auto& s : list["streams"]) {
      out[s["streamId"]] = s["eventCount"];
    }
    return out;
  };
  auto readable = [&](const std::string& stream) -> int64_t {
    Response r = api_.Get("/streams/" + stream + "/0/forward/100");
    if (r.result() != HttpStatus::ok) return 0;
    return static_cast<int64_t>(json::parse(r.body())["entries"].size());
  };
  post("wc-plain", 3);
  post("wc-soft", 2);
  ASSERT_EQ(api_.Do(Verb::delete_, "/streams/wc-soft").result(), HttpStatus::no_content);
  post("wc-recreated", 4);
  ASSERT_EQ(api_.Do(Verb::delete_, "/streams/wc-recreated").result(), HttpStatus::no_content);
  post("wc-recreated", 1);
  post("wc-hard", 2);
  ASSERT_EQ(api_.Do(Verb::delete_, "/streams/wc-hard", {}, {{"ES-HardDelete", "true"}}).result(),
            HttpStatus::no_content);
  post("wc-maxcount", 5);
  set_meta("wc-maxcount", {{"$maxCount", 2}});
  post("wc-bigmaxcount", 3);
  set_meta("wc-bigmaxcount", {{"$maxCount", 10}});
  post("wc-tb", 5);
  set_meta("wc-tb", {{"$tb", 3}});
  post("wc-maxage", 3);
  // Old by 3 s; the newer ones are read well within that (a loaded machine included).
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  post("wc-maxage", 2);
  set_meta("wc-maxage", {{"$maxAge", 3}});

  auto got = counts();
  std::map<std::string, int64_t> expected = {
      {"wc-plain", 3},       {"wc-soft", 0},        {"wc-recreated", 1}, {"wc-hard", 0},
      {"wc-maxcount", 2},    {"wc-bigmaxcount", 3}, {"wc-tb", 2},        {"wc-maxage", 2}};
  EXPECT_EQ(got, expected);
  for (const auto& [stream, n] : got) {
    if (stream != "wc-hard") {
      EXPECT_EQ(n, readable(stream)) << stream;
    }
  }
}

// ------------------------------------------------------------------- details checked
// against EventStoreDB's own HTTP code (each a behaviour a third-party client relies on)

TEST_F(CompatTest, StringDataHoldingJsonIsStoredAsJsonAndIsJsonCoversMetadata) {
  json batch = json::array({
      json{{"eventId", Uuid::Random().ToString()}, {"eventType", "Str"}, {"data", R"({"a":1})"}},
      json{{"eventId", Uuid::Random().ToString()}, {"eventType", "Text"}, {"data", "plain words"}},
      json{{"eventId", Uuid::Random().ToString()}, {"eventType", "MetaOnly"}, {"metadata", {{"m", 1}}}},
      json{{"eventId", Uuid::Random().ToString()}, {"eventType", "Nothing"}},
  });
  ASSERT_EQ(api_.PostEvents("strdata-1", batch).result(), HttpStatus::created);
  json feed = api_.GetJson("/streams/strdata-1/0/forward/10?embed=body");
  ASSERT_EQ(feed["entries"].size(), 4u);
  const json& str = feed["entries"][3];  // newest first
  EXPECT_EQ(str["isJson"], true);
  EXPECT_EQ(json::parse(str["data"].get<std::string>())["a"], 1);
  EXPECT_EQ(feed["entries"][2]["isJson"], false);
  EXPECT_FALSE(feed["entries"][2].contains("data"));  // text only from embed=tryharder on
  json tried = api_.GetJson("/streams/strdata-1/1/forward/1?embed=tryharder");
  EXPECT_EQ(tried["entries"][0]["isJson"], false);
  EXPECT_EQ(tried["entries"][0]["data"], "plain words");
  EXPECT_EQ(feed["entries"][1]["isJson"], true);  // JSON metadata makes the event JSON
  EXPECT_EQ(feed["entries"][0]["isJson"], false);
  json one = api_.GetJson("/streams/strdata-1/0", {{"Accept", "application/json"}});
  EXPECT_EQ(one["a"], 1);
}

TEST_F(CompatTest, EventAndCountWithoutDirectionReadsBackward) {
  json batch = json::array();
  for (int i = 0; i < 6; ++i) batch.push_back(Event("Tick", {{"i", i}}));
  ASSERT_EQ(api_.PostEvents("nodir-1", batch).result(), HttpStatus::created);
  json feed = api_.GetJson("/streams/nodir-1/4/3");
  ASSERT_EQ(feed["entries"].size(), 3u);
  EXPECT_EQ(feed["entries"][0]["title"], "4@nodir-1");
  EXPECT_EQ(feed["entries"][2]["title"], "2@nodir-1");
  EXPECT_EQ(LinkOf(feed, "next"), "http://127.0.0.1/streams/nodir-1/1/backward/3");
  json all = api_.GetJson("/streams/%24all/head/2");
  EXPECT_EQ(all["entries"].size(), 2u);
  EXPECT_EQ(api_.Get("/streams/nodir-1/4/0").result(), HttpStatus::bad_request);
}

TEST_F(CompatTest, TrailingSlashRedirectsKeepingTheVerb) {
  Response get = api_.Get("/streams/slash-1/?embed=body");
  EXPECT_EQ(get.result(), HttpStatus::temporary_redirect);
  EXPECT_EQ(get[http::bhttp::field::location], "http://127.0.0.1/streams/slash-1?embed=body");
  Response post = api_.PostEvents("slash-1/", json::array({Event("A", json::object())}));
  EXPECT_EQ(post.result(), HttpStatus::temporary_redirect);
  EXPECT_EQ(post[http::bhttp::field::location], "http://127.0.0.1/streams/slash-1");
  EXPECT_EQ(LastNumber(server_, "slash-1"), -1);  // nothing written by the redirect
  Response meta = api_.Get("/streams/slash-1/metadata/");
  EXPECT_EQ(meta.result(), HttpStatus::temporary_redirect);
  EXPECT_EQ(meta[http::bhttp::field::location], "http://127.0.0.1/streams/slash-1/metadata");
  EXPECT_EQ(api_.Do(Verb::delete_, "/streams/slash-1/").result(), HttpStatus::temporary_redirect);
}

TEST_F(CompatTest, MetadataWithAnotherEventTypeIs400AndWritesNothing) {
  Response r = api_.Do(Verb::post, "/streams/mt-1/metadata", R"({"$maxCount":2})",
                       {{"Content-Type", "application/json"}, {"ES-EventType", "Foo"},
                        {"ES-EventId", Uuid::Random().ToString()}});
  EXPECT_EQ(r.result(), HttpStatus::bad_request);
  EXPECT_EQ(LastNumber(server_, "$$mt-1"), -1);
  Response ok = api_.Do(Verb::post, "/streams/mt-1/metadata", R"({"$maxCount":2})",
                        {{"Content-Type", "application/json"}, {"ES-EventType", "$metadata"},
                         {"ES-EventId", Uuid::Random().ToString()}});
  EXPECT_EQ(ok.result(), HttpStatus::created);
  EXPECT_EQ(LastNumber(server_, "$$mt-1"), 0);
}

TEST_F(CompatTest, SingleEventHonoursEmbedAndEventJsonAndRefusesXml) {
  ASSERT_EQ(api_.PostEvents("one-2", json::array({json{{"eventId", Uuid::Random().ToString()},
                                                        {"eventType", "E"},
                                                        {"data", {{"v", 1}}},
                                                        {"metadata", {{"m", 2}}}}}))
                .result(),
            HttpStatus::created);
  // A single entry carries its content at every embed level; body adds the rich fields.
  json body = api_.GetJson("/streams/one-2/0?embed=body", {{"Accept", "application/vnd.eventstore.atom+json"}});
  EXPECT_EQ(body["content"]["data"]["v"], 1);
  EXPECT_EQ(body["eventType"], "E");
  EXPECT_EQ(json::parse(body["data"].get<std::string>())["v"], 1);
  EXPECT_EQ(body["isMetaData"], true);
  json plain = api_.GetJson("/streams/one-2/0", {{"Accept", "application/vnd.eventstore.atom+json"}});
  EXPECT_EQ(plain["content"]["metadata"]["m"], 2);
  EXPECT_FALSE(plain.contains("eventType"));
  Response ev = api_.Get("/streams/one-2/0", {{"Accept", "application/vnd.eventstore.event+json"}});
  ASSERT_EQ(ev.result(), HttpStatus::ok);
  EXPECT_NE(ev[http::bhttp::field::content_type].find("application/vnd.eventstore.event+json"), std::string::npos);
  json evj = json::parse(ev.body());
  EXPECT_EQ(evj["eventStreamId"], "one-2");
  EXPECT_EQ(evj["eventNumber"], 0);
  EXPECT_EQ(evj["data"]["v"], 1);
  // Accept by q: application/json preferred over atom here.
  Response q = api_.Get("/streams/one-2/0", {{"Accept", "application/vnd.eventstore.atom+json;q=0.5, application/json"}});
  EXPECT_EQ(json::parse(q.body())["v"], 1);
  // Browsers' Accept (*/*) still gets atom+json; XML only is 406 (we have no XML).
  Response browser = api_.Get("/streams/one-2", {{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}});
  EXPECT_EQ(browser.result(), HttpStatus::ok);
  EXPECT_NE(browser[http::bhttp::field::content_type].find("application/vnd.eventstore.atom+json"), std::string::npos);
  EXPECT_EQ(api_.Get("/streams/one-2", {{"Accept", "application/atom+xml"}}).result(), HttpStatus::not_acceptable);
  EXPECT_EQ(api_.Get("/streams/one-2/0", {{"Accept", "text/xml"}}).result(), HttpStatus::not_acceptable);
}

TEST_F(CompatTest, FlagHeadersMustBeTrueOrFalseAndLongPollPositive) {
  auto one = [] { return json::array({Event("A", json::object())}); };
  EXPECT_EQ(api_.PostEvents("flags-1", one(), {{"ES-RequireMaster", "True"}}).result(), HttpStatus::created);
  EXPECT_EQ(api_.PostEvents("flags-1", one(), {{"Kurrent-RequireLeader", "false"}}).result(), HttpStatus::created);
  Response bad = api_.PostEvents("flags-1", one(), {{"ES-RequireLeader", "yes"}});
  EXPECT_EQ(bad.result(), HttpStatus::bad_request);
  EXPECT_EQ(bad.reason(), "ES-RequireLeader header in wrong format.");
  EXPECT_EQ(LastNumber(server_, "flags-1"), 1);  // the bad one wrote nothing
  EXPECT_EQ(api_.Get("/streams/flags-1", {{"ES-ResolveLinkTos", "TRUE"}}).result(), HttpStatus::ok);
  EXPECT_EQ(api_.Get("/streams/flags-1/0/forward/5", {{"ES-ResolveLinkTos", "1"}}).result(), HttpStatus::bad_request);
  EXPECT_EQ(api_.Get("/streams/flags-1/0", {{"Kurrent-ResolveLinkTos", "x"}}).result(), HttpStatus::bad_request);
  EXPECT_EQ(api_.Do(Verb::delete_, "/streams/flags-1", {}, {{"ES-RequireMaster", "maybe"}}).result(),
            HttpStatus::bad_request);
  EXPECT_EQ(api_.Get("/streams/flags-1/0/forward/5", {{"ES-LongPoll", "0"}}).result(), HttpStatus::bad_request);
  EXPECT_EQ(api_.Get("/streams/flags-1/0/backward/5", {{"ES-LongPoll", "0"}}).result(), HttpStatus::ok);
  EXPECT_EQ(LastNumber(server_, "flags-1"), 1);  // not deleted
}

TEST_F(CompatTest, EventAndAtomJsonContentTypesCarryEventArrays) {
  for (const char* type : {"application/vnd.eventstore.event+json", "application/vnd.kurrent.event+json",
                           "application/vnd.eventstore.atom+json", "application/vnd.kurrent.atom+json"}) {
    Response r = api_.Do(Verb::post, "/streams/ctype-1", json::array({Event("A", {{"t", type}})}).dump(),
                         {{"Content-Type", type}});
    EXPECT_EQ(r.result(), HttpStatus::created) << type;
  }
  EXPECT_EQ(LastNumber(server_, "ctype-1"), 3);
  EXPECT_EQ(api_.Do(Verb::post, "/streams/ctype-1", "[]", {{"Content-Type", "text/plain"}}).result(),
            HttpStatus::unsupported_media_type);
}

TEST_F(CompatTest, GossipAnnouncesTheBoundPort) {
  json g = api_.GetJson("/gossip");
  ASSERT_EQ(g["members"].size(), 1u);
  EXPECT_EQ(g["members"][0]["httpEndPointPort"], server_.port());
  EXPECT_EQ(g["members"][0]["state"], "Leader");
  EXPECT_EQ(g["serverPort"], server_.port());
}

TEST_F(CompatTest, FeedFieldsByDirectionAsEventStoreDb) {
  json batch = json::array();
  for (int i = 0; i < 3; ++i) batch.push_back(Event("Tick", {{"i", i}}));
  ASSERT_EQ(api_.PostEvents("dir-1", batch).result(), HttpStatus::created);
  json fwd = api_.GetJson("/streams/dir-1/0/forward/20");
  EXPECT_FALSE(fwd.contains("selfUrl"));
  EXPECT_FALSE(fwd.contains("eTag"));
  EXPECT_EQ(fwd["headOfStream"], true);
  EXPECT_EQ(fwd["updated"], fwd["entries"][2]["updated"]);  // the first event read
  // Backward from the last number is not "head": no eTag, cached for good.
  Response at_last = api_.Get("/streams/dir-1/2/backward/20");
  json back = json::parse(at_last.body());
  EXPECT_EQ(back["headOfStream"], false);
  EXPECT_FALSE(back.contains("eTag"));
  EXPECT_EQ(at_last[http::bhttp::field::cache_control], "max-age=31536000, public");
  json head = api_.GetJson("/streams/dir-1/head/backward/20");
  EXPECT_EQ(head["headOfStream"], true);
  EXPECT_EQ(head["selfUrl"], "http://127.0.0.1/streams/dir-1");
  EXPECT_TRUE(head["eTag"].get<std::string>().starts_with("2;"));
  // Metadata streams get their metadata link too.
  ASSERT_EQ(api_.Do(Verb::post, "/streams/dir-1/metadata", R"({"$maxCount":9})",
                    {{"Content-Type", "application/json"}, {"ES-EventId", Uuid::Random().ToString()}})
                .result(),
            HttpStatus::created);
  json meta = api_.GetJson("/streams/%24%24dir-1");
  EXPECT_EQ(LinkOf(meta, "metadata"), "http://127.0.0.1/streams/%24%24dir-1/metadata");
}

TEST_F(CompatTest, CacheControlMetadataSetsMaxAgeOfPagesThatMayChange) {
  ASSERT_EQ(api_.PostEvents("cc-1", json::array({Event("A", json::object()), Event("B", json::object())})).result(),
            HttpStatus::created);
  EXPECT_EQ(api_.Get("/streams/cc-1")[http::bhttp::field::cache_control], "max-age=0, no-cache, must-revalidate");
  ASSERT_EQ(api_.Do(Verb::post, "/streams/cc-1/metadata", R"({"$cacheControl":60})",
                    {{"Content-Type", "application/json"}, {"ES-EventId", Uuid::Random().ToString()}})
                .result(),
            HttpStatus::created);
  EXPECT_EQ(api_.Get("/streams/cc-1")[http::bhttp::field::cache_control], "max-age=60, public");
  EXPECT_EQ(api_.Get("/streams/cc-1/0/forward/20")[http::bhttp::field::cache_control], "max-age=60, public");
  EXPECT_EQ(api_.Get("/streams/cc-1/head")[http::bhttp::field::cache_control], "max-age=60, public");
  // What cannot change stays cached for a year.
  EXPECT_EQ(api_.Get("/streams/cc-1/0")[http::bhttp::field::cache_control], "max-age=31536000, public");
  EXPECT_EQ(api_.Get("/streams/cc-1/0/forward/1")[http::bhttp::field::cache_control], "max-age=31536000, public");
}

}  // namespace
}  // namespace dt::store_http

// One test suite for both EventStoreClient implementations: in-process (the engine in a
// temp folder) and remote (a real dt-eventstore process on a free port, when built).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/in_process_client.h"
#include "client/remote_client.h"
#include "client/test_eventstore_process.h"
#include "http/test_client.h"
#include "readmodel/test_databases.h"

namespace dt::client {
namespace {

using namespace std::chrono_literals;

ProposedEvent Ev(const std::string& type, const std::string& data,
                 const std::string& meta = R"({"m":1})") {
  return {Uuid::Random(), type, data, meta};
}

// Collects AppendAsync answers: how often each callback ran and what it got.
class AsyncAnswers {
 public:
  explicit AsyncAnswers(size_t n) : calls_(n, 0), results_(n, Status::Internal("no answer")) {}
  EventStoreClient::AppendCallback For(size_t i) {
    return [this, i](Result<AppendResult> r) {
      std::lock_guard lock(mu_);
      ++calls_[i];
      results_[i] = std::move(r);
      ++answered_;
      cv_.notify_all();
    };
  }
  // Until every callback ran (true) or `timeout` passed.
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return answered_ >= calls_.size(); });
  }
  int Calls(size_t i) {
    std::lock_guard lock(mu_);
    return calls_[i];
  }
  Result<AppendResult> Get(size_t i) {
    std::lock_guard lock(mu_);
    return results_[i];
  }
  size_t size() const { return calls_.size(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> calls_;
  std::vector<Result<AppendResult>> results_;
  size_t answered_ = 0;
};

class ClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = readmodel::testing::TempDir("client");
    if (GetParam() == "in_process") {
      auto c = InProcessClient::Open(dir_ + "/es");
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      client_ = std::move(c).value();
      return;
    }
    RemoteOptions o;
    if (std::string url = testing::ExternalEventStoreUrl(); !url.empty()) {
      o.url = url;
      if (const char* u = std::getenv("DT_TEST_EVENTSTORE_USERNAME")) o.username = u;
      if (const char* p = std::getenv("DT_TEST_EVENTSTORE_PASSWORD")) o.password = p;
    } else if (std::string bin = testing::EventStoreBin(); !bin.empty()) {
      server_ = std::make_unique<testing::EventStoreProcess>(bin, dir_);
      o.url = server_->url();
    } else {
      GTEST_SKIP() << "no dt-eventstore built and no DT_TEST_EVENTSTORE_URL";
    }
    auto c = RemoteClient::Create(o);
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    for (int i = 0; i < 200; ++i) {  // until it answers
      if (client_->ReadHead().ok()) return;
      std::this_thread::sleep_for(25ms);
    }
    FAIL() << "the event store at " << o.url << " did not answer";
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A stream name unique to this test run.
  std::string S(const std::string& base) { return base + "-" + suffix_; }
  std::string dir_;
  std::string suffix_ = Uuid::Random().ToString().substr(0, 8);
  std::unique_ptr<EventStoreClient> client_;
  std::unique_ptr<testing::EventStoreProcess> server_;
};

TEST_P(ClientTest, AppendsAndReadsBackInBothDirections) {
  std::vector<ProposedEvent> batch = {Ev("A", R"({"n":0})"), Ev("B", R"({"n":1,"s":"é"})"),
                                      Ev("C", R"({"n":2})", "")};
  auto r = client_->Append(S("thing-1"), kNoStream, batch);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_number, 0);
  EXPECT_EQ(r->last_number, 2);
  auto fwd = client_->ReadStreamForward(S("thing-1"), 0, 10);
  ASSERT_TRUE(fwd.ok()) << fwd.status().ToString();
  ASSERT_EQ(fwd->events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& e = fwd->events[i];
    EXPECT_EQ(e.stream, S("thing-1"));
    EXPECT_EQ(e.number, static_cast<int64_t>(i));
    EXPECT_EQ(e.id, batch[i].id);
    EXPECT_EQ(e.type, batch[i].type);
    EXPECT_EQ(nlohmann::json::parse(e.data), nlohmann::json::parse(batch[i].data));
    EXPECT_GT(e.created_us, 0);
  }
  EXPECT_EQ(nlohmann::json::parse(fwd->events[0].metadata), nlohmann::json({{"m", 1}}));
  EXPECT_TRUE(fwd->end_of_stream);
  auto back = client_->ReadStreamBackward(S("thing-1"), -1, 2);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->events.size(), 2u);
  EXPECT_EQ(back->events[0].number, 2);
  EXPECT_EQ(back->events[1].number, 1);
  auto from1 = client_->ReadStreamForward(S("thing-1"), 1, 1);
  ASSERT_TRUE(from1.ok());
  ASSERT_EQ(from1->events.size(), 1u);
  EXPECT_EQ(from1->events[0].type, "B");
}

TEST_P(ClientTest, ExpectedVersionRules) {
  ASSERT_TRUE(client_->Append(S("ev-1"), kNoStream, {Ev("A", "{}"), Ev("A", "{}")}).ok());
  auto again = client_->Append(S("ev-1"), kNoStream, {Ev("A", "{}")});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kWrongExpectedVersion);
  EXPECT_EQ(again.status().current_version(), 1);
  auto stale = client_->Append(S("ev-1"), 0, {Ev("A", "{}")});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), Code::kWrongExpectedVersion);
  EXPECT_EQ(stale.status().current_version(), 1);
  auto exact = client_->Append(S("ev-1"), 1, {Ev("A", "{}")});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->first_number, 2);
  EXPECT_TRUE(client_->Append(S("ev-1"), kAny, {Ev("A", "{}")}).ok());
  EXPECT_TRUE(client_->Append(S("ev-1"), kStreamExists, {Ev("A", "{}")}).ok());
  auto missing = client_->Append(S("ev-missing"), kStreamExists, {Ev("A", "{}")});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kWrongExpectedVersion);
}

TEST_P(ClientTest, RepeatedAppendOfTheSameIdsWritesNothing) {
  std::vector<ProposedEvent> batch = {Ev("A", R"({"x":1})")};
  auto first = client_->Append(S("idem-1"), kNoStream, batch);
  ASSERT_TRUE(first.ok());
  auto second = client_->Append(S("idem-1"), kNoStream, batch);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->first_number, 0);
  ASSERT_TRUE(client_->Append(S("idem-1"), 0, {Ev("B", "{}")}).ok());
  std::vector<ProposedEvent> next = {Ev("C", "{}")};
  ASSERT_TRUE(client_->Append(S("idem-1"), 1, next).ok());
  ASSERT_TRUE(client_->Append(S("idem-1"), 1, next).ok());
  auto all = client_->ReadStreamForward(S("idem-1"), 0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->events.size(), 3u);
}

TEST_P(ClientTest, ConcurrentAsyncAppendsAreEachAnsweredOnceAndDurable) {
  // More appends than the remote client has connections, from several threads at once.
  constexpr size_t kThreads = 4, kEach = 60;
  AsyncAnswers answers(kThreads * kEach);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < kEach; ++i) {
        size_t n = t * kEach + i;
        client_->AppendAsync(S("async-" + std::to_string(n)), kNoStream,
                             {Ev("A", "{\"n\":" + std::to_string(n) + "}"), Ev("B", "{}")},
                             answers.For(n));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(answers.Wait(30s));
  for (size_t n = 0; n < answers.size(); ++n) {
    auto r = answers.Get(n);
    ASSERT_TRUE(r.ok()) << n << ": " << r.status().ToString();
    EXPECT_EQ(r->first_number, 0);
    EXPECT_EQ(r->last_number, 1);
  }
  std::this_thread::sleep_for(100ms);  // a second call would come meanwhile
  for (size_t n = 0; n < answers.size(); ++n) ASSERT_EQ(answers.Calls(n), 1) << n;
  for (size_t n : {size_t{0}, size_t{77}, answers.size() - 1}) {
    auto page = client_->ReadStreamForward(S("async-" + std::to_string(n)), 0, 10);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->events.size(), 2u);
    EXPECT_EQ(nlohmann::json::parse(page->events[0].data)["n"], n);
  }
}

TEST_P(ClientTest, AsyncAppendsAnswerLikeAppend) {
  AsyncAnswers created(1);
  std::vector<ProposedEvent> first = {Ev("A", R"({"s":"\"é\\"})"), Ev("A", "{}")};
  client_->AppendAsync(S("async-ev"), kNoStream, first, created.For(0));
  ASSERT_TRUE(created.Wait(10s));
  ASSERT_TRUE(created.Get(0).ok()) << created.Get(0).status().ToString();
  EXPECT_EQ(created.Get(0)->last_number, 1);
  AsyncAnswers answers(4);
  client_->AppendAsync(S("async-ev"), kNoStream, {Ev("A", "{}")}, answers.For(0));  // taken
  client_->AppendAsync(S("async-ev"), 0, {Ev("A", "{}")}, answers.For(1));          // stale
  client_->AppendAsync(S("async-ev"), kNoStream, first, answers.For(2));  // the same ids again
  client_->AppendAsync(S("async-ev"), kNoStream, {}, answers.For(3));     // nothing to append
  ASSERT_TRUE(answers.Wait(10s));
  for (size_t i : {0, 1}) {
    auto r = answers.Get(i);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kWrongExpectedVersion);
    EXPECT_EQ(r.status().current_version(), 1);
  }
  ASSERT_TRUE(answers.Get(2).ok()) << answers.Get(2).status().ToString();
  EXPECT_EQ(answers.Get(2)->first_number, 0);
  EXPECT_EQ(answers.Get(3).status().code(), Code::kInvalidArgument);
  auto page = client_->ReadStreamForward(S("async-ev"), 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].id, first[0].id);
  EXPECT_EQ(nlohmann::json::parse(page->events[0].data)["s"], "\"é\\");
}

TEST_P(ClientTest, MissingStreamsAreNotFound) {
  auto r = client_->ReadStreamForward(S("never-written"), 0, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kStreamNotFound);
  auto b = client_->ReadStreamBackward(S("never-written"), -1, 1);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kStreamNotFound);
}

TEST_P(ClientTest, WholeStreamsReadAcrossPages) {
  for (int i = 0; i < 6; ++i) {
    std::vector<ProposedEvent> batch;
    for (int j = 0; j < 110; ++j) batch.push_back(Ev("N", "{\"i\":" + std::to_string(i * 110 + j) + "}"));
    ASSERT_TRUE(client_->Append(S("long-1"), kAny, std::move(batch)).ok());
  }
  std::vector<ResolvedEvent> all;
  ASSERT_TRUE(ReadWholeStream(*client_, S("long-1"), all).ok());
  ASSERT_EQ(all.size(), 660u);
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].number, static_cast<int64_t>(i));
}

TEST_P(ClientTest, AllScannedEqualsAllReadInPages) {
  auto before = client_->ReadHead();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  for (int i = 0; i < 30; ++i) {
    std::string data = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                       std::string(static_cast<size_t>((i * 53) % 300), 'x') + "\"}";
    ASSERT_TRUE(client_->Append(S("scan-" + std::to_string(i % 4)), kAny, {Ev("A", data)}).ok());
  }
  // A stream's metadata write: a '$' event in $all, left out of both.
  ASSERT_TRUE(client_->Append("$$" + S("scan-1"), kAny, {Ev("$metadata", R"({"$maxCount":100})")}).ok());
  ASSERT_TRUE(client_->Append(S("scan-9"), kAny, {Ev("B", R"({"i":99})")}).ok());
  for (size_t page_size : {1, 3, 8, 100}) {
    AllPosition pos = *before;
    size_t seen = 0;
    for (int guard = 0; guard < 200; ++guard) {
      auto want = client_->ReadAllForward(pos, page_size, 0ms);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      std::vector<ResolvedEvent> got;
      AllPosition next;
      bool end = false;
      Status s = client_->ScanAllForward(
          pos, page_size,
          [&](const ResolvedEventView& v) {
            got.push_back(ResolvedEvent{std::string(v.stream), v.number, v.id,
                                        std::string(v.type), std::string(v.data),
                                        std::string(v.metadata), v.created_us});
          },
          &next, &end);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(got.size(), want->events.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const ResolvedEvent& a = got[i];
        const ResolvedEvent& b = want->events[i];
        EXPECT_NE(a.type[0], '$');
        ASSERT_TRUE(a.stream == b.stream && a.number == b.number && a.id == b.id &&
                    a.type == b.type && a.data == b.data && a.metadata == b.metadata &&
                    a.created_us == b.created_us)
            << "page size " << page_size << " event " << i;
      }
      seen += got.size();
      EXPECT_EQ(next, want->next);
      EXPECT_EQ(end, want->end_of_log);
      if (end && next == pos) break;
      pos = next;
      if (end) break;
    }
    EXPECT_GE(seen, 31u);
    // At the end: nothing, and the same position back.
    AllPosition next;
    bool end = false;
    size_t more = 0;
    Status s = client_->ScanAllForward(
        pos, page_size, [&](const ResolvedEventView&) { ++more; }, &next, &end);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(more, 0u);
    EXPECT_TRUE(end);
    if (GetParam() == "in_process") {
      EXPECT_EQ(next, pos);
    }
  }
}

TEST_P(ClientTest, AllIsReadInOrderInPagesAndLongPollWaitsForNewEvents) {
  auto before = client_->ReadHead();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(client_->Append(S("all-a"), kNoStream, {Ev("A", R"({"i":0})")}).ok());
  ASSERT_TRUE(client_->Append(S("all-b"), kNoStream, {Ev("A", R"({"i":1})"), Ev("A", R"({"i":2})")}).ok());
  ASSERT_TRUE(client_->Append(S("all-a"), 0, {Ev("A", R"({"i":3})")}).ok());
  std::vector<int> seen;
  AllPosition pos = *before;
  for (int guard = 0; guard < 100; ++guard) {
    auto page = client_->ReadAllForward(pos, 2, 0ms);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& e : page->events) {
      EXPECT_NE(e.type[0], '$');
      if (e.stream == S("all-a") || e.stream == S("all-b")) {
        seen.push_back(nlohmann::json::parse(e.data)["i"]);
      }
    }
    if (page->end_of_log && page->next == pos) break;
    pos = page->next;
    if (page->end_of_log) break;
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3}));

  auto head = client_->ReadHead();
  ASSERT_TRUE(head.ok());
  auto empty = client_->ReadAllForward(*head, 10, 0ms);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->events.empty());
  std::thread writer([&] {
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(client_->Append(S("all-late"), kNoStream, {Ev("Late", "{}")}).ok());
  });
  auto start = std::chrono::steady_clock::now();
  auto waited = client_->ReadAllForward(*head, 10, 5000ms);
  auto took = std::chrono::steady_clock::now() - start;
  writer.join();
  ASSERT_TRUE(waited.ok());
  ASSERT_FALSE(waited->events.empty());
  EXPECT_EQ(waited->events.back().type, "Late");
  EXPECT_LT(took, 4000ms);  // answered when the event came, not at the end of the poll
  EXPECT_GT(waited->next, *head);
}

// The remote client's connections against a real dt-eventstore process that stops
// answering (SIGSTOP) or dies (kill -9) and comes back.
class RemoteConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = testing::EventStoreBin();
    if (bin_.empty()) GTEST_SKIP() << "no dt-eventstore built";
    dir_ = readmodel::testing::TempDir("client-conn");
    server_ = std::make_unique<testing::EventStoreProcess>(bin_, dir_);
    RemoteOptions o;
    o.url = server_->url();
    o.request_timeout = 300ms;
    auto c = RemoteClient::Create(o);
    ASSERT_TRUE(c.ok());
    client_ = std::move(c).value();
    ASSERT_TRUE(Answers());
  }
  void TearDown() override {
    client_.reset();
    if (server_) ::kill(server_->pid(), SIGCONT);
    server_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  bool Answers() {
    for (int i = 0; i < 200; ++i) {
      if (client_->ReadHead().ok()) return true;
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }
  // Until the process's state is "stopped" (signals are delivered asynchronously).
  static bool Stopped(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      auto paren = text.rfind(')');
      if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'T') return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  std::string bin_, dir_;
  std::unique_ptr<testing::EventStoreProcess> server_;
  std::unique_ptr<RemoteClient> client_;
};

// What a browser on another origin needs from dt-eventstore (the process as shipped): every
// answer lets it read the answer and its Location/ES-Position; the pre-flight (OPTIONS) says
// which methods and request headers it may send. The pre-flight-only headers are left off
// the other answers (their bytes were a tenth of an append's round trip).
TEST_F(RemoteConnectionTest, BrowsersGetCorsHeadersAndPreflightsTheAllowedMethodsAndHeaders) {
  http::TestClient web(server_->port());
  auto pre = web.Do(http::Verb::options, "/streams/cors-s", {},
                    {{"Origin", "http://app.example"},
                     {"Access-Control-Request-Method", "POST"},
                     {"Access-Control-Request-Headers", "authorization, es-expectedversion, content-type"}});
  EXPECT_EQ(pre.result_int(), 200);
  EXPECT_EQ(pre["Access-Control-Allow-Origin"], "*");
  std::string methods(pre["Access-Control-Allow-Methods"]);
  std::string allowed(pre["Access-Control-Allow-Headers"]);
  for (const char* m : {"POST", "GET", "DELETE", "OPTIONS"}) {
    EXPECT_NE(methods.find(m), std::string::npos) << m;
  }
  for (const char* h : {"Authorization", "Content-Type", "ES-ExpectedVersion", "ES-EventId",
                        "ES-EventType", "ES-LongPoll", "Kurrent-ExpectedVersion"}) {
    EXPECT_NE(allowed.find(h), std::string::npos) << h;
  }

  auto post = web.Do(http::Verb::post, "/streams/cors-s", R"([{"eventId":")" +
                         Uuid::Random().ToString() + R"(","eventType":"E","data":{"a":1}}])",
                     {{"Origin", "http://app.example"},
                      {"Authorization", "Basic YWRtaW46Y2hhbmdlaXQ="},
                      {"Content-Type", "application/vnd.eventstore.events+json"}});
  ASSERT_EQ(post.result_int(), 201) << post.body();
  EXPECT_EQ(post["Access-Control-Allow-Origin"], "*");
  std::string exposed(post["Access-Control-Expose-Headers"]);
  for (const char* h : {"Location", "ES-Position", "ES-CurrentVersion"}) {
    EXPECT_NE(exposed.find(h), std::string::npos) << h;
  }
  EXPECT_EQ(post.count("Access-Control-Allow-Headers"), 0u);
  EXPECT_EQ(post.count("Access-Control-Allow-Methods"), 0u);

  auto get = web.Do(http::Verb::get, "/streams/cors-s/0",
                    {}, {{"Authorization", "Basic YWRtaW46Y2hhbmdlaXQ="},
                         {"Accept", "application/json"}});
  EXPECT_EQ(get.result_int(), 200) << get.body();
  EXPECT_EQ(get["Access-Control-Allow-Origin"], "*");
  EXPECT_NE(std::string(get["Access-Control-Expose-Headers"]).find("Location"), std::string::npos);
}

TEST_F(RemoteConnectionTest, AServerThatStopsAnsweringTimesOutAndIsUsedAgainOnceItAnswers) {
  ASSERT_TRUE(client_->Append("s", kNoStream, {Ev("E", R"({"a":1})")}).ok());
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Stopped(server_->pid()));
  auto start = std::chrono::steady_clock::now();
  auto r = client_->ReadStreamForward("s", 0, 10);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.status().Is(Code::kUnavailable)) << r.status().ToString();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
  ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
  auto again = client_->ReadStreamForward("s", 0, 10);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->events.size(), 1u);
}

TEST_F(RemoteConnectionTest, PooledConnectionsToAServerThatDiedAreReplacedAfterItsRestart) {
  // Several idle pooled connections, all dead once the server is killed.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EXPECT_TRUE(client_->Append("s-" + std::to_string(t), kNoStream, {Ev("E", R"({"a":1})")}).ok());
    });
  }
  for (auto& t : threads) t.join();
  uint16_t port = server_->port();
  ::kill(server_->pid(), SIGKILL);
  server_.reset();
  server_ = std::make_unique<testing::EventStoreProcess>(bin_, dir_, port);
  ASSERT_TRUE(Answers());
  for (int t = 0; t < 4; ++t) {
    auto r = client_->ReadStreamForward("s-" + std::to_string(t), 0, 10);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->events.size(), 1u);
  }
  auto a = client_->Append("s-0", 0, {Ev("F", R"({"a":2})")});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->first_number, 1);
}

TEST_F(RemoteConnectionTest, AnAsyncAppendToAServerThatStopsAnsweringFailsThroughItsCallback) {
  AsyncAnswers warm(1);
  client_->AppendAsync("s", kNoStream, {Ev("E", "{}")}, warm.For(0));
  ASSERT_TRUE(warm.Wait(5s));
  ASSERT_TRUE(warm.Get(0).ok()) << warm.Get(0).status().ToString();
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Stopped(server_->pid()));
  AsyncAnswers answers(3);
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < answers.size(); ++i) {
    client_->AppendAsync("t-" + std::to_string(i), kNoStream, {Ev("E", "{}")}, answers.For(i));
  }
  ASSERT_TRUE(answers.Wait(5s));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms);
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_TRUE(answers.Get(i).status().Is(Code::kUnavailable)) << answers.Get(i).status().ToString();
  }
  ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
  AsyncAnswers after(1);
  client_->AppendAsync("s", 0, {Ev("E", "{}")}, after.For(0));
  ASSERT_TRUE(after.Wait(5s));
  ASSERT_TRUE(after.Get(0).ok()) << after.Get(0).status().ToString();
  EXPECT_EQ(after.Get(0)->first_number, 1);
  for (size_t i = 0; i < answers.size(); ++i) EXPECT_EQ(answers.Calls(i), 1);
}

TEST_F(RemoteConnectionTest, AsyncAppendsWorkAgainAfterTheServerIsKilledAndRestarted) {
  // Several pooled connections, then the server dies under them.
  AsyncAnswers before(8);
  for (size_t i = 0; i < before.size(); ++i) {
    client_->AppendAsync("k-" + std::to_string(i), kNoStream, {Ev("E", "{}")}, before.For(i));
  }
  ASSERT_TRUE(before.Wait(5s));
  for (size_t i = 0; i < before.size(); ++i) ASSERT_TRUE(before.Get(i).ok());
  uint16_t port = server_->port();
  ::kill(server_->pid(), SIGKILL);
  server_.reset();
  AsyncAnswers down(2);
  for (size_t i = 0; i < down.size(); ++i) {
    client_->AppendAsync("d-" + std::to_string(i), kNoStream, {Ev("E", "{}")}, down.For(i));
  }
  ASSERT_TRUE(down.Wait(5s));
  for (size_t i = 0; i < down.size(); ++i) {
    EXPECT_TRUE(down.Get(i).status().Is(Code::kUnavailable)) << down.Get(i).status().ToString();
  }
  server_ = std::make_unique<testing::EventStoreProcess>(bin_, dir_, port);
  ASSERT_TRUE(Answers());
  AsyncAnswers after(8);
  for (size_t i = 0; i < after.size(); ++i) {
    client_->AppendAsync("k-" + std::to_string(i), 0, {Ev("F", "{}")}, after.For(i));
  }
  ASSERT_TRUE(after.Wait(5s));
  for (size_t i = 0; i < after.size(); ++i) {
    auto r = after.Get(i);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->first_number, 1);  // the acknowledged first event survived the kill
    EXPECT_EQ(after.Calls(i), 1);
  }
}

TEST_F(RemoteConnectionTest, DestroyingTheClientAnswersEveryAppendInFlightOnce) {
  AsyncAnswers warm(1);
  client_->AppendAsync("w", kNoStream, {Ev("E", "{}")}, warm.For(0));
  ASSERT_TRUE(warm.Wait(5s));
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Stopped(server_->pid()));
  // More than the connections: some in flight, some queued.
  AsyncAnswers answers(150);
  for (size_t i = 0; i < answers.size(); ++i) {
    client_->AppendAsync("x-" + std::to_string(i), kNoStream, {Ev("E", "{}")}, answers.For(i));
  }
  std::this_thread::sleep_for(20ms);
  client_.reset();
  ASSERT_TRUE(answers.Wait(0ms));  // all answered before the destructor returned
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers.Calls(i), 1) << i;
    EXPECT_TRUE(answers.Get(i).status().Is(Code::kUnavailable)) << answers.Get(i).status().ToString();
  }
}

TEST_F(RemoteConnectionTest, StopAppendsAnswersTheAppendsInFlightAndLaterOnesAtOnce) {
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  ASSERT_TRUE(Stopped(server_->pid()));
  AsyncAnswers answers(100);
  for (size_t i = 0; i < answers.size(); ++i) {
    client_->AppendAsync("y-" + std::to_string(i), kNoStream, {Ev("E", "{}")}, answers.For(i));
  }
  client_->StopAppends();
  ASSERT_TRUE(answers.Wait(0ms));  // all answered before StopAppends returned
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers.Calls(i), 1) << i;
    EXPECT_TRUE(answers.Get(i).status().Is(Code::kUnavailable)) << answers.Get(i).status().ToString();
  }
  client_->StopAppends();  // again: nothing to do
  AsyncAnswers later(1);
  client_->AppendAsync("z", kNoStream, {Ev("E", "{}")}, later.For(0));
  EXPECT_EQ(later.Calls(0), 1);  // on this thread, at once
  EXPECT_TRUE(later.Get(0).status().Is(Code::kUnavailable));
  ASSERT_EQ(::kill(server_->pid(), SIGCONT), 0);
  auto r = client_->Append("z", kNoStream, {Ev("E", "{}")});  // the blocking calls still work
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_number, 0);
}

INSTANTIATE_TEST_SUITE_P(Clients, ClientTest, ::testing::Values("in_process", "remote"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dt::client

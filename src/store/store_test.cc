// Store: the public API end to end on a real folder.
#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "store/test_util.h"

namespace dt::store {
namespace {

using testing::MakeEvent;
using testing::MakeEvents;
using testing::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Options o;
    o.folder = dir_.path();
    o.segment_bytes = segment_bytes_;
    auto r = Store::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r).value();
  }
  TempDir dir_;
  uint64_t segment_bytes_ = 1 << 20;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, AppendsAndReadsBackAStream) {
  auto r = store_->Append("orders-1", kExpectedNoStream, MakeEvents(3));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_number, 0);
  EXPECT_EQ(r->last_number, 2);
  EXPECT_FALSE(r->duplicate);
  EXPECT_LT(r->first_position, r->last_position);
  auto r2 = store_->Append("orders-1", 2, MakeEvents(2, "x"));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->first_number, 3);
  EXPECT_EQ(r2->last_number, 4);

  auto s = store_->ReadStream("orders-1", 0, 100, Direction::kForward);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->events.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s->events[i].number, i);
  EXPECT_EQ(s->events[0].data, "{\"e\":0}");
  EXPECT_EQ(s->events[3].data, "{\"x\":0}");
  EXPECT_EQ(s->events[0].stream, "orders-1");
  EXPECT_EQ(s->events[0].metadata, "{}");
  EXPECT_TRUE(s->events[0].is_json);
  EXPECT_GT(s->events[0].created_us, 0);
  EXPECT_TRUE(s->end_of_stream);
  EXPECT_EQ(s->last_number, 4);
  EXPECT_EQ(s->next_number, 5);

  auto b = store_->ReadStream("orders-1", -1, 2, Direction::kBackward);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->events.size(), 2u);
  EXPECT_EQ(b->events[0].number, 4);
  EXPECT_EQ(b->events[1].number, 3);
  EXPECT_EQ(b->next_number, 2);
  EXPECT_FALSE(b->end_of_stream);

  auto e = store_->ReadEvent("orders-1", 3);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->data, "{\"x\":0}");
  auto last = store_->ReadEvent("orders-1", -1);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->number, 4);
  EXPECT_TRUE(store_->ReadEvent("orders-1", 5).status().Is(Code::kNotFound));
  EXPECT_TRUE(store_->ReadStream("nope", 0, 10, Direction::kForward).status().Is(Code::kStreamNotFound));
}

TEST_F(StoreTest, PagesThroughALongStreamBothWays) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->Append("long", kExpectedAny, MakeEvents(50)).ok());
  int64_t next = 0;
  int64_t expect = 0;
  for (;;) {
    auto s = store_->ReadStream("long", next, 37, Direction::kForward);
    ASSERT_TRUE(s.ok());
    for (auto& e : s->events) EXPECT_EQ(e.number, expect++);
    next = s->next_number;
    if (s->end_of_stream) break;
  }
  EXPECT_EQ(expect, 1000);
  int64_t from = -1;
  expect = 999;
  for (;;) {
    auto s = store_->ReadStream("long", from, 41, Direction::kBackward);
    ASSERT_TRUE(s.ok());
    for (auto& e : s->events) EXPECT_EQ(e.number, expect--);
    from = s->next_number;
    if (s->end_of_stream) break;
  }
  EXPECT_EQ(expect, -1);
}

TEST_F(StoreTest, ValidatesInput) {
  EXPECT_TRUE(store_->Append("", kExpectedAny, MakeEvents(1)).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("s", kExpectedAny, {}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("$all", kExpectedAny, MakeEvents(1)).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("s", kExpectedAny, {MakeEvent("", "{}")}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("s", kExpectedAny, {MakeEvent("T", "{}", Uuid{})}).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("s", -3, MakeEvents(1)).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->Append("s", kExpectedAny, {MakeEvent("T", std::string(17 << 20, 'x'))}).status().Is(Code::kTooLarge));
  EXPECT_FALSE(store_->GetStreamInfo("s")->exists);  // nothing was written
}

TEST_F(StoreTest, SurvivesReopenAndRebuildsAMissingIndex) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Append("s-" + std::to_string(i % 3), kExpectedAny, MakeEvents(5)).ok());
  const Position head = store_->HeadPosition();
  Reopen();
  EXPECT_EQ(store_->HeadPosition(), head);
  auto s = store_->ReadStream("s-0", 0, 100, Direction::kForward);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->events.size(), 20u);
  // Delete the index: it is rebuilt from the log.
  store_.reset();
  std::filesystem::remove_all(dir_.sub("index"));
  Reopen();
  s = store_->ReadStream("s-1", 0, 100, Direction::kForward);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->events.size(), 15u);
  auto r = store_->Append("s-1", 14, MakeEvents(1));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_number, 15);
  EXPECT_EQ(store_->GetStats().streams, 3u);
}

TEST_F(StoreTest, ReadsAllForwardAndBackwardAcrossSegments) {
  segment_bytes_ = 1 << 16;
  Reopen();
  std::vector<Uuid> ids;
  for (int i = 0; i < 300; ++i) {
    auto ev = MakeEvents(1);
    ev[0].data = std::string(400, 'a' + i % 26);
    ids.push_back(ev[0].id);
    ASSERT_TRUE(store_->Append("stream-" + std::to_string(i % 7), kExpectedAny, std::move(ev)).ok());
  }
  std::vector<Uuid> seen;
  Position pos = 0;
  for (;;) {
    auto s = store_->ReadAll(pos, 23, Direction::kForward);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (auto& e : s->events) seen.push_back(e.id);
    pos = s->next_position;
    if (s->end_of_log) break;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pos, store_->HeadPosition());
  std::vector<Uuid> back;
  pos = UINT64_MAX;
  for (;;) {
    auto s = store_->ReadAll(pos, 29, Direction::kBackward);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (auto& e : s->events) back.push_back(e.id);
    pos = s->next_position;
    if (s->end_of_log) break;
  }
  std::reverse(back.begin(), back.end());
  EXPECT_EQ(back, ids);
  EXPECT_TRUE(store_->ReadAll(7, 1, Direction::kForward).status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(store_->ReadAll(7, 1, Direction::kBackward).status().Is(Code::kInvalidArgument));
  // Backward from an event's position: the events before it.
  auto mid = store_->ReadAll(0, 150, Direction::kForward);
  ASSERT_TRUE(mid.ok());
  auto before = store_->ReadAll(mid->events.back().position, 2, Direction::kBackward);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->events.size(), 2u);
  EXPECT_EQ(before->events[0].id, ids[148]);
  EXPECT_EQ(before->events[1].id, ids[147]);
  Reopen();
  auto again = store_->ReadAll(0, 1000, Direction::kForward);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events.size(), 300u);
}

TEST_F(StoreTest, ScanAllHandsOverWhatReadAllReads) {
  segment_bytes_ = 1 << 16;
  Reopen();
  for (int i = 0; i < 200; ++i) {
    auto ev = MakeEvents(1);
    ev[0].data = std::string(static_cast<size_t>(100 + (i * 37) % 900), 'a' + i % 26);
    ev[0].metadata = "{\"i\":" + std::to_string(i) + "}";
    ASSERT_TRUE(store_->Append("scan-" + std::to_string(i % 5), kExpectedAny, std::move(ev)).ok());
  }
  auto big = MakeEvents(1);
  big[0].data = std::string(3 << 20, 'z');  // larger than a page's read buffer
  ASSERT_TRUE(store_->Append("scan-big", kExpectedAny, std::move(big)).ok());
  ASSERT_TRUE(store_->Append("scan-0", kExpectedAny, MakeEvents(3)).ok());
  for (size_t page : {1, 7, 64, 1000}) {
    Position pos = 0;
    for (int guard = 0; guard < 1000; ++guard) {
      auto want = store_->ReadAll(pos, page, Direction::kForward);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      std::vector<RecordedEvent> got;
      auto end = store_->ScanAll(pos, page, [&](const RecordedEventView& v) {
        got.push_back(ToRecordedEvent(v));
      });
      ASSERT_TRUE(end.ok()) << end.status().ToString();
      ASSERT_EQ(got.size(), want->events.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const RecordedEvent& a = got[i];
        const RecordedEvent& b = want->events[i];
        ASSERT_TRUE(a.stream == b.stream && a.number == b.number && a.position == b.position &&
                    a.id == b.id && a.type == b.type && a.data == b.data &&
                    a.metadata == b.metadata && a.is_json == b.is_json &&
                    a.created_us == b.created_us)
            << "page " << page << " event " << i;
      }
      EXPECT_EQ(end->next_position, want->next_position);
      EXPECT_EQ(end->end_of_log, want->end_of_log);
      pos = want->next_position;
      if (want->end_of_log) break;
    }
    EXPECT_EQ(pos, store_->HeadPosition());
  }
  // A scan started from within another one's callback reads on its own buffer.
  std::vector<std::string> outer, inner;
  auto end = store_->ScanAll(0, 5, [&](const RecordedEventView& v) {
    auto nested = store_->ScanAll(0, 3, [&](const RecordedEventView& w) {
      inner.emplace_back(w.data);
    });
    ASSERT_TRUE(nested.ok());
    outer.emplace_back(v.data);
  });
  ASSERT_TRUE(end.ok());
  auto first = store_->ReadAll(0, 5, Direction::kForward);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(outer.size(), 5u);
  ASSERT_EQ(inner.size(), 15u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(outer[i], first->events[i].data);
    EXPECT_EQ(inner[i * 3 + 1], first->events[1].data);
  }
  EXPECT_TRUE(store_->ScanAll(7, 1, [](const RecordedEventView&) {}).status().Is(
      Code::kInvalidArgument));
  auto past = store_->ScanAll(store_->HeadPosition() + 100, 10, [](const RecordedEventView&) {
    ADD_FAILURE() << "an event past the head";
  });
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->end_of_log);
  EXPECT_EQ(past->next_position, store_->HeadPosition());
}

TEST_F(StoreTest, ABatchLargerThanASegmentGetsASegmentOfItsOwn) {
  segment_bytes_ = 1 << 16;
  Reopen();
  ASSERT_TRUE(store_->Append("small", kExpectedAny, MakeEvents(3)).ok());
  auto big = MakeEvents(40);
  for (auto& e : big) e.data = "\"" + std::string(5000, 'b') + "\"";  // 200 KB in one batch
  auto r = store_->Append("big", kExpectedAny, std::move(big));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(store_->Append("small", kExpectedAny, MakeEvents(3)).ok());
  for (int pass = 0; pass < 2; ++pass) {
    auto all = store_->ReadAll(0, 1000, Direction::kForward);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(all->events.size(), 46u);
    auto b = store_->ReadStream("big", 0, 100, Direction::kForward);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->events.size(), 40u);
    Reopen();
  }
}

TEST_F(StoreTest, SoftDeleteHidesTheStreamAndAnAppendRecreatesIt) {
  ASSERT_TRUE(store_->Append("cart", kExpectedAny, MakeEvents(3)).ok());
  ASSERT_TRUE(store_->Append("$$cart", kExpectedAny, {MakeEvent("$metadata", "{\"owner\":\"ann\"}")}).ok());
  auto d = store_->Delete("cart", 2, false);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(store_->ReadStream("cart", 0, 10, Direction::kForward).status().Is(Code::kStreamNotFound));
  auto info = store_->GetStreamInfo("cart");
  EXPECT_TRUE(info->soft_deleted);
  EXPECT_FALSE(info->exists);
  // Recreate with no_stream: numbering continues; the old events stay hidden.
  auto r = store_->Append("cart", kExpectedNoStream, MakeEvents(2, "new"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_number, 3);
  auto s = store_->ReadStream("cart", 0, 10, Direction::kForward);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->events.size(), 2u);
  EXPECT_EQ(s->events[0].number, 3);
  auto m = store_->GetMetadata("cart");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->truncate_before, 3);
  EXPECT_NE(m->json.find("ann"), std::string::npos);  // other keys kept
  Reopen();
  s = store_->ReadStream("cart", 0, 10, Direction::kForward);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->events.size(), 2u);
}

TEST_F(StoreTest, TombstoneRefusesEverythingAndAppearsInAll) {
  ASSERT_TRUE(store_->Append("gone", kExpectedAny, MakeEvents(2)).ok());
  auto d = store_->Delete("gone", kExpectedAny, true);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(store_->ReadStream("gone", 0, 10, Direction::kForward).status().Is(Code::kStreamDeleted));
  EXPECT_TRUE(store_->ReadEvent("gone", 0).status().Is(Code::kStreamDeleted));
  EXPECT_TRUE(store_->Append("gone", kExpectedAny, MakeEvents(1)).status().Is(Code::kStreamDeleted));
  EXPECT_TRUE(store_->Append("gone", kExpectedNoStream, MakeEvents(1)).status().Is(Code::kStreamDeleted));
  EXPECT_TRUE(store_->Delete("gone", kExpectedAny, false).status().Is(Code::kStreamDeleted));
  EXPECT_TRUE(store_->Append("$$gone", kExpectedAny, {MakeEvent("$metadata", "{}")}).status().Is(Code::kStreamDeleted));
  auto all = store_->ReadAll(0, 100, Direction::kForward);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->events.size(), 3u);
  EXPECT_EQ(all->events[2].type, "$streamDeleted");
  EXPECT_EQ(all->events[2].number, kDeletedStreamNumber);
  EXPECT_TRUE(store_->GetStreamInfo("gone")->tombstoned);
  Reopen();
  EXPECT_TRUE(store_->ReadStream("gone", 0, 10, Direction::kForward).status().Is(Code::kStreamDeleted));
}

TEST_F(StoreTest, MetadataIsAppliedOnStreamReadsButNotOnAll) {
  ASSERT_TRUE(store_->Append("capped", kExpectedAny, MakeEvents(10)).ok());
  ASSERT_TRUE(store_->Append("$$capped", kExpectedAny, {MakeEvent("$metadata", "{\"$maxCount\":3}")}).ok());
  auto s = store_->ReadStream("capped", 0, 100, Direction::kForward);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->events.size(), 3u);
  EXPECT_EQ(s->events[0].number, 7);
  EXPECT_TRUE(store_->ReadEvent("capped", 2).status().Is(Code::kNotFound));
  ASSERT_TRUE(store_->Append("$$capped", kExpectedAny, {MakeEvent("$metadata", "{\"$tb\":8}")}).ok());
  s = store_->ReadStream("capped", -1, 100, Direction::kBackward);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->events.size(), 2u);
  EXPECT_EQ(s->events[0].number, 9);
  EXPECT_TRUE(s->end_of_stream);
  ASSERT_TRUE(store_->Append("$$capped", kExpectedAny, {MakeEvent("$metadata", "{\"$maxAge\":0}")}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  s = store_->ReadStream("capped", 0, 100, Direction::kForward);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->events.empty());
  auto all = store_->ReadAll(0, 100, Direction::kForward);
  EXPECT_EQ(all->events.size(), 13u);
}

// A stream's last event read backward alone (the common "current state" read, answered from
// the stream's latest record) is the same event a longer read answers through the index:
// after each append, interleaved with other streams, after a reopen, under metadata.
TEST_F(StoreTest, TheLastEventReadAloneIsTheOneTheIndexGives) {
  // `lo`: the first event the stream's metadata leaves readable.
  auto expect_last = [&](const std::string& stream, int64_t number, const std::string& data,
                         int64_t lo = 0) {
    auto one = store_->ReadStream(stream, -1, 1, Direction::kBackward);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    ASSERT_EQ(one->events.size(), 1u) << stream;
    auto two = store_->ReadStream(stream, -1, 2, Direction::kBackward);  // through the index
    ASSERT_TRUE(two.ok());
    ASSERT_FALSE(two->events.empty());
    EXPECT_EQ(one->events[0].number, number);
    EXPECT_EQ(one->events[0].data, data);
    EXPECT_EQ(one->events[0].stream, stream);
    EXPECT_EQ(one->events[0].number, two->events[0].number);
    EXPECT_EQ(one->events[0].id, two->events[0].id);
    EXPECT_EQ(one->events[0].position, two->events[0].position);
    EXPECT_EQ(one->events[0].metadata, two->events[0].metadata);
    EXPECT_EQ(one->events[0].created_us, two->events[0].created_us);
    EXPECT_EQ(one->end_of_stream, number - 1 < lo);
    EXPECT_EQ(one->next_number, number - 1 < lo ? -1 : number - 1);
  };
  for (int i = 0; i < 4; ++i) {
    std::string data = "{\"n\":" + std::to_string(i) + "}";
    ASSERT_TRUE(store_->Append("a-1", kExpectedAny, {MakeEvent("T", data)}).ok());
    ASSERT_TRUE(store_->Append("b-1", kExpectedAny, MakeEvents(2)).ok());
    expect_last("a-1", i, data);
  }
  std::string large = "{\"big\":\"";  // above one page
  large.append(10000, 'x');
  large += "\"}";
  ASSERT_TRUE(store_->Append("c-1", kExpectedAny, {MakeEvent("T", large)}).ok());
  expect_last("c-1", 0, large);
  Reopen();
  expect_last("a-1", 3, "{\"n\":3}");
  expect_last("c-1", 0, large);
  ASSERT_TRUE(store_->Append("$$a-1", kExpectedAny, {MakeEvent("$metadata", "{\"$maxCount\":1}")}).ok());
  expect_last("a-1", 3, "{\"n\":3}", 3);
  ASSERT_TRUE(store_->Append("$$a-1", kExpectedAny, {MakeEvent("$metadata", "{\"$maxAge\":0}")}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto aged = store_->ReadStream("a-1", -1, 1, Direction::kBackward);
  ASSERT_TRUE(aged.ok());
  EXPECT_TRUE(aged->events.empty());  // older than $maxAge: not answered
  auto at = store_->ReadStream("a-1", 2, 1, Direction::kBackward);  // not the last: the index
  ASSERT_TRUE(at.ok());
  EXPECT_TRUE(at->events.empty());
  auto b = store_->ReadStream("b-1", 5, 1, Direction::kBackward);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->events.size(), 1u);
  EXPECT_EQ(b->events[0].number, 5);
}

TEST_F(StoreTest, SubscriptionToAllSwitchesFromHistoryToLiveWithoutGapOrDuplicate) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store_->Append("h-" + std::to_string(i % 5), kExpectedAny, MakeEvents(2)).ok());
  auto sub = store_->SubscribeToAll(std::nullopt);
  ASSERT_TRUE(sub.ok());
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < 100; ++i) ASSERT_TRUE(store_->Append("live-" + std::to_string(w), kExpectedAny, MakeEvents(1)).ok());
    });
  std::set<Uuid> seen;
  Position last = 0;
  bool first = true;
  while (seen.size() < 100 + 400) {
    auto batch = (*sub)->Next(64, std::chrono::milliseconds(2000));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) break;
    for (auto& e : *batch) {
      EXPECT_TRUE(seen.insert(e.id).second) << "duplicate";
      if (!first) {
        EXPECT_GT(e.position, last);
      }
      last = e.position;
      first = false;
    }
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(seen.size(), 500u);
  EXPECT_TRUE((*sub)->caught_up() || seen.size() == 500u);
  // Resuming after a position delivers what follows it.
  auto resumed = store_->SubscribeToAll(last);
  ASSERT_TRUE(resumed.ok());
  auto none = (*resumed)->Next(10, std::chrono::milliseconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(store_->Append("after", kExpectedAny, MakeEvents(1)).ok());
  auto one = (*resumed)->Next(10, std::chrono::milliseconds(2000));
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].stream, "after");
}

TEST_F(StoreTest, StreamSubscriptionDeliversHistoryThenLiveThenDeletion) {
  ASSERT_TRUE(store_->Append("acct", kExpectedAny, MakeEvents(3)).ok());
  auto sub = store_->SubscribeToStream("acct", 0);  // after event 0
  ASSERT_TRUE(sub.ok());
  auto h = (*sub)->Next(10, std::chrono::milliseconds(100));
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0].number, 1);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(store_->Append("acct", kExpectedAny, MakeEvents(1)).ok());
    ASSERT_TRUE(store_->Append("other", kExpectedAny, MakeEvents(1)).ok());
  });
  auto live = (*sub)->Next(10, std::chrono::milliseconds(3000));
  t.join();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].number, 3);
  EXPECT_TRUE((*sub)->caught_up());
  ASSERT_TRUE(store_->Delete("acct", kExpectedAny, true).ok());
  auto end = (*sub)->Next(10, std::chrono::milliseconds(100));
  EXPECT_TRUE(end.status().Is(Code::kStreamDeleted));
  (*sub)->Close();
}

TEST_F(StoreTest, SubscriptionWaitingForEventsEndsWhenTheStoreCloses) {
  auto sub = store_->SubscribeToAll(store_->HeadPosition());
  ASSERT_TRUE(sub.ok());
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(store_->Close().ok());
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*sub)->Next(10, std::chrono::seconds(20));
  closer.join();
  EXPECT_TRUE(r.status().Is(Code::kStopped)) << r.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_TRUE(store_->Append("s", kExpectedAny, MakeEvents(1)).status().Is(Code::kStopped));
  EXPECT_TRUE(store_->ReadAll(0, 1, Direction::kForward).status().Is(Code::kStopped));
}

TEST_F(StoreTest, SlowSubscriberFallsBehindWithoutHoldingUpWritersAndCatchesUp) {
  auto sub = store_->SubscribeToAll(std::nullopt);
  ASSERT_TRUE(sub.ok());
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store_->Append("fast", kExpectedAny, MakeEvents(50)).ok());
  EXPECT_FALSE((*sub)->caught_up());
  int64_t expect = 0;
  while (expect < 2000) {
    auto batch = (*sub)->Next(7, std::chrono::milliseconds(500));
    ASSERT_TRUE(batch.ok());
    ASSERT_FALSE(batch->empty());
    for (auto& e : *batch) EXPECT_EQ(e.number, expect++);
  }
  auto none = (*sub)->Next(7, std::chrono::milliseconds(1));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_TRUE((*sub)->caught_up());
}

TEST_F(StoreTest, CommitListenerSeesEveryHead) {
  std::atomic<Position> last{0};
  std::atomic<int> calls{0};
  uint64_t id = store_->AddCommitListener([&](Position head) {
    last = head;
    ++calls;
  });
  ASSERT_TRUE(store_->Append("l", kExpectedAny, MakeEvents(2)).ok());
  EXPECT_EQ(last.load(), store_->HeadPosition());
  EXPECT_GE(calls.load(), 1);
  store_->RemoveCommitListener(id);
  const int before = calls.load();
  ASSERT_TRUE(store_->Append("l", kExpectedAny, MakeEvents(2)).ok());
  EXPECT_EQ(calls.load(), before);
  Stats st = store_->GetStats();
  EXPECT_EQ(st.events_written, 4u);
  EXPECT_GE(st.fsyncs, 2u);
  EXPECT_EQ(st.fsync_buckets.size(), Store::FsyncBucketBounds().size());
  uint64_t bucketed = 0;
  for (auto c : st.fsync_buckets) bucketed += c;
  EXPECT_EQ(bucketed, st.fsyncs);
}

TEST_F(StoreTest, SecondOpenOfTheFolderIsRefusedNamingTheHolder) {
  Options o;
  o.folder = dir_.path();
  auto second = Store::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().Is(Code::kIOError));
  EXPECT_NE(second.status().message().find(std::to_string(::getpid())), std::string::npos)
      << second.status().message();
}

TEST_F(StoreTest, ListsStreamsMostRecentFirst) {
  ASSERT_TRUE(store_->Append("a", kExpectedAny, MakeEvents(1)).ok());
  ASSERT_TRUE(store_->Append("b", kExpectedAny, MakeEvents(1)).ok());
  ASSERT_TRUE(store_->Append("c", kExpectedAny, MakeEvents(1)).ok());
  Reopen();  // a, b, c now come from the index; a's next write only from memory
  ASSERT_TRUE(store_->Append("a", kExpectedAny, MakeEvents(1)).ok());
  ASSERT_TRUE(store_->Append("$$a", kExpectedAny, {MakeEvent("$metadata", "{}")}).ok());
  auto l = store_->ListStreams("", 0, 10, false);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].stream, "a");
  EXPECT_EQ((*l)[1].stream, "c");
  EXPECT_EQ((*l)[2].stream, "b");
  auto sys = store_->ListStreams("", 0, 10, true);
  EXPECT_EQ(sys->size(), 4u);
  auto page = store_->ListStreams("", 1, 1, false);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].stream, "c");
  auto found = store_->ListStreams("b", 0, 10, false);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].last_number, 0);
}

TEST_F(StoreTest, AppendAsyncFromManyThreadsKeepsEveryStreamConsistent) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = store_->Append("c-" + std::to_string(t % 4), kExpectedAny, MakeEvents(3));
        if (r.ok()) ++ok;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 400);
  for (int s = 0; s < 4; ++s) {
    auto r = store_->ReadStream("c-" + std::to_string(s), 0, 1000, Direction::kForward);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->events.size(), 300u);
    for (size_t i = 0; i < 300; ++i) EXPECT_EQ(r->events[i].number, static_cast<int64_t>(i));
  }
  EXPECT_LT(store_->GetStats().fsyncs, 400u);  // grouped
}

}  // namespace
}  // namespace dt::store

namespace dt::store {
namespace {

TEST(StoreCache, ABoundedStreamCacheGivesTheSameAnswers) {
  testing::TempDir dir;
  Options o;
  o.folder = dir.path();
  o.stream_cache_entries = 4;  // far fewer than the streams
  auto opened = Store::Open(o);
  ASSERT_TRUE(opened.ok());
  auto& store = *opened;
  for (int round = 0; round < 3; ++round)
    for (int s = 0; s < 40; ++s) {
      auto r = store->Append("c-" + std::to_string(s), round == 0 ? kExpectedNoStream : round * 2 - 1,
                             testing::MakeEvents(2));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->first_number, round * 2);
    }
  for (int s = 0; s < 40; ++s) {
    auto r = store->ReadStream("c-" + std::to_string(s), 0, 100, Direction::kForward);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->events.size(), 6u);
    EXPECT_EQ(r->last_number, 5);
  }
  EXPECT_EQ(store->GetStats().streams, 40u);
}

}  // namespace
}  // namespace dt::store

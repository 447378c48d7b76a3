// Expected-version and idempotency rules of Append, one named test per rule
// (EventStoreDB's rules; docs/DESIGN.md "Semantics").
#include <gtest/gtest.h>

#include <future>

#include "store/store.h"
#include "store/test_util.h"

namespace dt::store {
namespace {

using testing::MakeEvent;
using testing::MakeEvents;
using testing::TempDir;

class AppendRules : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    Options o;
    o.folder = dir_.path();
    o.segment_bytes = 1 << 20;
    auto r = Store::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    store_ = std::move(r).value();
  }
  AppendResult Ok(std::string_view stream, int64_t expected, std::vector<EventData> events) {
    auto r = store_->Append(stream, expected, std::move(events));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AppendResult{};
  }
  Status Err(std::string_view stream, int64_t expected, std::vector<EventData> events) {
    auto r = store_->Append(stream, expected, std::move(events));
    EXPECT_FALSE(r.ok());
    return r.status();
  }
  static std::vector<EventData> Same(const std::vector<EventData>& v) { return v; }
  static std::vector<EventData> Pick(const std::vector<EventData>& v, std::initializer_list<int> idx) {
    std::vector<EventData> out;
    for (int i : idx) out.push_back(v[i]);
    return out;
  }
  int64_t Version(std::string_view stream) { return store_->GetStreamInfo(stream)->last_number; }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------- expected version

TEST_F(AppendRules, NoStreamCreatesANewStream) {
  EXPECT_EQ(Ok("s", kExpectedNoStream, MakeEvents(2)).first_number, 0);
}

TEST_F(AppendRules, NoStreamOnAnExistingStreamIsWrongExpectedVersionWithTheCurrentVersion) {
  Ok("s", kExpectedAny, MakeEvents(3));
  Status s = Err("s", kExpectedNoStream, MakeEvents(1));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), 2);
}

TEST_F(AppendRules, StreamExistsOnAMissingStreamIsWrongExpectedVersionMinusOne) {
  Status s = Err("s", kExpectedStreamExists, MakeEvents(1));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), -1);
}

TEST_F(AppendRules, StreamExistsOnAStreamWithOnlyMetadataSucceeds) {
  Ok("$$s", kExpectedAny, {MakeEvent("$metadata", "{\"$maxCount\":10}")});
  EXPECT_EQ(Ok("s", kExpectedStreamExists, MakeEvents(1)).first_number, 0);
}

TEST_F(AppendRules, StreamExistsOnAnExistingStreamAppends) {
  Ok("s", kExpectedAny, MakeEvents(2));
  EXPECT_EQ(Ok("s", kExpectedStreamExists, MakeEvents(1)).first_number, 2);
}

TEST_F(AppendRules, ExactVersionEqualToTheCurrentAppends) {
  Ok("s", kExpectedAny, MakeEvents(2));
  EXPECT_EQ(Ok("s", 1, MakeEvents(1)).first_number, 2);
}

TEST_F(AppendRules, ExactVersionAboveTheCurrentIsWrongExpectedVersion) {
  Ok("s", kExpectedAny, MakeEvents(2));
  Status s = Err("s", 5, MakeEvents(1));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), 1);
}

TEST_F(AppendRules, ExactVersionOnAMissingStreamIsWrongExpectedVersionMinusOne) {
  Status s = Err("s", 0, MakeEvents(1));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), -1);
}

TEST_F(AppendRules, AnyAppendsToAnyStream) {
  EXPECT_EQ(Ok("s", kExpectedAny, MakeEvents(1)).first_number, 0);
  EXPECT_EQ(Ok("s", kExpectedAny, MakeEvents(1)).first_number, 1);
}

TEST_F(AppendRules, NoStreamOnASoftDeletedStreamRecreatesIt) {
  Ok("s", kExpectedAny, MakeEvents(3));
  ASSERT_TRUE(store_->Delete("s", kExpectedAny, false).ok());
  EXPECT_EQ(Ok("s", kExpectedNoStream, MakeEvents(1)).first_number, 3);
}

TEST_F(AppendRules, ExactLastNumberOnASoftDeletedStreamRecreatesIt) {
  Ok("s", kExpectedAny, MakeEvents(3));
  ASSERT_TRUE(store_->Delete("s", kExpectedAny, false).ok());
  EXPECT_EQ(Ok("s", 2, MakeEvents(1)).first_number, 3);
  EXPECT_EQ(store_->ReadStream("s", 0, 10, Direction::kForward)->events.size(), 1u);
}

TEST_F(AppendRules, StreamExistsOnASoftDeletedStreamIsStreamDeleted) {
  Ok("s", kExpectedAny, MakeEvents(3));
  ASSERT_TRUE(store_->Delete("s", kExpectedAny, false).ok());
  EXPECT_TRUE(Err("s", kExpectedStreamExists, MakeEvents(1)).Is(Code::kStreamDeleted));
}

TEST_F(AppendRules, EveryAppendToATombstonedStreamIsStreamDeleted) {
  Ok("s", kExpectedAny, MakeEvents(3));
  ASSERT_TRUE(store_->Delete("s", 2, true).ok());
  for (int64_t exp : {kExpectedAny, kExpectedNoStream, kExpectedStreamExists, int64_t{2}, int64_t{3}})
    EXPECT_TRUE(Err("s", exp, MakeEvents(1)).Is(Code::kStreamDeleted)) << exp;
}

TEST_F(AppendRules, DeleteChecksTheExpectedVersion) {
  Ok("s", kExpectedAny, MakeEvents(3));
  auto d = store_->Delete("s", 1, false);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(d.status().Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(d.status().current_version(), 2);
  EXPECT_TRUE(store_->Delete("s", 2, true).ok());
}

// ---------------------------------------------------------------- idempotency

TEST_F(AppendRules, ExactVersionRetryOfAWrittenBatchIsADuplicateAndWritesNothing) {
  auto batch = MakeEvents(2);
  AppendResult first = Ok("s", kExpectedNoStream, Same(batch));
  const Position head = store_->HeadPosition();
  AppendResult again = Ok("s", kExpectedNoStream, Same(batch));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_number, 0);
  EXPECT_EQ(again.last_number, 1);
  EXPECT_EQ(again.first_position, first.first_position);
  EXPECT_EQ(again.last_position, first.last_position);
  EXPECT_EQ(store_->HeadPosition(), head);
}

TEST_F(AppendRules, ExactVersionRetryInTheMiddleOfTheStreamIsADuplicate) {
  Ok("s", kExpectedAny, MakeEvents(2));
  auto batch = MakeEvents(2);
  Ok("s", 1, Same(batch));
  Ok("s", kExpectedAny, MakeEvents(3));
  AppendResult again = Ok("s", 1, Same(batch));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_number, 2);
  EXPECT_EQ(again.last_number, 3);
  EXPECT_EQ(Version("s"), 6);
}

TEST_F(AppendRules, ExactVersionPartialMatchIsWrongExpectedVersion) {
  auto batch = MakeEvents(2);
  Ok("s", kExpectedNoStream, Same(batch));
  Ok("s", kExpectedAny, MakeEvents(1));
  auto partial = Pick(batch, {0});
  partial.push_back(MakeEvent("T", "{}"));
  Status s = Err("s", kExpectedNoStream, std::move(partial));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), 2);
}

TEST_F(AppendRules, ExactVersionRetryRunningPastTheEndIsWrongExpectedVersion) {
  auto batch = MakeEvents(2);
  Ok("s", kExpectedNoStream, Same(batch));
  auto longer = Same(batch);
  longer.push_back(MakeEvent("T", "{}"));
  EXPECT_TRUE(Err("s", kExpectedNoStream, std::move(longer)).Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(Version("s"), 1);
}

TEST_F(AppendRules, ExactVersionWithUnknownIdsBelowTheCurrentIsWrongExpectedVersion) {
  Ok("s", kExpectedAny, MakeEvents(3));
  EXPECT_TRUE(Err("s", 0, MakeEvents(2)).Is(Code::kWrongExpectedVersion));
}

TEST_F(AppendRules, ExactVersionEqualToTheCurrentWritesEvenKnownIds) {
  // As in EventStoreDB: when the expected version holds, the batch is written.
  auto batch = MakeEvents(1);
  Ok("s", kExpectedNoStream, Same(batch));
  AppendResult r = Ok("s", 0, Same(batch));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.first_number, 1);
}

TEST_F(AppendRules, AnyRetryIsADuplicateHowEverLongAgoItWasWritten) {
  auto batch = MakeEvents(3);
  AppendResult first = Ok("s", kExpectedAny, Same(batch));
  for (int i = 0; i < 20; ++i) Ok("s", kExpectedAny, MakeEvents(50));
  Reopen();  // the event-id index is persistent: no cache to fall out of
  const Position head = store_->HeadPosition();
  AppendResult again = Ok("s", kExpectedAny, Same(batch));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_number, 0);
  EXPECT_EQ(again.last_number, 2);
  EXPECT_EQ(again.last_position, first.last_position);
  EXPECT_EQ(store_->HeadPosition(), head);
}

TEST_F(AppendRules, AnyRetryOfATailOfABatchIsADuplicate) {
  auto batch = MakeEvents(3);
  Ok("s", kExpectedAny, Same(batch));
  AppendResult again = Ok("s", kExpectedAny, Pick(batch, {1, 2}));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_number, 1);
  EXPECT_EQ(again.last_number, 2);
}

TEST_F(AppendRules, AnyPartialMatchIsWrongExpectedVersion) {
  auto batch = MakeEvents(2);
  Ok("s", kExpectedAny, Same(batch));
  auto partial = Pick(batch, {0});
  partial.push_back(MakeEvent("T", "{}"));
  Status s = Err("s", kExpectedAny, std::move(partial));
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(Version("s"), 1);
}

TEST_F(AppendRules, AnyIdsOutOfOrderAreWrongExpectedVersion) {
  auto batch = MakeEvents(3);
  Ok("s", kExpectedAny, Same(batch));
  EXPECT_TRUE(Err("s", kExpectedAny, Pick(batch, {0, 2})).Is(Code::kWrongExpectedVersion));
  EXPECT_TRUE(Err("s", kExpectedAny, Pick(batch, {1, 0})).Is(Code::kWrongExpectedVersion));
}

TEST_F(AppendRules, AnyBatchWhoseFirstIdIsNewIsWritten) {
  // As in EventStoreDB, only a batch whose first id is already in the stream is checked.
  auto batch = MakeEvents(1);
  Ok("s", kExpectedAny, Same(batch));
  auto mixed = MakeEvents(1);
  mixed.push_back(batch[0]);
  AppendResult r = Ok("s", kExpectedAny, std::move(mixed));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.first_number, 1);
}

TEST_F(AppendRules, StreamExistsRetryIsADuplicate) {
  Ok("s", kExpectedAny, MakeEvents(1));
  auto batch = MakeEvents(2);
  Ok("s", kExpectedStreamExists, Same(batch));
  AppendResult again = Ok("s", kExpectedStreamExists, Same(batch));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.first_number, 1);
}

TEST_F(AppendRules, IdsWrittenToAnotherStreamDoNotCount) {
  auto batch = MakeEvents(2);
  Ok("a", kExpectedAny, Same(batch));
  AppendResult r = Ok("b", kExpectedAny, Same(batch));
  EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(r.first_number, 0);
}

TEST_F(AppendRules, RetryInTheSameCommitGroupIsADuplicate) {
  auto batch = MakeEvents(2);
  std::promise<Result<AppendResult>> p1, p2;
  store_->AppendAsync("s", kExpectedAny, Same(batch), [&](Result<AppendResult> r) { p1.set_value(r); });
  store_->AppendAsync("s", kExpectedAny, Same(batch), [&](Result<AppendResult> r) { p2.set_value(r); });
  auto r1 = p1.get_future().get();
  auto r2 = p2.get_future().get();
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_FALSE(r1->duplicate);
  EXPECT_TRUE(r2->duplicate);
  EXPECT_EQ(r2->first_number, r1->first_number);
  EXPECT_EQ(r2->last_position, r1->last_position);
  EXPECT_EQ(Version("s"), 1);
}

TEST_F(AppendRules, RetryOfABatchWrittenBeforeASoftDeleteIsADuplicate) {
  auto batch = MakeEvents(2);
  Ok("s", kExpectedAny, Same(batch));
  ASSERT_TRUE(store_->Delete("s", kExpectedAny, false).ok());
  AppendResult r = Ok("s", kExpectedAny, Same(batch));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.first_number, 0);
}

}  // namespace
}  // namespace dt::store

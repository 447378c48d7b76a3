// Faults injected through the file-system seam (fault_fs.h) and damaged files: after each,
// a reopened store holds exactly the acknowledged events, or refuses to open and says why.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "store/fault_fs.h"
#include "store/record.h"
#include "store/store.h"
#include "store/test_util.h"

extern char** environ;

namespace dt::store {
namespace {

using testing::MakeEvent;
using testing::MakeEvents;
using testing::TempDir;

class FaultTest : public ::testing::Test {
 protected:
  Status Open(bool use_fault_fs = true) {
    store_.reset();
    Options o;
    o.folder = dir_.path();
    o.fs = use_fault_fs ? &fs_ : nullptr;
    o.segment_bytes = segment_bytes_;
    auto r = Store::Open(o);
    if (!r.ok()) return r.status();
    store_ = std::move(r).value();
    return Status::Ok();
  }
  // Appends and remembers what was acknowledged.
  void AppendAcked(const std::string& stream, int n, size_t data_bytes = 40) {
    auto events = MakeEvents(n);
    for (auto& e : events) e.data = "\"" + std::string(data_bytes, 'd') + "\"";
    std::vector<Uuid> ids;
    for (auto& e : events) ids.push_back(e.id);
    auto r = store_->Append(stream, kExpectedAny, std::move(events));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (auto& id : ids) acked_.push_back(id);
    versions_[stream] = r->last_number;
  }
  // Starts appends that will not complete until the test lets the writer go on.
  std::vector<std::future<Result<AppendResult>>> AppendPending(int requests, int events_each) {
    std::vector<std::future<Result<AppendResult>>> fs;
    for (int i = 0; i < requests; ++i) {
      auto p = std::make_shared<std::promise<Result<AppendResult>>>();
      fs.push_back(p->get_future());
      store_->AppendAsync("pending-" + std::to_string(i), kExpectedAny, MakeEvents(events_each),
                          [p](Result<AppendResult> r) { p->set_value(std::move(r)); });
    }
    return fs;
  }
  // The ids in $all, in order.
  std::vector<Uuid> AllIds() {
    std::vector<Uuid> ids;
    Position pos = 0;
    for (;;) {
      auto s = store_->ReadAll(pos, 1000, Direction::kForward);
      EXPECT_TRUE(s.ok()) << s.status().ToString();
      if (!s.ok()) break;
      for (auto& e : s->events) ids.push_back(e.id);
      pos = s->next_position;
      if (s->end_of_log) break;
    }
    return ids;
  }
  void ExpectExactlyTheAcknowledgedEvents() {
    EXPECT_EQ(AllIds(), acked_);
    for (auto& [stream, version] : versions_) {
      auto info = store_->GetStreamInfo(stream);
      ASSERT_TRUE(info.ok());
      EXPECT_EQ(info->last_number, version) << stream;
    }
    // And the store takes writes again, numbering where it left off.
    for (auto& [stream, version] : versions_) {
      auto r = store_->Append(stream, version, MakeEvents(1));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->first_number, version + 1);
    }
  }
  // "Power cut": nothing more reaches the disk, the store goes away, unsynced bytes vanish.
  void Crash(uint64_t torn_prefix = 0) {
    fs_.SetActive(false);
    store_.reset();
    ASSERT_TRUE(fs_.DropUnsyncedData(torn_prefix).ok());
    fs_.SetActive(true);
    fs_.BlockSyncs(false);
  }

  TempDir dir_;
  FaultInjectionFileSystem fs_;
  uint64_t segment_bytes_ = 1 << 20;
  std::unique_ptr<Store> store_;
  std::vector<Uuid> acked_;
  std::map<std::string, int64_t> versions_;
};

TEST_F(FaultTest, UnsyncedBytesAreLostAndEveryAcknowledgedEventSurvives) {
  ASSERT_TRUE(Open().ok());
  for (int i = 0; i < 10; ++i) AppendAcked("s-" + std::to_string(i % 3), 3);
  fs_.BlockSyncs(true);
  auto pending = AppendPending(4, 2);
  ASSERT_TRUE(fs_.WaitForBlockedSync(std::chrono::seconds(10)));
  EXPECT_GT(fs_.unsynced_writes(), 0u);
  Crash();
  for (auto& f : pending) EXPECT_FALSE(f.get().ok());  // never acknowledged
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

TEST_F(FaultTest, TornLastRecordIsCutOnOpen) {
  ASSERT_TRUE(Open().ok());
  for (int i = 0; i < 5; ++i) AppendAcked("s", 2, 100);
  fs_.BlockSyncs(true);
  auto pending = AppendPending(1, 3);  // one batch of three records
  ASSERT_TRUE(fs_.WaitForBlockedSync(std::chrono::seconds(10)));
  // Keep the first record and half of the second: an incomplete batch with a torn record.
  const uint64_t record = EncodedSize(9, 5, 8, 2);  // "pending-0", "Type0", {"e":0}, {}
  Crash(record + record / 2);
  EXPECT_FALSE(pending[0].get().ok());
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
  // The cut is durable: a second reopen sees the same log.
  const Position head = store_->HeadPosition();
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(store_->HeadPosition(), head);
}

TEST_F(FaultTest, FsyncFailureStopsTheStoreAndSaysWhy) {
  ASSERT_TRUE(Open().ok());
  AppendAcked("s", 3);
  fs_.FailSyncs(true);
  auto r = store_->Append("s", kExpectedAny, MakeEvents(2));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(Code::kStopped));
  EXPECT_NE(r.status().message().find("Input/output error"), std::string::npos) << r.status().message();
  fs_.FailSyncs(false);  // even if the disk recovers, a failed fsync is never trusted again
  auto later = store_->Append("s", kExpectedAny, MakeEvents(1));
  ASSERT_FALSE(later.ok());
  EXPECT_TRUE(later.status().Is(Code::kStopped));
  EXPECT_NE(later.status().message().find("stopped taking writes"), std::string::npos);
  EXPECT_NE(store_->GetStats().failure.find("Input/output error"), std::string::npos);
  auto read = store_->ReadStream("s", 0, 10, Direction::kForward);  // reads still work
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->events.size(), 3u);
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

TEST_F(FaultTest, FailedWriteStopsTheStore) {
  ASSERT_TRUE(Open().ok());
  AppendAcked("s", 2);
  fs_.FailWrites(true);
  auto r = store_->Append("s", kExpectedAny, MakeEvents(2));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(Code::kStopped));
  fs_.FailWrites(false);
  EXPECT_TRUE(store_->Append("s", kExpectedAny, MakeEvents(1)).status().Is(Code::kStopped));
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

TEST_F(FaultTest, FullDiskRefusesAppendsThatNeedANewSegmentUntilSpaceReturns) {
  segment_bytes_ = 64 << 10;
  ASSERT_TRUE(Open().ok());
  fs_.SetSpaceLeft(1 << 10);  // not enough for another segment
  Status refused;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    auto events = MakeEvents(1);
    events[0].data = "\"" + std::string(1000, 'x') + "\"";
    const Uuid id = events[0].id;
    auto r = store_->Append("big", kExpectedAny, std::move(events));
    if (r.ok()) {
      acked_.push_back(id);
      versions_["big"] = r->last_number;
    } else {
      refused = r.status();
    }
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  EXPECT_TRUE(refused.Is(Code::kIOError));
  EXPECT_NE(refused.message().find("No space left"), std::string::npos) << refused.message();
  EXPECT_TRUE(store_->GetStats().failure.empty());  // not stopped: nothing was written
  fs_.SetSpaceLeft(std::nullopt);
  AppendAcked("big", 1, 1000);
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

// ---------------------------------------------------------------- the pipelined writer
//
// While a large group A's fdatasync runs (groups of kPipelineBytes and more go to the sync
// thread), the writer decides and encodes the next group B against A's (not yet durable)
// stream states and event ids; it takes requests that early once enough bytes wait, so
// these tests queue large fillers behind B. B is written only after A's fdatasync
// returned, and answered only after its own.

std::future<Result<AppendResult>> AppendFuture(Store& store, const std::string& stream, int64_t expected,
                                               std::vector<EventData> events) {
  auto p = std::make_shared<std::promise<Result<AppendResult>>>();
  auto f = p->get_future();
  store.AppendAsync(stream, expected, std::move(events), [p](Result<AppendResult> r) { p->set_value(std::move(r)); });
  return f;
}

class PipelineTest : public FaultTest {
 protected:
  // Group A: 300 events of 1 kB to "p" (no stream yet), its fdatasync held. Then, behind
  // it: B1 appends to "p" at expected version 299 (valid only after A), B2 retries A's ids
  // (a duplicate of A), B3 expects no stream "p" (wrong after A), and fillers.
  void StartPipeline() {
    ASSERT_TRUE(Open().ok());
    AppendAcked("before", 2);
    fs_.BlockSyncs(true);
    a_events_ = MakeEvents(300);
    for (auto& e : a_events_) e.data = "\"" + std::string(1000, 'a') + "\"";
    a_ = AppendFuture(*store_, "p", kExpectedNoStream, a_events_);
    ASSERT_TRUE(fs_.WaitForBlockedSync(std::chrono::seconds(10)));
    b1_ids_ = {};
    auto b1 = MakeEvents(2);
    for (auto& e : b1) b1_ids_.push_back(e.id);
    b_.push_back(AppendFuture(*store_, "p", 299, std::move(b1)));
    b_.push_back(AppendFuture(*store_, "p", kExpectedAny, a_events_));
    b_.push_back(AppendFuture(*store_, "p", kExpectedNoStream, MakeEvents(1)));
    for (int i = 0; i < 3; ++i) {
      auto filler = MakeEvents(100);
      for (auto& e : filler) e.data = "\"" + std::string(1000, 'f') + "\"";
      for (auto& e : filler) filler_ids_.push_back(e.id);
      b_.push_back(AppendFuture(*store_, "filler-" + std::to_string(i), kExpectedAny, std::move(filler)));
    }
    // Let the writer take B while A's fdatasync is held: nothing may be answered yet.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(a_.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    for (auto& f : b_) EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  }

  std::vector<EventData> a_events_;
  std::future<Result<AppendResult>> a_;
  std::vector<std::future<Result<AppendResult>>> b_;
  std::vector<Uuid> b1_ids_, filler_ids_;
};

TEST_F(PipelineTest, TheGroupBehindOneInFlightDecidesAgainstItAndIsAnsweredAfterIt) {
  StartPipeline();
  fs_.BlockSyncs(false);
  auto a = a_.get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->first_number, 0);
  EXPECT_EQ(a->last_number, 299);
  auto b1 = b_[0].get();
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  EXPECT_EQ(b1->first_number, 300);
  EXPECT_FALSE(b1->duplicate);
  auto b2 = b_[1].get();
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  EXPECT_TRUE(b2->duplicate);
  EXPECT_EQ(b2->first_number, 0);
  EXPECT_EQ(b2->last_number, 299);
  EXPECT_EQ(b2->first_position, a->first_position);
  EXPECT_EQ(b2->last_position, a->last_position);
  auto b3 = b_[2].get();
  ASSERT_FALSE(b3.ok());
  EXPECT_TRUE(b3.status().Is(Code::kWrongExpectedVersion)) << b3.status().ToString();
  EXPECT_NE(b3.status().message().find("current version 301"), std::string::npos) << b3.status().message();
  for (size_t i = 3; i < b_.size(); ++i) ASSERT_TRUE(b_[i].get().ok());
  for (auto& e : a_events_) acked_.push_back(e.id);
  for (auto& id : b1_ids_) acked_.push_back(id);
  acked_.insert(acked_.end(), filler_ids_.begin(), filler_ids_.end());
  versions_["p"] = 301;
  for (int i = 0; i < 3; ++i) versions_["filler-" + std::to_string(i)] = 99;
  auto p = store_->ReadStream("p", 0, 1000, Direction::kForward);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->events.size(), 302u);
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

TEST_F(PipelineTest, AFailedFsyncOfTheGroupInFlightAcknowledgesNeitherItNorTheGroupBehindIt) {
  StartPipeline();
  fs_.FailSyncs(true);
  fs_.BlockSyncs(false);
  auto a = a_.get();
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(a.status().Is(Code::kStopped)) << a.status().ToString();
  for (auto& f : b_) {
    auto b = f.get();
    ASSERT_FALSE(b.ok());  // even B2's duplicate and B3's refusal: A never became durable
    EXPECT_TRUE(b.status().Is(Code::kStopped)) << b.status().ToString();
  }
  fs_.FailSyncs(false);
  EXPECT_TRUE(store_->Append("p", kExpectedAny, MakeEvents(1)).status().Is(Code::kStopped));
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
  EXPECT_FALSE(store_->GetStreamInfo("p")->exists);
}

TEST_F(PipelineTest, AFailedFsyncOfTheGroupBehindAcknowledgesOnlyTheGroupBeforeIt) {
  StartPipeline();
  fs_.FailSyncsAfter(1);  // A's fdatasync succeeds, B's fails
  fs_.BlockSyncs(false);
  auto a = a_.get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  for (auto& e : a_events_) acked_.push_back(e.id);
  versions_["p"] = 299;
  for (size_t i = 0; i < b_.size(); ++i) {
    auto b = b_[i].get();
    if (i == 2) {
      // B3's refusal is not a write: it was right against A, which is durable; it may be
      // answered as such or stopped with the rest of B.
      EXPECT_FALSE(b.ok());
      continue;
    }
    if (i == 1 && b.ok()) {
      EXPECT_TRUE(b->duplicate);  // B2 only repeats A, which is durable
      continue;
    }
    ASSERT_FALSE(b.ok()) << i;
    EXPECT_TRUE(b.status().Is(Code::kStopped)) << b.status().ToString();
  }
  fs_.FailSyncs(false);
  Crash();
  ASSERT_TRUE(Open().ok());
  ExpectExactlyTheAcknowledgedEvents();
}

// ---------------------------------------------------------------- damaged files

std::string SegmentPath(const std::string& folder) { return folder + "/log/00000000000000000000.seg"; }

void PatchFile(const std::string& path, uint64_t offset, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

TEST_F(FaultTest, CorruptionBeforeTheTailStopsTheOpenNamingFileAndOffset) {
  ASSERT_TRUE(Open(false).ok());
  AppendAcked("s", 2);
  auto victim = store_->Append("s", kExpectedAny, MakeEvents(1));
  ASSERT_TRUE(victim.ok());
  AppendAcked("s", 2);
  store_.reset();
  PatchFile(SegmentPath(dir_.path()), victim->first_position + 70, "\x7f");
  // With the index intact the open succeeds, and reading the damaged event says where it is.
  ASSERT_TRUE(Open(false).ok());
  auto read = store_->ReadStream("s", 0, 10, Direction::kForward);
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(read.status().Is(Code::kCorruption));
  EXPECT_NE(read.status().message().find(SegmentPath(dir_.path()) + " offset " +
                                         std::to_string(victim->first_position)),
            std::string::npos)
      << read.status().message();
  EXPECT_TRUE(store_->ReadAll(0, 100, Direction::kForward).status().Is(Code::kCorruption));
  // Rebuilding the index reads the whole log: the open stops with the same clear error.
  store_.reset();
  std::filesystem::remove_all(dir_.sub("index"));
  Status s = Open(false);
  ASSERT_TRUE(s.Is(Code::kCorruption)) << s.ToString();
  EXPECT_NE(s.message().find(SegmentPath(dir_.path()) + " offset " + std::to_string(victim->first_position)),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
}

TEST_F(FaultTest, GarbageAndIncompleteBatchesPastTheEndAreCut) {
  ASSERT_TRUE(Open(false).ok());
  AppendAcked("s", 3);
  const Position end = store_->HeadPosition();
  store_.reset();
  // A complete record without the commit flag (an unfinished batch), then garbage.
  std::string rec;
  RecordFields f;
  f.position = end;
  f.number = 3;
  f.id = Uuid::Random();
  f.stream = "s";
  f.type = "T";
  f.data = "{}";
  f.commit = false;
  EncodeRecord(f, &rec);
  rec += "garbage-garbage-garbage";
  PatchFile(SegmentPath(dir_.path()), end, rec);
  ASSERT_TRUE(Open(false).ok());
  EXPECT_EQ(store_->HeadPosition(), end);
  ExpectExactlyTheAcknowledgedEvents();
  const Position head = store_->HeadPosition();
  ASSERT_TRUE(Open(false).ok());
  EXPECT_EQ(store_->HeadPosition(), head);
  EXPECT_EQ(AllIds().size(), acked_.size() + versions_.size());
}

TEST_F(FaultTest, CheckpointClaimingMoreThanTheLogIsCorruption) {
  ASSERT_TRUE(Open(false).ok());
  AppendAcked("s", 3);
  store_.reset();
  std::filesystem::remove(SegmentPath(dir_.path()));
  Status s = Open(false);
  ASSERT_TRUE(s.Is(Code::kCorruption)) << s.ToString();
  EXPECT_NE(s.message().find("writer.chk"), std::string::npos) << s.message();
}

TEST_F(FaultTest, IndexBehindTheLogAfterTheWriterDiedIsCaughtUp) {
  // A child process writes and exits without closing: the index's memtables (RocksDB runs
  // without a WAL) are lost, the log is complete.
  // (A child process, not fork(): RocksDB's threads make fork unsafe in a process that has
  // opened a store before.)
  const Uuid retry_id = Uuid::Random();
  const std::string id_text = retry_id.ToString();
  char* argv[] = {const_cast<char*>(DT_CRASH_CHILD), const_cast<char*>("--die-without-close"),
                  const_cast<char*>(dir_.path().c_str()), const_cast<char*>(id_text.c_str()), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, DT_CRASH_CHILD, nullptr, nullptr, argv, environ), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(Open(false).ok());
  auto s0 = store_->ReadStream("s-0", 0, 100, Direction::kForward);
  ASSERT_TRUE(s0.ok());
  ASSERT_EQ(s0->events.size(), 5u);  // $maxCount applies
  EXPECT_EQ(s0->last_number, 100);
  EXPECT_EQ(s0->events.back().id, retry_id);
  auto s1 = store_->ReadStream("s-1", 0, 100, Direction::kForward);
  ASSERT_TRUE(s1.ok());
  ASSERT_EQ(s1->events.size(), 2u);  // recreated after the soft delete
  EXPECT_EQ(s1->events[0].number, 100);
  EXPECT_TRUE(store_->ReadStream("s-2", 0, 100, Direction::kForward).status().Is(Code::kStreamDeleted));
  // The event-id index was caught up too: a retry is recognised.
  auto retry = store_->Append("s-0", kExpectedAny, {MakeEvent("T", "{}", retry_id)});
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->first_number, 100);
  auto listed = store_->ListStreams("", 0, 10, false);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  EXPECT_EQ(store_->GetStats().streams, 5u);  // s-0, s-1, s-2, $$s-0, $$s-1
}

TEST_F(FaultTest, IndexOfAnotherLogIsRebuilt) {
  TempDir other;
  {
    Options o;
    o.folder = other.path();
    auto st = Store::Open(o);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE((*st)->Append("x", kExpectedAny, MakeEvents(50)).ok());
  }
  ASSERT_TRUE(Open(false).ok());
  AppendAcked("s", 3);
  store_.reset();
  std::filesystem::remove_all(dir_.sub("index"));
  std::filesystem::copy(other.sub("index"), dir_.sub("index"));
  ASSERT_TRUE(Open(false).ok());
  EXPECT_FALSE(store_->GetStreamInfo("x")->exists);
  ExpectExactlyTheAcknowledgedEvents();
}

}  // namespace
}  // namespace dt::store

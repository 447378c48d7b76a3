// The SQLite read model's rebuild into a new file and the switch of generations
// (sqlite_files.h): reads during a rebuild, a second store on the same path (another
// dt-server process) following the switch, the old file removed, and a rebuilding process
// killed with SIGKILL leaving the live model intact for the next rebuild.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "readmodel/read_model_store.h"
#include "readmodel/sqlite_files.h"
#include "readmodel/test_databases.h"

namespace dt::readmodel {
namespace {

namespace fs = std::filesystem;

tracker::Contact MakeContact(const std::string& id, const std::string& name, int64_t version) {
  tracker::Contact c;
  c.id = id;
  c.user_id = "u1";
  c.name = name;
  c.created_at = c.updated_at = "2024-01-01T00:00:00.000000Z";
  c.version = version;
  return c;
}

Batch Contacts(int from, int to, const std::string& tag) {
  Batch b;
  for (int i = from; i < to; ++i) {
    std::string id = "c";
    id += std::to_string(i);
    b.contacts.push_back(MakeContact(id, tag + std::to_string(i), 0));
  }
  return b;
}

std::set<std::string> Files(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class SqliteGenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("rmgen");
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/rm.db";
    store_ = Open();
    ASSERT_TRUE(store_);
    ASSERT_TRUE(store_->Apply(Target::kLive, Contacts(0, 3, "live"), {"p-live", 3, 0, ""}).ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<ReadModelStore> Open() {
    auto s = OpenReadModelStore("sqlite:" + path_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // A whole rebuild of `n` contacts through the store's interface.
  void Rebuild(ReadModelStore& store, int n, const std::string& tag) {
    ASSERT_TRUE(store.BeginRebuild().ok());
    auto st = store.LoadState(Target::kRebuild);
    ASSERT_TRUE(st.ok());
    ProjectionState next = *st;
    next.position = "p-";
    next.position += tag;
    next.events_applied = n;
    ASSERT_TRUE(store.ApplyBulk(Contacts(0, n, tag), next).ok());
    ASSERT_TRUE(store.FinishBulk().ok());
    ASSERT_TRUE(store.FinishRebuild().ok());
  }
  size_t CountContacts(ReadModelStore& store) {
    auto l = store.ListContacts("u1");
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? l->size() : 0;
  }

  std::string dir_, path_;
  std::unique_ptr<ReadModelStore> store_;
};

TEST_F(SqliteGenerationTest, RebuildWritesANewFileAndRemovesTheOldOne) {
  Rebuild(*store_, 5, "first");
  EXPECT_EQ(sqlite_files::LiveFile(path_), path_ + ".g1");
  EXPECT_TRUE(fs::is_symlink(path_));
  EXPECT_FALSE(fs::exists(path_ + "-wal"));  // the replaced regular file's WAL
  EXPECT_EQ(CountContacts(*store_), 5u);
  Rebuild(*store_, 7, "second");
  EXPECT_EQ(sqlite_files::LiveFile(path_), path_ + ".g2");
  EXPECT_EQ(CountContacts(*store_), 7u);
  for (const auto& f : Files(dir_)) {
    EXPECT_EQ(f.find("rm.db.g1"), std::string::npos) << f << " of generation 1 is still there";
  }
  auto st = store_->LoadState(Target::kLive);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->generation, 2);
  EXPECT_EQ(st->position, "p-second");
  // The live projector's batches go to the new file, and survive a reopen.
  ASSERT_TRUE(store_->Apply(Target::kLive, Contacts(7, 8, "after"), {"p-after", 8, 2, ""}).ok());
  store_.reset();
  auto again = Open();
  ASSERT_TRUE(again);
  EXPECT_EQ(CountContacts(*again), 8u);
  EXPECT_EQ(again->LoadState(Target::kLive)->position, "p-after");
}

TEST_F(SqliteGenerationTest, AnotherStoreOnTheSamePathFollowsTheSwitch) {
  auto other = Open();  // as a second dt-server process would
  ASSERT_TRUE(other);
  EXPECT_EQ(CountContacts(*other), 3u);
  Rebuild(*store_, 6, "rebuilt");
  // Its pooled connections are on the old (now unlinked) file; the next query moves.
  EXPECT_EQ(CountContacts(*other), 6u);
  auto c = other->GetContact("u1", "c5");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->name, "rebuilt5");
  // When it takes over the projector, it writes into the live file, not the old one.
  auto l = store_->TryAcquireProjectorLock();
  ASSERT_TRUE(l.ok() && *l);
  store_.reset();
  auto got = other->TryAcquireProjectorLock();
  ASSERT_TRUE(got.ok() && *got);
  auto st = other->LoadState(Target::kLive);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->position, "p-rebuilt");
  ASSERT_TRUE(other->Apply(Target::kLive, Contacts(6, 7, "x"), {"p-x", 7, 1, ""}).ok());
  auto third = Open();
  ASSERT_TRUE(third);
  EXPECT_EQ(CountContacts(*third), 7u);
}

TEST_F(SqliteGenerationTest, ASwitchMadeByAnotherProcessIsFollowed) {
  EXPECT_EQ(CountContacts(*store_), 3u);  // this store has read the live file once
  for (int round = 1; round <= 2; ++round) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // another dt-server process rebuilding: a switch this one must see
      auto s = OpenReadModelStore("sqlite:" + path_);
      if (!s.ok() || !(*s)->BeginRebuild().ok()) _exit(1);
      auto st = (*s)->LoadState(Target::kRebuild);
      if (!st.ok()) _exit(1);
      ProjectionState next = *st;
      next.position = "p-child";
      if (!(*s)->ApplyBulk(Contacts(0, 10 * round, "child"), next).ok() ||
          !(*s)->FinishBulk().ok() || !(*s)->FinishRebuild().ok()) {
        _exit(1);
      }
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(sqlite_files::LiveFile(path_), sqlite_files::GenerationFile(path_, round));
    EXPECT_EQ(CountContacts(*store_), static_cast<size_t>(10 * round));
  }
}

TEST_F(SqliteGenerationTest, ReadsGoOnDuringRebuildsAndSwitches) {
  auto other = Open();
  ASSERT_TRUE(other);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, reads{0};
  auto reader = [&](ReadModelStore& s) {
    while (!done) {
      auto l = s.ListContacts("u1");
      // Always one whole generation: 3 live rows, or a rebuild's 40.
      if (!l.ok() || (l->size() != 3 && l->size() != 40)) ++failures;
      ++reads;
    }
  };
  std::thread a(reader, std::ref(*store_)), b(reader, std::ref(*other));
  // At least 5 rebuilds, and more until the readers have run (on a busy machine they may not
  // be scheduled at all during 5 quick ones).
  for (int round = 0; round < 5 || (reads <= 10 && round < 1000); ++round) {
    Rebuild(*store_, 40, std::to_string(round));
  }
  done = true;
  a.join();
  b.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(reads, 10);
  EXPECT_EQ(CountContacts(*other), 40u);
}

TEST_F(SqliteGenerationTest, KilledRebuildLeavesTheLiveModelAndTheNextRebuildWorks) {
  auto before = store_->Dump();
  ASSERT_TRUE(before.ok());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // a rebuilding process, killed in the middle of its bulk phase
    ::close(ready[0]);
    auto s = OpenReadModelStore("sqlite:" + path_);
    if (!s.ok() || !(*s)->TryAcquireProjectorLock().ok() || !(*s)->BeginRebuild().ok()) _exit(1);
    ProjectionState st{"p-half", 0, 1, ""};
    for (int i = 0; i < 50; ++i) {
      if (!(*s)->ApplyBulk(Contacts(i * 100, i * 100 + 100, "half"), st).ok()) _exit(1);
    }
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_TRUE(fs::exists(path_ + ".g1"));
  EXPECT_TRUE(store_->RebuildInProgress());  // the child holds the new file's lock
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto reopened = Open();
  ASSERT_TRUE(reopened);
  auto after = reopened->Dump();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*before, *after);
  EXPECT_FALSE(reopened->RebuildInProgress());
  EXPECT_EQ(sqlite_files::LiveFile(path_), path_);
  Rebuild(*reopened, 4, "next");
  EXPECT_EQ(CountContacts(*reopened), 4u);
  EXPECT_EQ(CountContacts(*store_), 4u);
  for (const auto& f : Files(dir_)) {
    EXPECT_TRUE(f == "rm.db" || f.rfind("rm.db.g1", 0) == 0 || f == "rm.db.projector.lock" ||
                f == "rm.db.switches")
        << f;
  }
}

TEST_F(SqliteGenerationTest, GenerationFilesLeftByACrashAreRemovedByTheNextRebuild) {
  // As if a process died after the switch but before removing the old file, and another
  // one died while building.
  for (const char* f : {"rm.db.g7", "rm.db.g7-wal", "rm.db.g9", "rm.db.g9.building"}) {
    std::FILE* out = std::fopen((dir_ + "/" + f).c_str(), "w");
    ASSERT_TRUE(out);
    std::fclose(out);
  }
  Rebuild(*store_, 2, "clean");
  auto files = Files(dir_);
  EXPECT_FALSE(files.count("rm.db.g7"));
  EXPECT_FALSE(files.count("rm.db.g7-wal"));
  EXPECT_FALSE(files.count("rm.db.g9"));
  EXPECT_FALSE(files.count("rm.db.g9.building"));
  EXPECT_EQ(CountContacts(*store_), 2u);
}

// The rebuild builds its secondary indexes with a small page cache and sort runs in a
// temporary file, merged at the end (SqliteStore::CreateIndexesLocked). Enough contacts with
// long names that their index keys fill several 4 MiB runs, inserted in id order while the
// index is in name order: the index must hold every row in order (integrity_check compares
// each index with its table), and the store must keep working after it.
TEST_F(SqliteGenerationTest, IndexesSortedInSeveralRunsHoldEveryRow) {
  constexpr int kContacts = 60000;  // ~250-byte keys: ~15 MB of keys, several runs
  ASSERT_TRUE(store_->BeginRebuild().ok());
  auto st = store_->LoadState(Target::kRebuild);
  ASSERT_TRUE(st.ok());
  Batch b;
  const std::string pad(200, 'x');
  for (int i = 0; i < kContacts; ++i) {
    std::string id = "c";
    id += std::to_string(i);
    std::string name = std::to_string((static_cast<int64_t>(i) * 7919) % kContacts);
    name += pad;
    b.contacts.push_back(MakeContact(id, name, 0));
  }
  // The audit trail's rows, for two users (its index is built at the end as well).
  constexpr int kEvents = 2000;
  auto named = [](const char* prefix, int i) {
    std::string out = prefix;
    out += std::to_string(i);
    return out;
  };
  for (int i = 0; i < kEvents; ++i) {
    EventRow e;
    e.seq = i;
    e.event_id = named("e", i);
    e.stream = named("contact-c", i);
    e.user_id = i % 2 ? "u1" : "u2";
    e.aggregate_type = "contact";
    e.aggregate_id = named("c", i);
    e.event_type = "ContactCreated";
    e.data = "{}";
    e.occurred_at = "2024-01-01T00:00:00.000000Z";
    b.events.push_back(std::move(e));
  }
  ProjectionState next = *st;
  next.position = "p-runs";
  next.events_applied = kContacts;
  ASSERT_TRUE(store_->ApplyBulk(b, next).ok());
  ASSERT_TRUE(store_->FinishBulk().ok());
  // A catch-up batch after the indexes (the rebuild's cache and temporary storage are back).
  ProjectionState after = next;
  after.position = "p-runs-2";
  after.events_applied = kContacts + 1;
  ASSERT_TRUE(store_->Apply(Target::kRebuild, Contacts(kContacts, kContacts + 1, "late"), after)
                  .ok());
  ASSERT_TRUE(store_->FinishRebuild().ok());
  EXPECT_EQ(CountContacts(*store_), static_cast<size_t>(kContacts + 1));

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(sqlite_files::LiveFile(path_).c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr),
            SQLITE_OK);
  auto text = [&](const char* q) {
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, q, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
  };
  EXPECT_EQ(text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(text("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
                 "AND name LIKE 'contacts_user_g%'"),
            "1");
  EXPECT_EQ(text("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' "
                 "AND name LIKE 'events_user_g%'"),
            "1");
  auto tail = store_->EventsAfter("u1", 1990, "", 100);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  ASSERT_EQ(tail->size(), 5u);  // u1's: 1991, 1993, 1995, 1997, 1999
  EXPECT_EQ((*tail)[0].seq, 1991);
  // The first name in the index's order, read through the index.
  EXPECT_EQ(text("SELECT name FROM contacts WHERE user_id = 'u1' ORDER BY user_id, name LIMIT 1"),
            std::string("0") + pad);
  sqlite3_close(db);
}

}  // namespace
}  // namespace dt::readmodel

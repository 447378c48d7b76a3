// Read-model stores (SQLite and PostgreSQL) and the projector over a real engine.
// The PostgreSQL cases need DT_TEST_PG_URL (./manage.sh test sets it); without it they skip.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "client/in_process_client.h"
#include "readmodel/pg_store.h"
#include "readmodel/projection.h"
#include "readmodel/projector.h"
#include "readmodel/read_model_store.h"
#include "readmodel/test_databases.h"
#include "tracker/tracker_service.h"

namespace dt::readmodel {
namespace {

using nlohmann::json;
using tracker::Contact;
using tracker::Transaction;

struct Db {
  std::string url;
  std::string dir;
};

Db MakeDb(const std::string& kind) {
  if (kind == "pg") return {testing::FreshPgDatabaseUrl(), {}};
  std::string dir = testing::TempDir("rm");
  return {"sqlite:" + dir + "/rm.db", dir};
}

// Runs SQL straight on a test database (to shape it as an older server left it).
void ExecSql(const Db& db, const std::vector<std::string>& statements) {
  if (db.dir.empty()) {
    PGconn* c = PQconnectdb(db.url.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    for (const auto& q : statements) {
      PGresult* r = PQexec(c, q.c_str());
      EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << q << ": " << PQerrorMessage(c);
      PQclear(r);
    }
    PQfinish(c);
    return;
  }
  sqlite3* c = nullptr;
  ASSERT_EQ(sqlite3_open((db.dir + "/rm.db").c_str(), &c), SQLITE_OK);
  for (const auto& q : statements) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(c, q.c_str(), nullptr, nullptr, &err), SQLITE_OK) << q << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  sqlite3_close(c);
}

Contact MakeContact(const std::string& id, const std::string& user, const std::string& name,
                    int64_t version, bool deleted = false) {
  Contact c;
  c.id = id;
  c.user_id = user;
  c.name = name;
  c.phone = "555";
  c.created_at = c.updated_at = "2024-01-01T00:00:00.000000Z";
  c.version = version;
  c.is_deleted = deleted;
  return c;
}

Transaction MakeTx(const std::string& id, const std::string& user, const std::string& contact,
                   const std::string& direction, int64_t amount, const std::string& currency,
                   const std::string& date, int64_t version = 0, bool deleted = false,
                   const std::string& type = "money") {
  Transaction t;
  t.id = id;
  t.user_id = user;
  t.contact_id = contact;
  t.type = type;
  t.direction = direction;
  t.amount = amount;
  t.currency = currency;
  t.transaction_date = date;
  t.created_at = t.updated_at = "2024-01-01T00:00:00.000000Z";
  t.version = version;
  t.is_deleted = deleted;
  return t;
}

class ReadModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "pg" && !testing::PgUrl()) GTEST_SKIP() << "DT_TEST_PG_URL not set";
    db_ = MakeDb(GetParam());
    ASSERT_FALSE(db_.url.empty());
    auto s = OpenReadModelStore(db_.url);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    if (!db_.dir.empty()) std::filesystem::remove_all(db_.dir);
  }
  Db db_;
  std::unique_ptr<ReadModelStore> store_;
};

TEST_P(ReadModelTest, AppliesRowsAndCheckpointTogether) {
  Batch b;
  b.contacts = {MakeContact("c1", "u1", "zed", 0), MakeContact("c2", "u1", "Amy", 0),
                MakeContact("c3", "u2", "other", 0), MakeContact("c4", "u1", "gone", 1, true)};
  b.transactions = {MakeTx("t1", "u1", "c1", "lent", 1000, "IQD", "2024-01-02"),
                    MakeTx("t2", "u1", "c1", "owed", 300, "IQD", "2024-01-03"),
                    MakeTx("t3", "u1", "c1", "lent", 50, "USD", "2024-01-01"),
                    MakeTx("t4", "u1", "c1", "lent", 7, "USD", "2024-01-04", 1, true),
                    MakeTx("t5", "u1", "c1", "lent", 9, "USD", "2024-01-05", 0, false, "item"),
                    MakeTx("t6", "u1", "c4", "lent", 99, "USD", "2024-01-06")};
  b.balances = {{"u1", "c1", "IQD", 1000}, {"u1", "c1", "USD", 50}, {"u1", "c4", "USD", 99}};
  ProjectionState st;
  st.position = "00000000000000100000000000000010";
  st.events_applied = 10;
  ASSERT_TRUE(store_->Apply(Target::kLive, b, st).ok());

  auto loaded = store_->LoadState(Target::kLive);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->position, st.position);
  EXPECT_EQ(loaded->events_applied, 10);

  auto contacts = store_->ListContacts("u1");
  ASSERT_TRUE(contacts.ok());
  ASSERT_EQ(contacts->size(), 2u);  // deleted c4 and u2's c3 not listed
  EXPECT_EQ((*contacts)[0].name, "Amy");  // by name, case-insensitive
  EXPECT_EQ((*contacts)[1].name, "zed");

  auto txs = store_->ListTransactions("u1");
  ASSERT_TRUE(txs.ok());
  std::vector<std::string> ids;
  for (auto& t : *txs) ids.push_back(t.id);
  // newest date first; deleted t4 and t6 (contact deleted) left out
  EXPECT_EQ(ids, (std::vector<std::string>{"t5", "t2", "t1", "t3"}));

  Batch more;  // balance deltas accumulate
  more.balances = {{"u1", "c1", "IQD", -300}};
  st.events_applied = 11;
  ASSERT_TRUE(store_->Apply(Target::kLive, more, st).ok());
  auto bal = store_->Balances("u1", "c1");
  ASSERT_TRUE(bal.ok());
  std::map<std::string, int64_t> m;
  for (auto& r : *bal) m[r.currency] = r.amount;
  EXPECT_EQ(m, (std::map<std::string, int64_t>{{"IQD", 700}, {"USD", 50}}));
  auto all = store_->Balances("u1", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);

  auto other = store_->GetContact("u2", "c1");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());  // another user's id is not found
}

TEST_P(ReadModelTest, OlderVersionNeverOverwritesNewer) {
  Batch b1;
  b1.contacts = {MakeContact("c1", "u1", "new", 3)};
  ASSERT_TRUE(store_->Apply(Target::kLive, b1, {"p1", 1, 0, ""}).ok());
  Batch b2;
  b2.contacts = {MakeContact("c1", "u1", "old", 2)};
  ASSERT_TRUE(store_->Apply(Target::kLive, b2, {"p2", 2, 0, ""}).ok());
  auto c = store_->GetContact("u1", "c1");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->name, "new");
  EXPECT_EQ((*c)->version, 3);
  auto v = store_->AppliedVersion("contact-c1");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
}

// Every kind of text a row may hold comes back as it went in: the characters an array or a
// JSON literal quotes or escapes, empty strings against NULLs, multi-byte UTF-8, large and
// negative integers, and a batch whose other tables are empty.
TEST_P(ReadModelTest, RowsComeBackExactlyAsApplied) {
  const std::string odd = "a\"b\\c{d},e NULL 'f'\n\t\u00e9\u20ac\U0001F600 ";
  Contact c = MakeContact("c\"1", "u{1}", odd, 4000000000LL, true);
  c.username = "";
  c.phone = std::nullopt;
  c.email = "NULL";
  c.notes = std::string(5000, 'x') + odd;
  Transaction t = MakeTx("t,1", "u{1}", "c\"1", "lent", 999999999999999LL, "\\", odd);
  t.description = "";
  t.due_date = std::nullopt;
  EventRow e;
  e.seq = 0;
  e.event_id = "e1";
  e.stream = "contact-c\"1";
  e.version = 4000000000LL;
  e.user_id = "u{1}";
  e.aggregate_type = "contact";
  e.aggregate_id = "c\"1";
  e.event_type = "ContactDeleted";
  e.data = R"({"name":"a\"b","list":[1,{"x":null}]})" + odd;
  e.occurred_at = "2024-01-01T00:00:00Z";
  Batch b;
  b.contacts = {c};
  b.transactions = {t};
  b.settings = {{"u{1}", "k\"}", odd, 7}};
  b.events = {e};
  b.balances = {{"u{1}", "c\"1", "\\", -999999999999999LL}};
  ASSERT_TRUE(store_->Apply(Target::kLive, b, {"p", 1, 0, ""}).ok());

  auto got = store_->GetContact("u{1}", "c\"1");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_EQ((*got)->name, odd);
  EXPECT_EQ((*got)->username, std::optional<std::string>(""));
  EXPECT_EQ((*got)->phone, std::nullopt);
  EXPECT_EQ((*got)->email, std::optional<std::string>("NULL"));
  EXPECT_EQ((*got)->notes, c.notes);
  EXPECT_EQ((*got)->version, 4000000000LL);
  EXPECT_TRUE((*got)->is_deleted);
  auto tx = store_->GetTransaction("u{1}", "t,1");
  ASSERT_TRUE(tx.ok() && tx->has_value()) << tx.status().ToString();
  EXPECT_EQ((*tx)->amount, 999999999999999LL);
  EXPECT_EQ((*tx)->currency, "\\");
  EXPECT_EQ((*tx)->transaction_date, odd);
  EXPECT_EQ((*tx)->description, std::optional<std::string>(""));
  EXPECT_EQ((*tx)->due_date, std::nullopt);
  EXPECT_FALSE((*tx)->is_deleted);
  auto settings = store_->GetSettings("u{1}");
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(*settings, (std::map<std::string, std::string>{{"k\"}", odd}}));
  auto events = store_->FindEvent("u{1}", "e1");
  ASSERT_TRUE(events.ok() && events->has_value()) << events.status().ToString();
  EXPECT_EQ((*events)->data, e.data);
  EXPECT_EQ((*events)->stream, e.stream);
  EXPECT_EQ((*events)->version, 4000000000LL);
  auto bal = store_->Balances("u{1}", "c\"1");
  ASSERT_TRUE(bal.ok());
  ASSERT_EQ(bal->size(), 1u);
  EXPECT_EQ((*bal)[0].currency, "\\");
  EXPECT_EQ((*bal)[0].amount, -999999999999999LL);
}

TEST_P(ReadModelTest, RebuildSwapsFreshTablesInAtomically) {
  Batch live;
  live.contacts = {MakeContact("c1", "u1", "live", 0)};
  ASSERT_TRUE(store_->Apply(Target::kLive, live, {"pos-live", 1, 0, ""}).ok());
  for (int round = 0; round < 2; ++round) {  // twice: index names must not collide
    ASSERT_TRUE(store_->BeginRebuild().ok());
    EXPECT_TRUE(store_->RebuildInProgress());
    auto st = store_->LoadState(Target::kRebuild);
    ASSERT_TRUE(st.ok());
    Batch rb;
    rb.contacts = {MakeContact("c2", "u1", std::string("rebuilt") + std::to_string(round), 0)};
    ProjectionState next = *st;
    next.position = "pos-rebuild";
    next.events_applied = 5;
    ASSERT_TRUE(store_->Apply(Target::kRebuild, rb, next).ok());
    // Reads still see the live tables during the rebuild.
    auto during = store_->ListContacts("u1");
    ASSERT_TRUE(during.ok());
    ASSERT_EQ(during->size(), round == 0 ? 1u : 1u);
    ASSERT_TRUE(store_->FinishRebuild().ok());
    EXPECT_FALSE(store_->RebuildInProgress());
    auto after = store_->ListContacts("u1");
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->size(), 1u);
    EXPECT_EQ((*after)[0].name, std::string("rebuilt") + std::to_string(round));
    auto state = store_->LoadState(Target::kLive);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->position, "pos-rebuild");
    EXPECT_EQ(state->generation, round + 1);
  }
}

// PostgreSQL sends a bulk batch while the caller goes on, so a batch the server refuses (here:
// text that is not UTF-8) is answered by the next ApplyBulk or by FinishBulk: either way the
// rebuild fails, the live tables stay as they were, and the next rebuild starts over and
// succeeds.
TEST_P(ReadModelTest, RefusedBulkBatchFailsTheRebuildAndLeavesTheLiveTables) {
  if (GetParam() != "pg") GTEST_SKIP() << "the refusal is made by a PostgreSQL session";
  Batch live;
  live.contacts = {MakeContact("c1", "u1", "live", 0)};
  ASSERT_TRUE(store_->Apply(Target::kLive, live, {"pos-live", 1, 0, ""}).ok());
  auto before = store_->Dump();
  ASSERT_TRUE(before.ok());
  auto bulk = [](int64_t seq, const std::string& name, const std::string& data = "{}") {
    Batch b;
    b.contacts = {MakeContact("c2", "u1", name, seq)};
    b.events = {EventRow{seq, "e" + std::to_string(seq), "contact-c2", seq, "u1", "contact", "c2",
                         "ContactUpdated", data, "2024-01-01T00:00:00.000000Z"}};
    return b;
  };
  // Refused on the session of the contacts, then on the session of the events.
  for (const Batch& refused : {bulk(1, "second \xff"), bulk(1, "second", "{\xff}")}) {
    ASSERT_TRUE(store_->BeginRebuild().ok());
    auto st = store_->LoadState(Target::kRebuild);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(store_->ApplyBulk(bulk(0, "first"), *st).ok());
    Status second = store_->ApplyBulk(refused, *st);
    Status finish = second.ok() ? store_->FinishBulk() : second;
    EXPECT_FALSE(finish.ok());
    EXPECT_FALSE(store_->FinishRebuild().ok());  // the failure sticks: nothing is swapped in
    auto after = store_->Dump();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(*after, *before);
  }

  ASSERT_TRUE(store_->BeginRebuild().ok());
  auto st = store_->LoadState(Target::kRebuild);
  ASSERT_TRUE(st.ok());
  ProjectionState next = *st;
  next.position = "pos-rebuild";
  next.events_applied = 2;
  ASSERT_TRUE(store_->ApplyBulk(bulk(0, "first"), next).ok());
  ASSERT_TRUE(store_->ApplyBulk(bulk(1, "second"), next).ok());
  ASSERT_TRUE(store_->FinishRebuild().ok());
  auto contact = store_->GetContact("u1", "c2");
  ASSERT_TRUE(contact.ok());
  ASSERT_TRUE(contact->has_value());
  EXPECT_EQ((*contact)->name, "second");
  EXPECT_FALSE(store_->GetContact("u1", "c1")->has_value());
  auto events = store_->AllEventsAfter(-1, 10);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
}

// The bulk phase writes its rows frozen (COPY FREEZE into tables its transaction
// truncated): every page of a table it loaded is all-visible once the rebuild is swapped in,
// so neither the first scan (hint bits) nor a vacuum has to write the table out again.
TEST_P(ReadModelTest, BulkLoadedTablesAreAllVisibleAfterTheRebuild) {
  if (GetParam() != "pg") GTEST_SKIP() << "PostgreSQL's visibility map";
  ASSERT_TRUE(store_->BeginRebuild().ok());
  auto st = store_->LoadState(Target::kRebuild);
  ASSERT_TRUE(st.ok());
  int64_t seq = 0;
  for (int batch = 0; batch < 2; ++batch) {
    Batch b;
    for (int i = 0; i < 300; ++i, ++seq) {
      std::string n = std::to_string(seq);
      b.contacts.push_back(MakeContact("c" + n, "u1", "name " + n, 0));
      b.transactions.push_back(MakeTx("t" + n, "u1", "c" + n, "lent", seq, "USD", "2024-01-01"));
      b.events.push_back(EventRow{seq, "e" + n, "contact-c" + n, 0, "u1", "contact", "c" + n,
                                  "ContactCreated", std::string(200, 'x'),
                                  "2024-01-01T00:00:00.000000Z"});
      b.balances.push_back(BalanceDelta{"u1", "c" + n, "USD", seq});
    }
    ProjectionState next = *st;
    next.events_applied = seq;
    ASSERT_TRUE(store_->ApplyBulk(b, next).ok());
  }
  ASSERT_TRUE(store_->FinishBulk().ok());
  ASSERT_TRUE(store_->FinishRebuild().ok());
  ASSERT_EQ(store_->ListContacts("u1")->size(), 600u);
  PGconn* c = PQconnectdb(db_.url.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c,
                       "SELECT relname, relpages, relallvisible FROM pg_class WHERE relnamespace = "
                       "current_schema()::regnamespace AND relname IN ('contacts', "
                       "'transactions', 'events', 'balances') ORDER BY relname");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
  ASSERT_EQ(PQntuples(r), 4);
  for (int i = 0; i < PQntuples(r); ++i) {
    std::string table = PQgetvalue(r, i, 0);
    int pages = std::atoi(PQgetvalue(r, i, 1));
    EXPECT_GT(pages, table == "events" ? 2 : 0) << table;
    EXPECT_EQ(std::atoi(PQgetvalue(r, i, 2)), pages) << table;
  }
  PQclear(r);
  PQfinish(c);
}

TEST_P(ReadModelTest, ProjectorLockIsExclusiveAndTakenOverWhenReleased) {
  auto second = OpenReadModelStore(db_.url);
  ASSERT_TRUE(second.ok());
  auto a = store_->TryAcquireProjectorLock();
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(*a);
  auto b = (*second)->TryAcquireProjectorLock();
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(*b);
  store_.reset();  // the holder goes away (its session/file lock with it)
  auto c = (*second)->TryAcquireProjectorLock();
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(*c);
}

// PostgreSQL: the projector lock lives with the writer session. When that session is lost
// and another caller's query on it notices first (so the next write opens a new session
// without the lock), the projector's write must fail rather than apply beside the instance
// that may hold the lock now; it writes again once it has taken the lock again.
TEST_P(ReadModelTest, AStoreThatLostItsLockedSessionWritesNothingUntilItTakesTheLockAgain) {
  if (GetParam() != "pg") GTEST_SKIP() << "SQLite's lock is the file's, held while it is open";
  ASSERT_TRUE(*store_->TryAcquireProjectorLock());
  {
    // Ends the session holding this schema's projector lock, as a database restart would.
    PGconn* c = PQconnectdb(db_.url.c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    const std::string q =
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_locks "
        "WHERE locktype = 'advisory' AND granted AND classid = " +
        std::to_string(kProjectorLockClass) +
        "::bigint::oid AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid";
    PGresult* r = PQexec(c, q.c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
    EXPECT_STREQ(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    PQfinish(c);
  }
  (void)store_->RebuildInProgress();  // another caller on the writer session sees it lost
  Batch b;
  b.contacts = {MakeContact("c1", "u1", "while lost", 0)};
  Status refused = store_->Apply(Target::kLive, b, {"p1", 1, 0, ""});
  EXPECT_TRUE(refused.Is(Code::kUnavailable)) << refused.ToString();
  EXPECT_FALSE(store_->GetContact("u1", "c1")->has_value());

  auto second = OpenReadModelStore(db_.url);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(*(*second)->TryAcquireProjectorLock());  // the lock was free: another takes it
  EXPECT_FALSE(*store_->TryAcquireProjectorLock());
  EXPECT_FALSE(store_->Apply(Target::kLive, b, {"p1", 1, 0, ""}).ok());
  (*second)->ReleaseProjectorLock();
  ASSERT_TRUE(*store_->TryAcquireProjectorLock());
  ASSERT_TRUE(store_->Apply(Target::kLive, b, {"p1", 1, 0, ""}).ok());
  auto c = store_->GetContact("u1", "c1");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->name, "while lost");
}

TEST_P(ReadModelTest, SchemaIsCreatedOnceAndReopenKeepsData) {
  Batch b;
  b.contacts = {MakeContact("c1", "u1", "kept", 0)};
  ASSERT_TRUE(store_->Apply(Target::kLive, b, {"p", 1, 0, ""}).ok());
  store_.reset();
  auto again = OpenReadModelStore(db_.url);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto c = (*again)->GetContact("u1", "c1");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->name, "kept");
}

// An event as the projector reads it, with a fresh id.
client::ResolvedEvent Ev(const std::string& stream, int64_t n, const std::string& type,
                         const json& data) {
  client::ResolvedEvent e;
  e.stream = stream;
  e.number = n;
  e.id = Uuid::Random();
  e.type = type;
  e.data = data.dump();
  return e;
}

TEST(BatchBuilder, BalanceDeltasFollowCreatesUpdatesAndDeletes) {
  json t = {{"id", "t1"}, {"user_id", "u"}, {"contact_id", "c1"}, {"type", "money"},
            {"direction", "lent"}, {"amount", 100}, {"currency", "IQD"}, {"description", nullptr},
            {"transaction_date", "2024-01-01"}, {"due_date", nullptr}, {"created_at", "x"},
            {"updated_at", "x"}};
  json t2 = t;
  t2["contact_id"] = "c2";
  t2["amount"] = 30;
  t2["direction"] = "owed";
  BatchBuilder b;
  int64_t seq = 0;
  ASSERT_TRUE(b.Add(Ev("transaction-t1", 0, "TransactionCreated",
                       {{"user_id", "u"}, {"transaction", t}, {"occurred_at", "x"}}), seq));
  ASSERT_TRUE(b.Add(Ev("transaction-t1", 1, "TransactionUpdated",
                       {{"user_id", "u"}, {"transaction", t2},
                        {"previous", {{"contact_id", "c1"}, {"amount", 100}, {"direction", "lent"}}},
                        {"occurred_at", "x"}}), seq));
  Batch batch = b.Take();
  std::map<std::string, int64_t> d;
  for (auto& x : batch.balances) d[x.contact_id + "/" + x.currency] = x.delta;
  EXPECT_EQ(d, (std::map<std::string, int64_t>{{"c1/IQD", 0}, {"c2/IQD", -30}}));
  ASSERT_EQ(batch.transactions.size(), 1u);
  EXPECT_EQ(batch.transactions[0].version, 1);
  ASSERT_TRUE(b.Add(Ev("transaction-t1", 2, "TransactionDeleted",
                       {{"user_id", "u"}, {"deleted_snapshot", t2}, {"occurred_at", "x"}}), seq));
  batch = b.Take();
  ASSERT_EQ(batch.balances.size(), 1u);
  EXPECT_EQ(batch.balances[0].delta, 30);
  EXPECT_EQ(seq, 3);
  EXPECT_FALSE(b.Add(Ev("user-x", 0, "UserCreated", {{"user_id", "u"}}), seq));
}

TEST(BatchBuilder, FoldsRowsAcrossBatchesAndTakesThemInKeyOrder) {
  auto tx = [](const std::string& id, const std::string& contact, int64_t amount) {
    return json{{"id", id}, {"user_id", "u"}, {"contact_id", contact}, {"type", "money"},
                {"direction", "lent"}, {"amount", amount}, {"currency", "IQD"},
                {"description", nullptr}, {"transaction_date", "2024-01-01"},
                {"due_date", nullptr}, {"created_at", "x"}, {"updated_at", "x"}};
  };
  BatchBuilder b;
  int64_t seq = 0;
  for (std::string id : {"t3", "t1", "t2"}) {
    ASSERT_TRUE(b.Add(Ev("transaction-" + id, 0, "TransactionCreated",
                         {{"user_id", "u"}, {"transaction", tx(id, "c" + id, 10)}}), seq));
  }
  Batch events = b.TakeEvents();
  EXPECT_EQ(events.events.size(), 3u);
  EXPECT_TRUE(events.transactions.empty() && events.balances.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.rows(), 6u);  // three transactions, three balance keys
  // A later batch's update folds into the row held from the earlier one.
  ASSERT_TRUE(b.Add(Ev("transaction-t1", 1, "TransactionUpdated",
                       {{"user_id", "u"}, {"transaction", tx("t1", "ct1", 4)},
                        {"previous", {{"amount", 10}}}}), seq));
  ASSERT_TRUE(b.Add(Ev("settings-u", 0, "SettingChanged",
                       {{"user_id", "u"}, {"key", "b"}, {"value", "1"}}), seq));
  ASSERT_TRUE(b.Add(Ev("settings-u", 1, "SettingChanged",
                       {{"user_id", "u"}, {"key", "a"}, {"value", "2"}}), seq));
  events = b.TakeEvents();
  ASSERT_EQ(events.events.size(), 3u);
  EXPECT_EQ(events.events[0].seq, 3);
  Batch rows = b.TakeRows();
  EXPECT_TRUE(rows.events.empty());
  ASSERT_EQ(rows.transactions.size(), 3u);
  EXPECT_EQ(rows.transactions[0].id, "t1");
  EXPECT_EQ(rows.transactions[0].version, 1);
  EXPECT_EQ(rows.transactions[0].amount, 4);
  EXPECT_EQ(rows.transactions[1].id, "t2");
  EXPECT_EQ(rows.transactions[2].id, "t3");
  ASSERT_EQ(rows.balances.size(), 3u);
  EXPECT_EQ(rows.balances[0].contact_id, "ct1");
  EXPECT_EQ(rows.balances[0].delta, 4);  // +10, then -10 +4
  EXPECT_EQ(rows.balances[2].contact_id, "ct3");
  ASSERT_EQ(rows.settings.size(), 2u);
  EXPECT_EQ(rows.settings[0].key, "a");
  EXPECT_EQ(rows.settings[1].key, "b");
  EXPECT_EQ(b.rows(), 0u);
  // Nothing held any more: the next take starts afresh.
  ASSERT_TRUE(b.Add(Ev("transaction-t1", 2, "TransactionDeleted",
                       {{"user_id", "u"}, {"deleted_snapshot", tx("t1", "ct1", 4)}}), seq));
  rows = b.TakeRows();
  ASSERT_EQ(rows.balances.size(), 1u);
  EXPECT_EQ(rows.balances[0].delta, -4);
}

// A row as text, every member (optional ones as null), for comparing rows.
std::string Describe(const Batch& b) {
  json out = json::array();
  for (const auto& c : b.contacts) {
    json j = tracker::ContactToJson(c);
    j["version"] = c.version;
    j["is_deleted"] = c.is_deleted;
    out.push_back(j);
  }
  for (const auto& t : b.transactions) {
    json j = tracker::TransactionToJson(t);
    j["version"] = t.version;
    j["is_deleted"] = t.is_deleted;
    out.push_back(j);
  }
  for (const auto& r : b.settings) out.push_back({r.user_id, r.key, r.value, r.version});
  for (const auto& d : b.balances) out.push_back({d.user_id, d.contact_id, d.currency, d.delta});
  for (const auto& e : b.events) {
    out.push_back({e.seq, e.event_id, e.stream, e.version, e.user_id, e.aggregate_type,
                   e.aggregate_id, e.event_type, e.data, e.occurred_at});
  }
  return out.dump();
}

TEST(BatchBuilder, RowsBuiltIntoRecycledRowsEqualFreshOnes) {
  auto Name = [](const char* prefix, int i) {
    std::string s = prefix;
    s += std::to_string(i);
    return s;
  };
  // The recycled batch's rows have every optional member and text set; the later events
  // have none of them (null or absent), so anything left over from a reused row shows.
  json full_contact = {{"id", "c1"}, {"user_id", "u"}, {"name", "A long name, longer than SSO"},
                       {"username", "user-name-long-enough-to-allocate"}, {"phone", "0770123"},
                       {"email", "someone@example.com, long enough"}, {"notes", "notes notes"},
                       {"created_at", "2024-01-01T00:00:00.000000Z"},
                       {"updated_at", "2024-01-02T00:00:00.000000Z"}};
  json full_tx = {{"id", "t1"}, {"user_id", "u"}, {"contact_id", "c1"}, {"type", "money"},
                  {"direction", "lent"}, {"amount", 100}, {"currency", "IQD"},
                  {"description", "a description longer than the small string buffer"},
                  {"transaction_date", "2024-01-01"}, {"due_date", "2024-02-01"},
                  {"created_at", "2024-01-01T00:00:00.000000Z"},
                  {"updated_at", "2024-01-01T00:00:00.000000Z"}};
  std::vector<client::ResolvedEvent> first, later;
  for (int i = 0; i < 40; ++i) {
    json c = full_contact;
    c["id"] = Name("c", i);
    json t = full_tx;
    t["id"] = Name("t", i);
    first.push_back(Ev(Name("contact-c", i), 0, "ContactCreated",
                       {{"user_id", "u"}, {"contact", c}, {"occurred_at", "2024-01-01T00:00:00Z"}}));
    first.push_back(Ev(Name("transaction-t", i), 0, "TransactionCreated",
                       {{"user_id", "u"}, {"transaction", t}, {"occurred_at", "2024-01-01"}}));
  }
  for (int i = 0; i < 50; ++i) {
    json c = {{"id", Name("d", i)}, {"user_id", "v"}, {"name", "n"},
              {"username", nullptr}, {"phone", nullptr}};
    json t = {{"id", Name("s", i)}, {"user_id", "v"}, {"contact_id", "d1"},
              {"type", i % 2 ? "item" : "money"}, {"direction", "owed"}, {"amount", i},
              {"currency", "USD"}, {"description", nullptr}, {"transaction_date", "2024-03-01"}};
    later.push_back(Ev(Name("contact-d", i), 0, "ContactCreated",
                       {{"user_id", "v"}, {"contact", c}}));
    later.push_back(Ev(Name("transaction-s", i), 0, "TransactionCreated",
                       {{"user_id", "v"}, {"transaction", t}}));
    // An older version after a newer one (not kept) and a newer one (kept).
    later.push_back(Ev(Name("transaction-s", i), i % 2 ? 2 : -1, "TransactionUpdated",
                       {{"user_id", "v"}, {"transaction", t}, {"previous", {{"amount", 1}}}}));
  }
  later.push_back(Ev("contact-bad", 0, "ContactCreated",
                     {{"user_id", "v"}, {"contact", {{"id", "bad"}, {"user_id", "v"},
                                                     {"name", std::string("nul\0here", 8)}}}}));
  later.push_back(Ev("contact-x", 0, "ContactCreated", {{"user_id", "v"}}));  // skipped
  later.push_back(Ev("settings-v", 0, "SettingChanged",
                     {{"user_id", "v"}, {"key", "k"}, {"value", "1"}}));

  auto build = [&](bool recycle, bool by_copy, bool fold) {
    BatchBuilder b;
    int64_t seq = 0;
    if (recycle) {
      for (auto e : first) b.Add(std::move(e), seq);
      b.Recycle(b.Take());
    }
    seq = 100;
    Batch out;
    for (size_t i = 0; i < later.size(); ++i) {
      if (by_copy) {
        b.Add(later[i], seq);
      } else {
        client::ResolvedEvent e = later[i];
        b.Add(std::move(e), seq);
      }
      if (fold && i % 7 == 6) {
        Batch part = b.TakeEvents();
        for (const auto& row : part.events) out.events.push_back(row);
        b.Recycle(std::move(part));  // full rows, whose strings later rows reuse
      }
    }
    if (!fold) return b.Take();
    Batch part = b.TakeEvents();
    for (auto& row : part.events) out.events.push_back(std::move(row));
    Batch rows = b.TakeRows();
    rows.events = std::move(out.events);
    return rows;
  };
  const std::string fresh = Describe(build(false, false, false));
  EXPECT_NE(fresh.find("\xEF\xBF\xBD"), std::string::npos);  // the U+0000 repaired
  EXPECT_EQ(Describe(build(true, false, false)), fresh);
  EXPECT_EQ(Describe(build(true, true, false)), fresh);
  EXPECT_EQ(Describe(build(false, true, false)), fresh);
  const std::string folded = Describe(build(false, false, true));
  EXPECT_EQ(Describe(build(true, true, true)), folded);
}

// ---------------------------------------------------------------- projector over the engine

class ProjectorTest : public ReadModelTest {
 protected:
  void SetUp() override {
    ReadModelTest::SetUp();
    if (IsSkipped()) return;
    es_dir_ = testing::TempDir("es");
    auto c = client::InProcessClient::Open(es_dir_ + "/es");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    events_ = std::move(c).value();
    tracker_ = std::make_unique<tracker::TrackerService>(*events_);
  }
  void TearDown() override {
    tracker_.reset();
    events_.reset();
    if (!es_dir_.empty()) std::filesystem::remove_all(es_dir_);
    ReadModelTest::TearDown();
  }
  tracker::CommandContext Ctx(const std::string& user) {
    tracker::CommandContext ctx;
    ctx.user_id = user;
    ctx.request_id = "test";
    return ctx;
  }
  // Rebuilds the read model and checks that the result equals `before` row for row.
  void ExpectRebuildGives(Projector& projector, const std::string& before) {
    Status s = projector.Rebuild();
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto rebuilt = store_->Dump();
    ASSERT_TRUE(rebuilt.ok());
    EXPECT_EQ(before, *rebuilt);
  }
  // A mixed history: creates, updates, deletes, settings, for two users.
  void WriteHistory(int contacts) {
    for (int i = 0; i < contacts; ++i) {
      std::string user = i % 2 ? "user-b" : "user-a";
      json contact = {{"name", std::string("C") + std::to_string(i)}};
      if (i % 3 == 1) {
        // Text that each store's bulk path must escape (COPY: backslash, tab, newline, CR).
        contact["name"] = std::string("Tab\there \\N back\\slash \"q\" {a,b} caf\u00e9 ") + std::to_string(i);
        contact["notes"] = "line1\nline2\r\n\\t not a tab\t\\";
      }
      auto c = tracker_->CreateContact(Ctx(user), contact);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      std::string cid = c->body["id"];
      for (int t = 0; t < 3; ++t) {
        auto tx = tracker_->CreateTransaction(
            Ctx(user), json{{"contact_id", cid},
                            {"type", "money"},
                            {"direction", t % 2 ? "owed" : "lent"},
                            {"amount", 100 + t},
                            {"currency", t == 2 ? "USD" : "IQD"},
                            {"transaction_date", std::string("2024-02-0") + std::to_string(t + 1)}});
        ASSERT_TRUE(tx.ok()) << tx.status().ToString();
        if (t == 1) {
          ASSERT_TRUE(tracker_->UpdateTransaction(Ctx(user), tx->body["id"], json{{"amount", 5}}).ok());
        }
        if (t == 2 && i % 3 == 0) {
          ASSERT_TRUE(tracker_->DeleteTransaction(Ctx(user), tx->body["id"], nullptr).ok());
        }
      }
      if (i % 4 == 3) {
        ASSERT_TRUE(tracker_->DeleteContact(Ctx(user), cid, nullptr).ok());
      }
      if (i % 5 == 0) {
        ASSERT_TRUE(tracker_->SetSetting(Ctx(user), "dark_mode", json{{"value", i % 2 ? "true" : "false"}}).ok());
      }
    }
  }
  std::string es_dir_;
  std::unique_ptr<client::InProcessClient> events_;
  std::unique_ptr<tracker::TrackerService> tracker_;
};

TEST_P(ProjectorTest, LiveProjectionAnswersReadYourWrites) {
  Projector projector(*events_, *store_, {.page_size = 100, .long_poll = std::chrono::milliseconds(200)});
  projector.Start();
  auto c = tracker_->CreateContact(Ctx("u"), json{{"name", "Zoe"}});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(projector.WaitApplied(c->stream, c->event_number, std::chrono::seconds(5)));
  auto got = store_->GetContact("u", c->body["id"]);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "Zoe");
  projector.Stop();
}

TEST_P(ProjectorTest, RebuiltReadModelEqualsIncrementalOneRowForRow) {
  Projector projector(*events_, *store_, {.page_size = 7, .long_poll = std::chrono::milliseconds(50)});
  projector.Start();
  // Written while the projector runs: applied in many small live batches.
  WriteHistory(24);
  auto head_written = tracker_->CreateContact(Ctx("user-a"), json{{"name", "last"}});
  ASSERT_TRUE(head_written.ok());
  ASSERT_TRUE(projector.WaitApplied(head_written->stream, 0, std::chrono::seconds(10)));
  auto incremental = store_->Dump();
  ASSERT_TRUE(incremental.ok());
  ExpectRebuildGives(projector, *incremental);
  EXPECT_GT(std::count(incremental->begin(), incremental->end(), '\n'), 150);
  // The live projector goes on after the swap.
  auto more = tracker_->CreateContact(Ctx("user-b"), json{{"name", "after"}});
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(projector.WaitApplied(more->stream, 0, std::chrono::seconds(5)));
  auto found = store_->GetContact("user-b", more->body["id"]);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
  projector.Stop();
}

TEST_P(ProjectorTest, RebuildInSmallBatchesEqualsIncremental) {
  // Batches of 3 events: most aggregates' later events (updates, deletes, settings changes)
  // come in a later batch of the bulk phase than their first one.
  Projector projector(*events_, *store_, {.page_size = 5, .long_poll = std::chrono::milliseconds(50),
                                          .rebuild_batch_events = 3});
  WriteHistory(30);
  ASSERT_TRUE(tracker_->SetSetting(Ctx("user-a"), "dark_mode", json{{"value", "true"}}).ok());
  ASSERT_TRUE(projector.CatchUp().ok());
  auto incremental = store_->Dump();
  ASSERT_TRUE(incremental.ok());
  ExpectRebuildGives(projector, *incremental);
  // And once more (index and key names of the next generation).
  ExpectRebuildGives(projector, *incremental);
}

TEST_P(ProjectorTest, RebuildFoldingRowsInSmallChunksEqualsIncremental) {
  // Rows folded across batches in chunks of at most 4 (where the store folds at all):
  // aggregates' later events land in a later chunk than their first row and are written as
  // upserts over it, in key order.
  Projector projector(*events_, *store_, {.page_size = 5, .long_poll = std::chrono::milliseconds(50),
                                          .rebuild_batch_events = 6, .rebuild_fold_rows = 4});
  WriteHistory(30);
  ASSERT_TRUE(projector.CatchUp().ok());
  auto incremental = store_->Dump();
  ASSERT_TRUE(incremental.ok());
  ExpectRebuildGives(projector, *incremental);
}

TEST_P(ProjectorTest, RebuildWhileWritesGoOnLosesNothing) {
  Projector projector(*events_, *store_, {.page_size = 50, .long_poll = std::chrono::milliseconds(50),
                                          .rebuild_batch_events = 20});
  projector.Start();
  WriteHistory(10);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    int i = 0;
    while (!done) {
      auto c = tracker_->CreateContact(Ctx("user-c"), json{{"name", std::string("w") + std::to_string(i++)}});
      ASSERT_TRUE(c.ok());
    }
  });
  Status rebuilt = projector.Rebuild();
  done = true;
  writer.join();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.ToString();
  auto last = tracker_->CreateContact(Ctx("user-c"), json{{"name", "zz-final"}});
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(projector.WaitApplied(last->stream, 0, std::chrono::seconds(10)));
  auto incremental = store_->Dump();
  ASSERT_TRUE(incremental.ok());
  ExpectRebuildGives(projector, *incremental);
  projector.Stop();
}

// Events any client can write straight to the event store: none may stop the projector.
// U+0000 (PostgreSQL text cannot hold it) is stored as U+FFFD; unreadable domain events are
// skipped and counted; the rebuild decides the same, so it still equals the live tables.
TEST_P(ProjectorTest, EventsNoStoreCanHoldAsTheyAreNeverStopTheProjector) {
  auto append = [&](const std::string& stream, const std::string& type, const std::string& data) {
    client::ProposedEvent e{Uuid::Random(), type, data, ""};
    auto r = events_->Append(stream, -2, {e});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  const std::string nul_contact =
      R"({"user_id":"u","occurred_at":"2024-01-01T00:00:00Z","contact":{"id":"c1","user_id":"u",)"
      R"("name":"a\u0000b","notes":"\u0000","created_at":"x","updated_at":"x"}})";
  append("contact-c1", "ContactCreated", nul_contact);
  append("settings-u", "SettingChanged", R"({"user_id":"u","key":"k\u0000","value":"v\u0000"})");
  append("contact-c2", "ContactCreated", "not json");
  append("contact-c3", "ContactCreated", R"({"user_id":"u"})");
  append("contact-c4", "ContactRenamed", R"({"user_id":"u","contact":{}})");
  append("transaction-t1", "TransactionCreated",
         R"({"user_id":"u","transaction":{"id":"t1","user_id":"u","contact_id":"c1",)"
         R"("type":"money","direction":"lent","amount":10000000000000000000,"currency":"IQD",)"
         R"("transaction_date":"2024-01-01","created_at":"x","updated_at":"x"}})");
  append("transaction-t2", "TransactionCreated",
         R"({"user_id":"u","transaction":{"id":"t2","user_id":"u","contact_id":"c1",)"
         R"("type":"money","direction":"lent","amount":9000000000000000000,"currency":"IQD",)"
         R"("transaction_date":"2024-01-01","created_at":"x","updated_at":"x"}})");
  auto after = tracker_->CreateContact(Ctx("u"), json{{"name", "after"}});
  ASSERT_TRUE(after.ok());

  Projector projector(*events_, *store_, {.page_size = 3, .long_poll = std::chrono::milliseconds(50)});
  projector.Start();
  ASSERT_TRUE(projector.WaitApplied(after->stream, 0, std::chrono::seconds(10)))
      << projector.GetStatus().last_error;
  const std::string fffd = "\xEF\xBF\xBD";
  auto c1 = store_->GetContact("u", "c1");
  ASSERT_TRUE(c1.ok() && c1->has_value());
  EXPECT_EQ((*c1)->name, "a" + fffd + "b");
  EXPECT_EQ((*c1)->notes, fffd);
  auto settings = store_->GetSettings("u");
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(*settings, (std::map<std::string, std::string>{{"k" + fffd, "v" + fffd}}));
  auto missing = store_->GetContact("u", "c2");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto balances = store_->Balances("u", "");
  ASSERT_TRUE(balances.ok());
  EXPECT_TRUE(balances->empty());  // both amounts are outside 0..10^15
  auto status = projector.GetStatus();
  EXPECT_EQ(status.events_skipped, 5);  // not JSON, no contact, unknown type, two amounts
  EXPECT_EQ(status.events_repaired, 2);
  EXPECT_NE(status.last_skipped.find("transaction-t2@0 TransactionCreated: amount"),
            std::string::npos)
      << status.last_skipped;
  EXPECT_TRUE(status.last_error.empty()) << status.last_error;
  auto live = store_->Dump();
  ASSERT_TRUE(live.ok());

  ExpectRebuildGives(projector, *live);
  status = projector.GetStatus();
  EXPECT_EQ(status.rebuild.events_skipped, 5);
  EXPECT_EQ(status.rebuild.events_repaired, 2);
  EXPECT_EQ(status.events_skipped, 5);  // the live count is the live projector's alone
  projector.Stop();
}

// A read model left by a schema-1 server (no balances table) is migrated on open: the balances
// of what it had projected are filled in, equal to what projecting the same events gives, and
// the projector and a rebuild go on from there.
TEST_P(ProjectorTest, SchemaOneReadModelIsMigratedWithItsBalances) {
  WriteHistory(12);  // deleted transactions included: their balances read 0, not absent
  std::string projected;
  {
    Projector projector(*events_, *store_, {.page_size = 10});
    ASSERT_TRUE(projector.CatchUp().ok());
    auto dump = store_->Dump();
    ASSERT_TRUE(dump.ok());
    projected = *dump;
  }
  auto balances = store_->Balances("user-a", "");
  ASSERT_TRUE(balances.ok());
  ASSERT_GT(balances->size(), 4u);
  store_.reset();
  ExecSql(db_, {"DROP TABLE balances", "DELETE FROM schema_version",
                "INSERT INTO schema_version (version) VALUES (1)"});
  for (int open = 0; open < 2; ++open) {  // the second open must not add the balances again
    auto s = OpenReadModelStore(db_.url);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto dump = store_->Dump();
    ASSERT_TRUE(dump.ok()) << dump.status().ToString();
    EXPECT_EQ(*dump, projected);
  }
  auto migrated = store_->Balances("user-a", "");
  ASSERT_TRUE(migrated.ok());
  auto key = [](const std::vector<BalanceRow>& rows) {
    std::map<std::string, int64_t> m;
    for (const auto& r : rows) m[r.contact_id + "/" + r.currency] = r.amount;
    return m;
  };
  EXPECT_EQ(key(*migrated), key(*balances));

  Projector projector(*events_, *store_, {.page_size = 10});
  WriteHistory(3);
  ASSERT_TRUE(projector.CatchUp().ok());
  auto live = store_->Dump();
  ASSERT_TRUE(live.ok());
  ExpectRebuildGives(projector, *live);
}

TEST(RepairText, ReplacesNulAndBytesThatAreNotUtf8) {
  auto repaired = [](std::string s) {
    RepairText(s);
    return s;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  std::string plain = "caf\xC3\xA9 \xF0\x9F\x98\x80 ok";
  EXPECT_FALSE(RepairText(plain));
  EXPECT_EQ(repaired(std::string("a\0b", 3)), "a" + fffd + "b");
  EXPECT_EQ(repaired("x\xC3"), "x" + fffd);              // cut sequence
  EXPECT_EQ(repaired("\xED\xA0\x80"), fffd + fffd + fffd);  // a surrogate
  EXPECT_EQ(repaired("\xC0\xAF"), fffd + fffd);           // overlong
  EXPECT_EQ(repaired("\xFF"), fffd);
  // Past the eight-bytes-at-a-time scan of plain ASCII: the byte ending or inside a word.
  EXPECT_EQ(repaired(std::string("0123456789abcde\0", 16)), "0123456789abcde" + fffd);
  EXPECT_EQ(repaired(std::string("01234567\0abcdefgh", 17)), "01234567" + fffd + "abcdefgh");
  EXPECT_EQ(repaired("0123456789\xFF"), "0123456789" + fffd);
  EXPECT_EQ(repaired("0123456\xC3\xA9xyz\x80"), "0123456\xC3\xA9xyz" + fffd);
  std::string long_plain(100, 'a');
  EXPECT_FALSE(RepairText(long_plain));
}

INSTANTIATE_TEST_SUITE_P(Stores, ReadModelTest, ::testing::Values("sqlite", "pg"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Stores, ProjectorTest, ::testing::Values("sqlite", "pg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dt::readmodel

// Offline sync and undo end to end over real HTTP: GET/POST /api/sync/events,
// GET /api/sync/hash, DELETE /api/admin/events/{id}; a running App with the engine in-process
// (or a dt-eventstore process: "remote_sqlite") and the read model in SQLite or PostgreSQL
// (the "pg" cases need DT_TEST_PG_URL).
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "api/api_test_env.h"
#include "client/time_util.h"
#include "tracker/idempotency.h"

namespace dt::api {
namespace {

using testing::ApiEnv;
using testing::Client;
using testing::json;
using testing::Reply;

std::string NewId() { return Uuid::Random().ToString(); }

// A page of GET /api/sync/events with its headers.
struct Page {
  unsigned status = 0;
  json events;
  std::string checkpoint;
  bool more = false;
};

class SyncApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string& mode = GetParam();
    if (mode.find("pg") != std::string::npos && !readmodel::testing::PgUrl()) {
      GTEST_SKIP() << "DT_TEST_PG_URL not set";
    }
    if (mode.rfind("remote", 0) == 0 && !testing::HaveRemoteEventStore()) {
      GTEST_SKIP() << "no dt-eventstore built and no DT_TEST_EVENTSTORE_URL";
    }
    env_ = std::make_unique<ApiEnv>(GetParam());
    env_->Start();
    Relogin();
  }
  void TearDown() override {
    alice_.reset();
    bob_.reset();
    env_.reset();
  }
  void Relogin() {
    alice_ = env_->Login("alice");
    bob_ = env_->Login("bob");
    alice_token_ = Token("alice");
  }
  std::string Token(const std::string& user) {
    Client c(env_->port());
    return c.Post("/api/auth/login", {{"username", user}, {"password", "pw-" + user}})
        .body.value("token", "");
  }
  Page Fetch(const std::string& query, const std::string& token) {
    http::TestClient c(env_->port());
    auto res = c.Do(http::Verb::get, "/api/sync/events" + query, "",
                    {{"Authorization", "Bearer " + token}});
    Page p;
    p.status = res.result_int();
    p.events = json::parse(res.body(), nullptr, false);
    p.checkpoint = std::string(res["X-Sync-Checkpoint"]);
    p.more = res["X-Sync-Has-More"] == "true";
    return p;
  }
  // Every event from `since` on, following the checkpoints page by page.
  json FetchAll(const std::string& token, size_t limit, int* pages = nullptr) {
    json all = json::array();
    std::string since;
    for (int i = 0; i < 10000; ++i) {
      Page p = Fetch("?limit=" + std::to_string(limit) + (since.empty() ? "" : "&since=" + since), token);
      EXPECT_EQ(p.status, 200u);
      if (p.status != 200) break;
      for (auto& e : p.events) all.push_back(e);
      if (pages) ++*pages;
      EXPECT_FALSE(p.checkpoint.empty());
      since = p.checkpoint;
      if (!p.more) break;
    }
    return all;
  }
  std::string NewContact(Client& c, const std::string& name) {
    auto r = c.Post("/api/contacts", {{"name", name}});
    EXPECT_EQ(r.status, 201u) << r.raw;
    return r.body.value("id", "");
  }
  json Tx(const std::string& contact, const std::string& direction, int64_t amount,
          const std::string& currency = "IQD") {
    return {{"contact_id", contact}, {"type", "money"},      {"direction", direction},
            {"amount", amount},      {"currency", currency}, {"transaction_date", "2024-05-01"}};
  }
  // The id of the user's newest event (what the app would undo).
  std::string NewestEventId(Client& c) {
    auto r = c.Get("/api/admin/events?limit=1");
    EXPECT_EQ(r.status, 200u);
    return r.body.empty() ? "" : r.body[0].value("id", "");
  }

  std::unique_ptr<ApiEnv> env_;
  std::unique_ptr<Client> alice_, bob_;
  std::string alice_token_;
};

json Offline(const std::string& id, const std::string& type, const std::string& aggregate_id,
             const std::string& event_type, json data, std::optional<int64_t> version = {}) {
  json e = {{"id", id},
            {"aggregate_type", type},
            {"aggregate_id", aggregate_id},
            {"event_type", event_type},
            {"event_data", std::move(data)},
            {"timestamp", "2024-05-01T08:00:00.000Z"}};
  if (version) e["version"] = *version;
  return e;
}

// A balances object without its zero entries (a currency whose transactions cancel out or
// were deleted may be listed with 0).
json NonZero(const json& balances) {
  json out = json::object();
  for (auto it = balances.begin(); it != balances.end(); ++it) {
    if (it.value() != 0) out[it.key()] = it.value();
  }
  return out;
}

// ------------------------------------------------------------------ GET /api/sync/events

TEST_P(SyncApiTest, EventsComeAscendingInTheContractShapeWithCheckpoints) {
  std::string c = NewContact(*alice_, "Omar");
  auto t = alice_->Post("/api/transactions", Tx(c, "lent", 100));
  ASSERT_EQ(t.status, 201u);
  std::string tid = t.body["id"];
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "Omar A"}}).status, 200u);
  ASSERT_EQ(alice_->Put("/api/settings/dark_mode", {{"value", "false"}}).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/transactions/" + tid, {{"comment", "paid back"}}).status, 200u);
  NewContact(*bob_, "Bob's friend");

  Page all = Fetch("", alice_token_);
  ASSERT_EQ(all.status, 200u);
  ASSERT_EQ(all.events.size(), 4u) << all.events.dump();  // the setting is not part of sync
  const json& e = all.events;
  const std::vector<std::tuple<std::string, std::string, std::string, int64_t>> want = {
      {"contact", c, "CREATED", 0},
      {"transaction", tid, "CREATED", 0},
      {"contact", c, "UPDATED", 1},
      {"transaction", tid, "DELETED", 1}};
  int64_t last_checkpoint = -1;
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& [type, id, kind, version] = want[i];
    EXPECT_EQ(e[i]["aggregate_type"], type);
    EXPECT_EQ(e[i]["aggregate_id"], id);
    EXPECT_EQ(e[i]["event_type"], kind);
    EXPECT_EQ(e[i]["version"], version);
    EXPECT_TRUE(Uuid::Parse(e[i].value("id", "")).has_value());
    EXPECT_TRUE(ParseRfc3339Micros(e[i].value("timestamp", "")).has_value());
    EXPECT_TRUE(e[i]["event_data"].is_object());
    EXPECT_EQ(e[i]["event_data"]["id"], id);
    EXPECT_FALSE(e[i]["event_data"].contains("user_id"));
    int64_t cp = std::stoll(e[i].value("checkpoint", "-1"));
    EXPECT_GT(cp, last_checkpoint);
    last_checkpoint = cp;
  }
  EXPECT_EQ(e[0]["event_data"]["name"], "Omar");
  EXPECT_EQ(e[1]["event_data"]["amount"], 100);
  EXPECT_EQ(e[2]["event_data"]["name"], "Omar A");
  EXPECT_EQ(e[3]["event_data"]["comment"], "paid back");
  EXPECT_EQ(e[0]["domain_event_type"], "ContactCreated");
  EXPECT_EQ(all.checkpoint, e[3]["checkpoint"]);
  EXPECT_FALSE(all.more);

  // Since a checkpoint: only what came after it.
  Page rest = Fetch("?since=" + e[1]["checkpoint"].get<std::string>(), alice_token_);
  ASSERT_EQ(rest.events.size(), 2u);
  EXPECT_EQ(rest.events[0]["id"], e[2]["id"]);
  EXPECT_EQ(rest.events[1]["id"], e[3]["id"]);
  Page none = Fetch("?since=" + all.checkpoint, alice_token_);
  EXPECT_EQ(none.events, json::array());
  EXPECT_EQ(none.checkpoint, all.checkpoint);

  // Small pages walk the same list.
  int pages = 0;
  json paged = FetchAll(alice_token_, 1, &pages);
  EXPECT_EQ(paged, e);
  EXPECT_GE(pages, 4);

  // RFC 3339 timestamps: what occurred after them (a bare date and a missing zone are read
  // as UTC).
  Page after_ts = Fetch("?since=" + e[1]["timestamp"].get<std::string>(), alice_token_);
  ASSERT_EQ(after_ts.events.size(), 2u);
  EXPECT_EQ(after_ts.events[0]["id"], e[2]["id"]);
  EXPECT_EQ(Fetch("?since=2000-01-01", alice_token_).events.size(), 4u);
  EXPECT_EQ(Fetch("?since=2000-01-01T00:00:00", alice_token_).events.size(), 4u);
  EXPECT_EQ(Fetch("?since=2999-01-01T00:00:00%2B03:00", alice_token_).events.size(), 0u);
  // The same offset unencoded: its "+" arrives as a space and still means "+".
  EXPECT_EQ(Fetch("?since=2999-01-01T00:00:00+03:00", alice_token_).events.size(), 0u);
  EXPECT_EQ(Fetch("?since=2000-01-01T00:00:00.000+00:00", alice_token_).events.size(), 4u);

  // Another user sees only their own.
  Page bobs = Fetch("", Token("bob"));
  ASSERT_EQ(bobs.events.size(), 1u);
  EXPECT_EQ(bobs.events[0]["event_data"]["name"], "Bob's friend");

  EXPECT_EQ(Fetch("?since=yesterday", alice_token_).status, 400u);
  EXPECT_EQ(Fetch("?limit=0", alice_token_).status, 400u);
  EXPECT_EQ(Fetch("?limit=x", alice_token_).status, 400u);
  EXPECT_EQ(Fetch("", "forged").status, 401u);
}

// ------------------------------------------------------------------ GET /api/sync/hash

TEST_P(SyncApiTest, HashIsWhatAClientComputesFromTheEventsItHolds) {
  auto empty = bob_->Get("/api/sync/hash");
  ASSERT_EQ(empty.status, 200u);
  EXPECT_EQ(empty.body["hash"], tracker::Sha256Hex(""));
  EXPECT_EQ(empty.body["event_count"], 0);
  EXPECT_TRUE(empty.body["last_event_timestamp"].is_null());

  auto recompute = [&](const json& events) {
    std::string text;
    for (const auto& e : events) text += e["id"].get<std::string>() + "\n";
    return tracker::Sha256Hex(text);
  };
  std::string c = NewContact(*alice_, "Hashed");
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(c, "owed", 7)).status, 201u);
  ASSERT_EQ(alice_->Put("/api/settings/flip_colors", {{"value", "true"}}).status, 200u);
  json events = FetchAll(alice_token_, 1000);
  auto h1 = alice_->Get("/api/sync/hash");
  ASSERT_EQ(h1.status, 200u);
  EXPECT_EQ(h1.body["hash"], recompute(events));
  EXPECT_EQ(h1.body["event_count"], events.size());
  EXPECT_EQ(h1.body["last_event_timestamp"], events.back()["timestamp"]);

  // More events: the server's running digest and a fresh computation agree again.
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"notes", "n"}}).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/contacts/" + c).status, 200u);
  json more = FetchAll(alice_token_, 1000);
  ASSERT_EQ(more.size(), events.size() + 2);
  auto h2 = alice_->Get("/api/sync/hash");
  EXPECT_NE(h2.body["hash"], h1.body["hash"]);
  EXPECT_EQ(h2.body["hash"], recompute(more));
  EXPECT_EQ(h2.body["event_count"], more.size());
  EXPECT_EQ(h2.body["last_event_timestamp"], more.back()["timestamp"]);
  // Unchanged data, unchanged hash; bob's stays empty.
  EXPECT_EQ(alice_->Get("/api/sync/hash").body["hash"], h2.body["hash"]);
  EXPECT_EQ(bob_->Get("/api/sync/hash").body["hash"], tracker::Sha256Hex(""));
  EXPECT_EQ(Client(env_->port()).Get("/api/sync/hash").status, 401u);
}

// ------------------------------------------------------------------ POST /api/sync/events

TEST_P(SyncApiTest, OfflineRoundTrip) {
  const std::string ca = NewId(), cb = NewId(), t1 = NewId(), t2 = NewId(), t3 = NewId(),
                    t4 = NewId();
  json batch = json::array({
      Offline(NewId(), "contact", ca, "CREATED", {{"name", "Karim"}, {"phone", "0770"}}, 0),
      Offline(NewId(), "transaction", t1, "CREATED",
              {{"contact_id", ca}, {"type", "money"}, {"direction", "lent"}, {"amount", 5000},
               {"currency", "IQD"}, {"transaction_date", "2024-05-01T10:00:00Z"}}),
      Offline(NewId(), "transaction", t2, "CREATED",
              {{"contact_id", ca}, {"type", "money"}, {"direction", "owed"}, {"amount", 1500},
               {"currency", "IQD"}, {"transaction_date", "2024-05-02"}}),
      Offline(NewId(), "transaction", t3, "CREATED",
              {{"contact_id", ca}, {"type", "money"}, {"direction", "lent"}, {"amount", 20},
               {"currency", "USD"}, {"transaction_date", "2024-05-03"}}),
      Offline(NewId(), "contact", ca, "UPDATED", {{"name", "Karim H."}}, 1),
      Offline(NewId(), "transaction", t2, "UPDATED", {{"amount", 2000}}, 1),
      Offline(NewId(), "transaction", t3, "DELETED", {{"comment", "mistake"}}, 1),
      Offline(NewId(), "contact", cb, "CREATED", {{"name", "Temp"}}),
      Offline(NewId(), "contact", cb, "DELETED", nullptr),
      Offline(NewId(), "transaction", t4, "CREATED",
              {{"contact_id", ca}, {"type", "item"}, {"direction", "lent"}, {"amount", 1},
               {"description", "drill"}, {"transaction_date", "2024-05-04"}}),
  });
  json ids = json::array();
  for (const auto& e : batch) ids.push_back(e["id"]);

  size_t before = env_->CountDomainEvents();
  auto first = alice_->Post("/api/sync/events", batch);
  ASSERT_EQ(first.status, 200u) << first.raw;
  EXPECT_EQ(first.body["accepted"], ids);
  EXPECT_EQ(first.body["conflicts"], json::array());
  EXPECT_EQ(env_->CountDomainEvents(), before + batch.size());

  // Visible at once (read-your-writes), with the client's ids.
  auto karim = alice_->Get("/api/contacts/" + ca);
  ASSERT_EQ(karim.status, 200u);
  EXPECT_EQ(karim.body["name"], "Karim H.");
  EXPECT_EQ(karim.body["phone"], "0770");
  EXPECT_EQ(karim.body["version"], 1);
  EXPECT_EQ(karim.body["balance"], 5000 - 2000);
  EXPECT_EQ(NonZero(karim.body["balances"]), json({{"IQD", 3000}}));
  EXPECT_EQ(alice_->Get("/api/contacts/" + cb).status, 404u);
  EXPECT_EQ(alice_->Get("/api/transactions/" + t3).status, 404u);
  EXPECT_EQ(alice_->Get("/api/transactions/" + t1).body["transaction_date"], "2024-05-01");
  // The stored events carry the client's event ids.
  json synced = FetchAll(alice_token_, 1000);
  ASSERT_EQ(synced.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_EQ(synced[i]["id"], ids[i]);

  // The same batch again: accepted again, nothing written.
  auto again = alice_->Post("/api/sync/events", batch);
  ASSERT_EQ(again.status, 200u);
  EXPECT_EQ(again.body["accepted"], ids);
  EXPECT_EQ(again.body["conflicts"], json::array());
  EXPECT_EQ(env_->CountDomainEvents(), before + batch.size());

  // Conflicts are reported and never written.
  const std::string bad_name_id = NewId();
  const std::string good_id = NewId();
  json conflicting = json::array({
      Offline(ids[0], "contact", ca, "CREATED", {{"name", "Someone else"}}),        // id reused
      Offline(NewId(), "contact", cb, "UPDATED", {{"name", "Back?"}}),              // deleted
      Offline(NewId(), "contact", ca, "UPDATED", {{"name", "Stale"}}, 1),           // stale
      Offline(NewId(), "transaction", NewId(), "UPDATED", {{"amount", 3}}),         // unknown
      Offline(bad_name_id, "contact", NewId(), "CREATED", {{"name", ""}}),          // invalid
      Offline(NewId(), "contact", ca, "CREATED", {{"name", "Twin"}}),               // exists
      Offline(good_id, "contact", ca, "UPDATED", {{"notes", "met at the souq"}}, 2),  // fine
  });
  size_t before_conflicts = env_->CountDomainEvents();
  auto c = alice_->Post("/api/sync/events", conflicting);
  ASSERT_EQ(c.status, 200u) << c.raw;
  EXPECT_EQ(c.body["accepted"], json::array({good_id}));
  json want_conflicts = json::array();
  for (size_t i = 0; i + 1 < conflicting.size(); ++i) want_conflicts.push_back(conflicting[i]["id"]);
  EXPECT_EQ(c.body["conflicts"], want_conflicts);
  std::vector<std::string> reasons;
  for (const auto& d : c.body["conflict_details"]) reasons.push_back(d["reason"]);
  EXPECT_EQ(reasons, (std::vector<std::string>{"id_reused", "deleted", "stale_version",
                                               "not_found", "invalid", "exists"}));
  EXPECT_EQ(c.body["conflict_details"][2]["current_version"], 1);
  EXPECT_NE(c.body["conflict_details"][4]["error"].get<std::string>().find("name"),
            std::string::npos);
  EXPECT_EQ(env_->CountDomainEvents(), before_conflicts + 1);
  EXPECT_EQ(alice_->Get("/api/contacts/" + ca).body["name"], "Karim H.");
  // A refused id stays free: the corrected event is accepted under it.
  json fixed = json::array({Offline(bad_name_id, "contact", NewId(), "CREATED", {{"name", "Named"}})});
  EXPECT_EQ(alice_->Post("/api/sync/events", fixed).body["accepted"], json::array({bad_name_id}));
  // Another user cannot touch alice's contact.
  auto bobs = bob_->Post("/api/sync/events",
                         json::array({Offline(NewId(), "contact", ca, "UPDATED", {{"name", "Mine"}})}));
  EXPECT_EQ(bobs.body["accepted"], json::array());
  EXPECT_EQ(bobs.body["conflict_details"][0]["reason"], "not_found");

  // Mix in REST writes and an undo (a restore shows up as CREATED).
  std::string rest = NewContact(*alice_, "Via REST");
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(rest, "lent", 250, "USD")).status, 201u);
  ASSERT_EQ(alice_->Delete("/api/contacts/" + rest).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/admin/events/" + NewestEventId(*alice_)).status, 200u);

  // After a restart the first batch is still accepted once only.
  size_t before_restart = env_->CountDomainEvents();
  env_->Stop();
  env_->Start();
  Relogin();
  auto after_restart = alice_->Post("/api/sync/events", batch);
  ASSERT_EQ(after_restart.status, 200u);
  EXPECT_EQ(after_restart.body["accepted"], ids);
  EXPECT_EQ(env_->CountDomainEvents(), before_restart);

  // A client that replays the sync feed from the start rebuilds exactly the server's
  // contacts, transactions and balances.
  std::map<std::string, json> contacts, transactions;
  for (const auto& e : FetchAll(alice_token_, 3)) {
    auto& target = e["aggregate_type"] == "contact" ? contacts : transactions;
    std::string id = e["aggregate_id"];
    if (e["event_type"] == "DELETED") {
      target.erase(id);
    } else {
      json state = e["event_data"];
      state.erase("comment");
      state.erase("undo_of");
      target[id] = state;
    }
  }
  auto server_contacts = alice_->Get("/api/contacts");
  ASSERT_EQ(server_contacts.status, 200u);
  ASSERT_EQ(server_contacts.body.size(), contacts.size());
  for (const auto& sc : server_contacts.body) {
    ASSERT_TRUE(contacts.count(sc["id"])) << sc.dump();
    const json& mine = contacts[sc["id"]];
    for (const char* f : {"name", "username", "phone", "email", "notes", "created_at", "updated_at"}) {
      EXPECT_EQ(mine[f], sc[f]) << f;
    }
    // Balances from the client's own transactions.
    std::map<std::string, int64_t> per_currency;
    int64_t total = 0;
    for (const auto& [tid, t] : transactions) {
      if (t["contact_id"] != sc["id"] || t["type"] != "money") continue;
      int64_t a = t["direction"] == "lent" ? t["amount"].get<int64_t>() : -t["amount"].get<int64_t>();
      per_currency[t["currency"]] += a;
      total += a;
    }
    EXPECT_EQ(sc["balance"], total) << sc.dump();
    json b = json::object();
    for (const auto& [cur, amt] : per_currency) b[cur] = amt;
    EXPECT_EQ(NonZero(sc["balances"]), b) << sc.dump();
  }
  auto server_tx = alice_->Get("/api/transactions");
  ASSERT_EQ(server_tx.status, 200u);
  size_t live_tx = 0;
  for (const auto& [tid, t] : transactions) live_tx += contacts.count(t["contact_id"]) ? 1 : 0;
  EXPECT_EQ(server_tx.body.size(), live_tx);
  for (const auto& st : server_tx.body) {
    ASSERT_TRUE(transactions.count(st["id"])) << st.dump();
    const json& mine = transactions[st["id"]];
    for (const char* f : {"contact_id", "type", "direction", "amount", "currency", "description",
                          "transaction_date", "due_date", "created_at", "updated_at"}) {
      EXPECT_EQ(mine[f], st[f]) << f;
    }
  }
  EXPECT_EQ(transactions.size(), 4u);  // t1, t2, t4 (t3 was deleted) and the REST one
  EXPECT_EQ(contacts.size(), 3u);      // Karim, Named and the restored REST one
}

TEST_P(SyncApiTest, IdenticalBatchesRacingAreWrittenOnce) {
  const std::string contact = NewId();
  json batch = json::array({Offline(NewId(), "contact", contact, "CREATED", {{"name", "Raced"}})});
  for (int i = 0; i < 15; ++i) {
    batch.push_back(Offline(NewId(), "transaction", NewId(), "CREATED",
                            {{"contact_id", contact}, {"type", "money"}, {"direction", "lent"},
                             {"amount", 10 + i}, {"transaction_date", "2024-05-01"}}));
  }
  json ids = json::array();
  for (const auto& e : batch) ids.push_back(e["id"]);
  size_t before = env_->CountDomainEvents();
  std::vector<Reply> answers(4);
  std::vector<std::thread> racers;
  for (auto& a : answers) {
    racers.emplace_back([&] {
      auto c = env_->Login("alice");
      a = c->Post("/api/sync/events", batch);
    });
  }
  for (auto& t : racers) t.join();
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 200u) << a.raw;
    EXPECT_EQ(a.body["accepted"], ids);
    EXPECT_EQ(a.body["conflicts"], json::array());
  }
  EXPECT_EQ(env_->CountDomainEvents(), before + batch.size());
  EXPECT_EQ(alice_->Get("/api/contacts/" + contact).body["balance"], 15 * 10 + 105);
}

TEST_P(SyncApiTest, CheckpointsAndHashSurviveAProjectionRebuild) {
  std::string c = NewContact(*alice_, "Kept");
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(c, "lent", 5)).status, 201u);
  ASSERT_EQ(alice_->Put("/api/settings/dark_mode", {{"value", "false"}}).status, 200u);
  NewContact(*bob_, "Bob's");
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "Kept too"}}).status, 200u);
  json events = FetchAll(alice_token_, 2);
  auto hash = alice_->Get("/api/sync/hash").body;
  auto gen = alice_->Get("/api/admin/projections/status").body["generation"].get<int64_t>();
  ASSERT_EQ(alice_->Post("/api/admin/projections/rebuild", json::object()).status, 202u);
  for (int i = 0; i < 500; ++i) {
    auto st = alice_->Get("/api/admin/projections/status").body;
    if (!st["rebuilding"].get<bool>() && st["generation"].get<int64_t>() > gen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(alice_->Get("/api/admin/projections/status").body["generation"].get<int64_t>(), gen);
  EXPECT_EQ(FetchAll(alice_token_, 2), events);  // same events, same checkpoints
  EXPECT_EQ(alice_->Get("/api/sync/hash").body, hash);
  Page after = Fetch("?since=" + events[1]["checkpoint"].get<std::string>(), alice_token_);
  ASSERT_EQ(after.events.size(), events.size() - 2);
  EXPECT_EQ(after.events[0]["id"], events[2]["id"]);
}

TEST_P(SyncApiTest, BadBatchesAreRefusedWholeAndWriteNothing) {
  size_t before = env_->CountDomainEvents();
  const std::string ok = NewId();
  json batch = json::array({Offline(ok, "contact", NewId(), "CREATED", {{"name", "Fine"}}),
                            Offline("not-a-uuid", "contact", NewId(), "CREATED", {{"name", "x"}})});
  auto r = alice_->Post("/api/sync/events", batch);
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.body.value("error", "").find("event 1"), std::string::npos) << r.raw;
  const std::string raw = "{not json";
  EXPECT_EQ(alice_->Do(http::Verb::post, "/api/sync/events", json(), {}, &raw).status, 400u);
  EXPECT_EQ(alice_->Post("/api/sync/events", {{"name", "x"}}).status, 400u);
  EXPECT_EQ(alice_->Post("/api/sync/events", json::array({1, 2})).status, 400u);
  EXPECT_EQ(env_->CountDomainEvents(), before);
  EXPECT_EQ(Client(env_->port()).Post("/api/sync/events", batch).status, 401u);
  // The empty batch is fine.
  auto empty = alice_->Post("/api/sync/events", json::array());
  EXPECT_EQ(empty.status, 200u);
  EXPECT_EQ(empty.body["accepted"], json::array());
}

// ------------------------------------------------------------------ undo

TEST_P(SyncApiTest, UndoWithinTheWindowAppendsACompensatingEvent) {
  std::string c = NewContact(*alice_, "Undo me");
  std::string created = NewestEventId(*alice_);
  size_t before = env_->CountDomainEvents();
  auto u = alice_->Delete("/api/admin/events/" + created);
  ASSERT_EQ(u.status, 200u) << u.raw;
  EXPECT_EQ(u.body["event_id"], created);
  EXPECT_EQ(u.body["event_type"], "ContactDeleted");
  EXPECT_EQ(u.body["aggregate_id"], c);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).status, 404u);  // the read model reflects it
  auto history = alice_->Get("/api/contacts/" + c + "/events");
  ASSERT_EQ(history.status, 200u);
  ASSERT_EQ(history.body.size(), 2u);  // the original stays; the audit trail shows both
  EXPECT_EQ(history.body[0]["id"], created);
  EXPECT_EQ(history.body[0]["event_type"], "ContactCreated");
  EXPECT_EQ(history.body[1]["event_type"], "ContactDeleted");
  EXPECT_EQ(history.body[1]["event_data"]["undo_of"], created);
  EXPECT_EQ(history.body[1]["id"], u.body["undo_event_id"]);
  EXPECT_EQ(env_->CountDomainEvents(), before + 1);
  // Undo is idempotent: the same answer, nothing more written.
  auto twice = alice_->Delete("/api/admin/events/" + created);
  EXPECT_EQ(twice.status, 200u);
  EXPECT_EQ(twice.body, u.body);
  EXPECT_EQ(env_->CountDomainEvents(), before + 1);

  // Undo an update: the name comes back.
  std::string d = NewContact(*alice_, "Dana");
  ASSERT_EQ(alice_->Put("/api/contacts/" + d, {{"name", "Dana X"}, {"phone", "1"}}).status, 200u);
  ASSERT_EQ(alice_->Delete("/api/admin/events/" + NewestEventId(*alice_)).status, 200u);
  auto dana = alice_->Get("/api/contacts/" + d);
  EXPECT_EQ(dana.body["name"], "Dana");
  EXPECT_TRUE(dana.body["phone"].is_null());
  EXPECT_EQ(dana.body["version"], 2);
  // Undo a delete: the contact is back, with its transactions.
  auto t = alice_->Post("/api/transactions", Tx(d, "lent", 700));
  ASSERT_EQ(t.status, 201u);
  ASSERT_EQ(alice_->Delete("/api/contacts/" + d).status, 200u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + d).status, 404u);
  ASSERT_EQ(alice_->Delete("/api/admin/events/" + NewestEventId(*alice_)).status, 200u);
  auto back = alice_->Get("/api/contacts/" + d);
  ASSERT_EQ(back.status, 200u);
  EXPECT_EQ(back.body["name"], "Dana");
  EXPECT_EQ(back.body["balance"], 700);
  // Undo a transaction: the balance follows.
  std::string tid = t.body["id"];
  auto t2 = alice_->Post("/api/transactions", Tx(d, "owed", 200));
  ASSERT_EQ(t2.status, 201u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + d).body["balance"], 500);
  ASSERT_EQ(alice_->Delete("/api/admin/events/" + NewestEventId(*alice_)).status, 200u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + d).body["balance"], 700);
  EXPECT_EQ(alice_->Get("/api/transactions/" + t2.body["id"].get<std::string>()).status, 404u);
  // A setting goes back to its default.
  ASSERT_EQ(alice_->Put("/api/settings/dark_mode", {{"value", "false"}}).status, 200u);
  EXPECT_EQ(alice_->Get("/api/settings").body["dark_mode"], false);
  ASSERT_EQ(alice_->Delete("/api/admin/events/" + NewestEventId(*alice_)).status, 200u);
  EXPECT_EQ(alice_->Get("/api/settings").body["dark_mode"], true);

  // Only the newest change of an entity can be undone.
  auto all = alice_->Get("/api/contacts/" + d + "/events");
  std::string dana_created = all.body[0]["id"];
  auto older = alice_->Delete("/api/admin/events/" + dana_created);
  EXPECT_EQ(older.status, 409u) << older.raw;
  EXPECT_TRUE(older.body["current_version"].is_number());
  // Someone else's event, an unknown one, a malformed id.
  EXPECT_EQ(bob_->Delete("/api/admin/events/" + dana_created).status, 404u);
  EXPECT_EQ(alice_->Delete("/api/admin/events/" + NewId()).status, 404u);
  EXPECT_EQ(alice_->Delete("/api/admin/events/nope").status, 400u);
  EXPECT_EQ(Client(env_->port()).Delete("/api/admin/events/" + dana_created).status, 401u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + d).body["name"], "Dana");
}

// Idempotency-Key on the two requests that are idempotent by themselves: the same key for
// the same request answers the same; for another request (body, path) 422, nothing written.
TEST_P(SyncApiTest, IdempotencyKeyOnSyncAndUndoRefusesReuseForAnotherRequest) {
  const std::string ca = NewId();
  json batch = json::array({Offline(NewId(), "contact", ca, "CREATED", {{"name", "Keyed"}}, 0)});
  auto first = alice_->Post("/api/sync/events", batch, {{"Idempotency-Key", "sync-1"}});
  ASSERT_EQ(first.status, 200u) << first.raw;
  auto again = alice_->Post("/api/sync/events", batch, {{"Idempotency-Key", "sync-1"}});
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.raw, first.raw);
  size_t before = env_->CountDomainEvents();
  json other = json::array({Offline(NewId(), "contact", NewId(), "CREATED", {{"name", "Other"}}, 0)});
  auto reused = alice_->Post("/api/sync/events", other, {{"Idempotency-Key", "sync-1"}});
  EXPECT_EQ(reused.status, 422u) << reused.raw;
  EXPECT_TRUE(reused.body["error"].is_string());
  EXPECT_EQ(alice_->Post("/api/sync/events", other, {{"Idempotency-Key", std::string(256, 'k')}}).status, 400u);
  // The key of a REST create, reused for an undo.
  ASSERT_EQ(alice_->Post("/api/contacts", {{"name", "Undo keyed"}}, {{"Idempotency-Key", "k-2"}}).status, 201u);
  std::string newest = NewestEventId(*alice_);
  auto undo_reused = alice_->Delete("/api/admin/events/" + newest, json(), {{"Idempotency-Key", "k-2"}});
  EXPECT_EQ(undo_reused.status, 422u) << undo_reused.raw;
  EXPECT_EQ(env_->CountDomainEvents(), before + 1);  // only the keyed create
  auto undo = alice_->Delete("/api/admin/events/" + newest, json(), {{"Idempotency-Key", "undo-1"}});
  EXPECT_EQ(undo.status, 200u) << undo.raw;
  auto undo_again = alice_->Delete("/api/admin/events/" + newest, json(), {{"Idempotency-Key", "undo-1"}});
  EXPECT_EQ(undo_again.status, 200u);
  EXPECT_EQ(undo_again.raw, undo.raw);
  EXPECT_EQ(env_->CountDomainEvents(), before + 2);
}

TEST_P(SyncApiTest, UndoAfterTheWindowIsRefused) {
  std::string c = NewContact(*alice_, "Too late");
  std::string created = NewestEventId(*alice_);
  // Another contact is undone in time; its undo is asked again after the window.
  NewContact(*alice_, "Undone in time");
  std::string undone = NewestEventId(*alice_);
  auto first = alice_->Delete("/api/admin/events/" + undone);
  ASSERT_EQ(first.status, 200u) << first.raw;
  std::this_thread::sleep_for(std::chrono::milliseconds(5300));
  size_t before = env_->CountDomainEvents();
  auto r = alice_->Delete("/api/admin/events/" + created);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body["error"], "Event is too old to delete");
  EXPECT_TRUE(r.body["age_seconds"].is_number_integer());
  EXPECT_GE(r.body["age_seconds"].get<int64_t>(), 5);
  EXPECT_LT(r.body["age_seconds"].get<int64_t>(), 60);
  EXPECT_EQ(env_->CountDomainEvents(), before);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).status, 200u);
  // The retry of the undo made in time gets its first answer and writes nothing.
  auto retry = alice_->Delete("/api/admin/events/" + undone);
  EXPECT_EQ(retry.status, 200u) << retry.raw;
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(env_->CountDomainEvents(), before);
}

// remote_sqlite: the event store over the EventStoreDB HTTP API (a dt-eventstore process).
INSTANTIATE_TEST_SUITE_P(Stores, SyncApiTest, ::testing::Values("sqlite", "pg", "remote_sqlite"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dt::api

// The Debt Tracker API contract end to end over real HTTP: a running App with the engine
// in-process and the read model in SQLite or PostgreSQL (the "pg" cases need DT_TEST_PG_URL).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include <libpq-fe.h>

#include "api/api_test_env.h"
#include "readmodel/pg_store.h"
#include "tracker/events.h"
#include "tracker/model.h"
#include "tracker/user_service.h"

namespace dt::api {
namespace {

using testing::ApiEnv;
using testing::Client;
using testing::json;
using testing::Reply;

class ApiTest : public ::testing::TestWithParam<std::string> {
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
    alice_ = env_->Login("alice");
    bob_ = env_->Login("bob");
  }
  void TearDown() override {
    alice_.reset();
    bob_.reset();
    env_.reset();
  }
  std::string NewContact(Client& c, const std::string& name) {
    auto r = c.Post("/api/contacts", {{"name", name}});
    EXPECT_EQ(r.status, 201u) << r.raw;
    return r.body.value("id", "");
  }
  json Tx(const std::string& contact, const std::string& direction, int64_t amount,
          const std::string& currency = "IQD", const std::string& date = "2024-05-01",
          const std::string& type = "money") {
    return {{"contact_id", contact}, {"type", type},         {"direction", direction},
            {"amount", amount},      {"currency", currency}, {"transaction_date", date}};
  }
  std::unique_ptr<ApiEnv> env_;
  std::unique_ptr<Client> alice_, bob_;
};

TEST_P(ApiTest, HealthAndLogin) {
  Client anon(env_->port());
  auto h = anon.Get("/health");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.raw, "OK");
  auto ok = anon.Post("/api/auth/login", {{"username", "alice"}, {"password", "pw-alice"}});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_TRUE(ok.body["token"].is_string());
  EXPECT_EQ(ok.body["username"], "alice");
  EXPECT_TRUE(Uuid::Parse(ok.body.value("user_id", "")).has_value());
  auto bad = anon.Post("/api/auth/login", {{"username", "alice"}, {"password", "nope"}});
  EXPECT_EQ(bad.status, 401u);
  EXPECT_EQ(bad.body, json({{"error", "Invalid username or password"}}));
  // The auth scheme is case-insensitive.
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER "}) {
    auto r = anon.Do(http::Verb::get, "/api/contacts", json(),
                     {{"Authorization", scheme + ok.body["token"].get<std::string>()}});
    EXPECT_EQ(r.status, 200u) << scheme << r.raw;
  }
  EXPECT_EQ(anon.Do(http::Verb::get, "/api/contacts", json(),
                    {{"Authorization", "Basic " + ok.body["token"].get<std::string>()}})
                .status,
            401u);
  auto nobody = anon.Post("/api/auth/login", {{"username", "mallory"}, {"password", "x"}});
  EXPECT_EQ(nobody.status, 401u);
  auto empty = anon.Post("/api/auth/login", {{"username", ""}, {"password", "x"}});
  EXPECT_EQ(empty.status, 400u);
  EXPECT_TRUE(empty.body["error"].is_string());
  auto missing = anon.Post("/api/auth/login", {{"username", "alice"}});
  EXPECT_EQ(missing.status, 400u);
  EXPECT_EQ(anon.Get("/api/contacts").status, 401u);
  anon.set_token("not-a-token");
  auto forged = anon.Get("/api/contacts");
  EXPECT_EQ(forged.status, 401u);
  EXPECT_TRUE(forged.body["error"].is_string());
  auto reg = anon.Post("/api/auth/register", {{"username", "eve"}, {"password", "pw"}});
  EXPECT_EQ(reg.status, 403u);  // off by default
}

TEST_P(ApiTest, ContactLifecycle) {
  auto created = alice_->Post("/api/contacts", {{"name", "Omar"}, {"phone", "0770"}, {"extra", 1}});
  ASSERT_EQ(created.status, 201u) << created.raw;
  std::string id = created.body["id"];
  EXPECT_EQ(created.body["name"], "Omar");
  EXPECT_EQ(created.body["phone"], "0770");
  EXPECT_EQ(created.body["balance"], 0);
  EXPECT_EQ(created.body["version"], 0);
  EXPECT_TRUE(created.body.contains("created_at"));
  EXPECT_TRUE(created.body["email"].is_null());

  auto got = alice_->Get("/api/contacts/" + id);  // read-your-writes: visible at once
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.etag, "\"0\"");
  EXPECT_EQ(got.body["name"], "Omar");

  NewContact(*alice_, "adam");
  auto list = alice_->Get("/api/contacts");
  ASSERT_EQ(list.status, 200u);
  ASSERT_EQ(list.body.size(), 2u);
  EXPECT_EQ(list.body[0]["name"], "adam");
  EXPECT_EQ(list.body[1]["name"], "Omar");

  auto upd = alice_->Put("/api/contacts/" + id, {{"email", "o@x.iq"}, {"comment", "new mail"}});
  ASSERT_EQ(upd.status, 200u) << upd.raw;
  EXPECT_EQ(upd.body, json({{"id", id}, {"message", "Contact updated successfully"}, {"version", 1}}));
  auto after = alice_->Get("/api/contacts/" + id);
  EXPECT_EQ(after.body["email"], "o@x.iq");
  EXPECT_EQ(after.body["phone"], "0770");  // absent fields keep their values
  EXPECT_EQ(after.etag, "\"1\"");

  auto del = alice_->Delete("/api/contacts/" + id, {{"comment", "moved away"}});
  ASSERT_EQ(del.status, 200u);
  EXPECT_EQ(del.body, json({{"id", id}, {"message", "Contact deleted successfully"}}));
  EXPECT_EQ(alice_->Get("/api/contacts/" + id).status, 404u);
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 1u);
  EXPECT_EQ(alice_->Put("/api/contacts/" + id, {{"name", "x"}}).status, 404u);
  EXPECT_EQ(alice_->Delete("/api/contacts/" + id).status, 404u);

  auto history = alice_->Get("/api/contacts/" + id + "/events");
  ASSERT_EQ(history.status, 200u);
  ASSERT_EQ(history.body.size(), 3u);
  EXPECT_EQ(history.body[0]["event_type"], "ContactCreated");
  EXPECT_EQ(history.body[0]["event_data"]["comment"], "No comment provided");
  EXPECT_EQ(history.body[1]["event_type"], "ContactUpdated");
  EXPECT_EQ(history.body[1]["event_data"]["previous"]["email"], nullptr);
  EXPECT_EQ(history.body[1]["event_data"]["changes"]["email"], "o@x.iq");
  EXPECT_EQ(history.body[1]["event_data"]["comment"], "new mail");
  EXPECT_EQ(history.body[2]["event_type"], "ContactDeleted");
  EXPECT_EQ(history.body[2]["event_data"]["deleted_snapshot"]["email"], "o@x.iq");
  EXPECT_EQ(history.body[2]["event_data"]["comment"], "moved away");
  EXPECT_EQ(history.body[2]["version"], 2);

  EXPECT_EQ(alice_->Get("/api/contacts/" + Uuid::Random().ToString()).status, 404u);
  EXPECT_EQ(alice_->Get("/api/contacts/not-a-uuid").status, 400u);
}

TEST_P(ApiTest, TransactionsAndBalancesPerCurrency) {
  std::string c1 = NewContact(*alice_, "Karim");
  std::string c2 = NewContact(*alice_, "Layla");
  auto t1 = alice_->Post("/api/transactions", Tx(c1, "lent", 25000, "IQD", "2024-05-01"));
  ASSERT_EQ(t1.status, 201u) << t1.raw;
  EXPECT_EQ(t1.body["amount"], 25000);
  EXPECT_EQ(t1.body["currency"], "IQD");
  EXPECT_EQ(t1.body["contact_id"], c1);
  EXPECT_EQ(t1.body["version"], 0);
  auto t2 = alice_->Post("/api/transactions", Tx(c1, "owed", 5000, "IQD", "2024-05-03T08:00:00Z"));
  ASSERT_EQ(t2.status, 201u);
  EXPECT_EQ(t2.body["transaction_date"], "2024-05-03");
  auto t3 = alice_->Post("/api/transactions", Tx(c1, "lent", 20, "USD", "2024-05-02"));
  ASSERT_EQ(t3.status, 201u);
  auto item = alice_->Post("/api/transactions", Tx(c1, "lent", 1, "IQD", "2024-05-04", "item"));
  ASSERT_EQ(item.status, 201u);
  json no_currency = Tx(c2, "owed", 700);
  no_currency.erase("currency");
  auto t4 = alice_->Post("/api/transactions", no_currency);
  ASSERT_EQ(t4.status, 201u);
  EXPECT_EQ(t4.body["currency"], "USD");

  auto list = alice_->Get("/api/transactions");
  ASSERT_EQ(list.status, 200u);
  ASSERT_EQ(list.body.size(), 5u);
  EXPECT_EQ(list.body[0]["id"], item.body["id"]);  // newest transaction_date first
  EXPECT_EQ(list.body[1]["id"], t2.body["id"]);

  auto k = alice_->Get("/api/contacts/" + c1);
  EXPECT_EQ(k.body["balances"], json({{"IQD", 20000}, {"USD", 20}}));
  EXPECT_EQ(k.body["balance"], 20020);  // the app's single number sums currencies
  auto all = alice_->Get("/api/balances");
  ASSERT_EQ(all.status, 200u);
  EXPECT_EQ(all.body["totals"], json({{"IQD", 20000}, {"USD", -680}}));

  std::string tid = t1.body["id"];
  auto got = alice_->Get("/api/transactions/" + tid);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.etag, "\"0\"");
  // The create answered what a read answers, with its version as the ETag.
  EXPECT_EQ(t1.body, got.body);
  EXPECT_EQ(t1.etag, "\"0\"");
  EXPECT_EQ(t1.header("content-type"), got.header("content-type"));
  auto upd = alice_->Put("/api/transactions/" + tid, {{"amount", 30000}, {"description", "rent"}});
  ASSERT_EQ(upd.status, 200u) << upd.raw;
  EXPECT_EQ(upd.body, json({{"id", tid}, {"message", "Transaction updated successfully"}, {"version", 1}}));
  EXPECT_EQ(alice_->Get("/api/contacts/" + c1).body["balances"]["IQD"], 25000);
  auto moved = alice_->Put("/api/transactions/" + tid, {{"contact_id", c2}});
  ASSERT_EQ(moved.status, 200u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c2).body["balances"]["IQD"], 30000);
  auto del = alice_->Delete("/api/transactions/" + tid);
  ASSERT_EQ(del.status, 200u);
  EXPECT_EQ(del.body, json({{"id", tid}, {"message", "Transaction deleted successfully"}}));
  EXPECT_EQ(alice_->Get("/api/transactions/" + tid).status, 404u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c2).body["balances"].value("IQD", 0), 0);
  auto hist = alice_->Get("/api/transactions/" + tid + "/events");
  ASSERT_EQ(hist.status, 200u);
  ASSERT_EQ(hist.body.size(), 4u);
  EXPECT_EQ(hist.body[1]["event_data"]["previous"]["amount"], 25000);
  EXPECT_EQ(hist.body[3]["event_type"], "TransactionDeleted");

  EXPECT_EQ(alice_->Post("/api/transactions", Tx(Uuid::Random().ToString(), "lent", 1)).status, 404u);
  EXPECT_EQ(alice_->Put("/api/transactions/" + t2.body["id"].get<std::string>(),
                        {{"contact_id", Uuid::Random().ToString()}}).status, 404u);
}

// What a Flutter client may send for a valid transaction: amounts as doubles with ".0",
// enums and currencies in another case, a full ISO datetime for dates, nulls for optional
// fields, fields it does not know about.
TEST_P(ApiTest, ClientSpellingsOfAValidTransactionAreAccepted) {
  std::string c = NewContact(*alice_, "Dart");
  const std::string body = R"({"contact_id":")" + c + R"(","type":"Money","direction":"LENT",)"
                           R"("amount":1500.0,"currency":"iqd","description":null,)"
                           R"("transaction_date":"2024-05-01T13:45:00.000","due_date":null,)"
                           R"("id":null,"balance":0,"comment":"from the app"})";
  auto r = alice_->Do(http::Verb::post, "/api/transactions", json(),
                      {{"Content-Type", "application/json; charset=utf-8"}}, &body);
  ASSERT_EQ(r.status, 201u) << r.raw;
  EXPECT_EQ(r.body["amount"], 1500);
  EXPECT_TRUE(r.body["amount"].is_number_integer());
  EXPECT_EQ(r.body["type"], "money");
  EXPECT_EQ(r.body["direction"], "lent");
  EXPECT_EQ(r.body["currency"], "IQD");
  EXPECT_EQ(r.body["transaction_date"], "2024-05-01");
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["balances"], json({{"IQD", 1500}}));
  std::string tid = r.body["id"];
  auto u = alice_->Put("/api/transactions/" + tid, {{"amount", 2000.0}, {"direction", "Owed"}});
  EXPECT_EQ(u.status, 200u) << u.raw;
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["balance"], -2000);
}

TEST_P(ApiTest, DeletingAContactHidesItsTransactionsFromListsAndTotals) {
  std::string keep = NewContact(*alice_, "Keep");
  std::string gone = NewContact(*alice_, "Gone");
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(keep, "lent", 100)).status, 201u);
  auto hidden = alice_->Post("/api/transactions", Tx(gone, "lent", 900));
  ASSERT_EQ(hidden.status, 201u);
  ASSERT_EQ(alice_->Delete("/api/contacts/" + gone).status, 200u);
  auto list = alice_->Get("/api/transactions");
  ASSERT_EQ(list.body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/balances").body["totals"], json({{"IQD", 100}}));
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 1u);
  // History stays readable, and no new transaction can be booked on the deleted contact.
  EXPECT_EQ(alice_->Get("/api/contacts/" + gone + "/events").status, 200u);
  EXPECT_EQ(alice_->Post("/api/transactions", Tx(gone, "lent", 1)).status, 404u);
}

// A transaction's contact may be looked up in the read model first (remote event store);
// one the read model does not have (yet) is decided by its stream: here a contact
// written to the event store while the projector is stopped is still found, and still only
// for its own user.
TEST_P(ApiTest, TransactionsFindAContactTheReadModelDoesNotHaveYet) {
  alice_.reset();
  bob_.reset();
  env_->Stop();
  env_->config().read_your_writes = std::chrono::milliseconds(100);  // its wait is in vain
  env_->Start();
  alice_ = env_->Login("alice");
  bob_ = env_->Login("bob");
  env_->app().projector().Stop();
  tracker::Contact c;
  c.id = Uuid::Random().ToString();
  c.user_id = tracker::UserService::UserIdFor("alice");
  c.name = "Only in the log";
  c.created_at = c.updated_at = "2024-05-01T00:00:00.000000Z";
  json data = {{"user_id", c.user_id}, {"contact_id", c.id}, {"contact", tracker::ContactToJson(c)},
               {"comment", ""}, {"occurred_at", c.created_at}};
  auto appended = env_->app().events().Append(
      tracker::ContactStream(c.id), client::kNoStream,
      {client::ProposedEvent{Uuid::Random(), std::string(tracker::event_type::kContactCreated),
                             data.dump(), ""}});
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(alice_->Get("/api/contacts/" + c.id).status, 404u);  // not in the read model
  auto t = alice_->Post("/api/transactions", Tx(c.id, "lent", 10));
  EXPECT_EQ(t.status, 201u) << t.raw;
  EXPECT_EQ(t.body["contact_id"], c.id);
  EXPECT_EQ(bob_->Post("/api/transactions", Tx(c.id, "lent", 10)).status, 404u);
}

TEST_P(ApiTest, UsersSeeOnlyTheirOwnData) {
  std::string c = NewContact(*alice_, "Private");
  auto t = alice_->Post("/api/transactions", Tx(c, "lent", 10));
  ASSERT_EQ(t.status, 201u);
  std::string tid = t.body["id"];
  size_t before = env_->CountDomainEvents();
  for (const auto& path : {"/api/contacts/" + c, "/api/transactions/" + tid,
                           "/api/contacts/" + c + "/events", "/api/transactions/" + tid + "/events"}) {
    auto r = bob_->Get(path);
    EXPECT_EQ(r.status, 404u) << path;
    EXPECT_TRUE(r.body["error"].is_string());
  }
  EXPECT_EQ(bob_->Put("/api/contacts/" + c, {{"name", "hijack"}}).status, 404u);
  EXPECT_EQ(bob_->Delete("/api/contacts/" + c).status, 404u);
  EXPECT_EQ(bob_->Put("/api/transactions/" + tid, {{"amount", 1}}).status, 404u);
  EXPECT_EQ(bob_->Delete("/api/transactions/" + tid).status, 404u);
  EXPECT_EQ(bob_->Post("/api/transactions", Tx(c, "lent", 5)).status, 404u);
  EXPECT_EQ(bob_->Get("/api/contacts").body, json::array());
  EXPECT_EQ(bob_->Get("/api/transactions").body, json::array());
  EXPECT_EQ(bob_->Get("/api/admin/events").body, json::array());
  EXPECT_EQ(env_->CountDomainEvents(), before);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["name"], "Private");
}

TEST_P(ApiTest, BadInputIsAClear4xxAndWritesNothing) {
  std::string c = NewContact(*alice_, "Target");
  auto t = alice_->Post("/api/transactions", Tx(c, "lent", 10));
  std::string tid = t.body["id"];
  size_t before = env_->CountDomainEvents();
  struct Row {
    http::Verb method;
    std::string path;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    unsigned status;
  };
  const std::string tx_ok = Tx(c, "lent", 5).dump();
  auto tx_with = [&](const char* k, json v) {
    json j = Tx(c, "lent", 5);
    j[k] = std::move(v);
    return j.dump();
  };
  const std::vector<Row> rows = {
      {http::Verb::post, "/api/contacts", "{not json", {}, 400},
      {http::Verb::post, "/api/contacts", "[1,2]", {}, 400},
      {http::Verb::post, "/api/contacts", "", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":""})", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":42})", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":"x","phone":7})", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":"x","comment":{}})", {}, 400},
      // U+0000 would reach the read model's text columns (PostgreSQL refuses it there).
      {http::Verb::post, "/api/contacts", R"({"name":"a\u0000b"})", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":"x","notes":"\u0000"})", {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("description", std::string("a\0b", 3)), {}, 400},
      {http::Verb::put, "/api/settings/dark_mode", R"({"value":"\u0000"})", {}, 400},
      {http::Verb::post, "/api/contacts", R"({"name":"x"})", {{"Idempotency-Key", std::string(256, 'k')}}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", 0), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", -1), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", 1.5), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", "12"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("type", "gold"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("direction", "sideways"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("contact_id", "123"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("currency", "EURO"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("currency", "XYZ"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", 2.5), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", 1e300), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("amount", json::parse("99999999999999999999999")), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("type", "MONEYS"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("transaction_date", "2024-02-31"), {}, 400},
      {http::Verb::post, "/api/transactions", tx_with("due_date", "soon"), {}, 400},
      {http::Verb::post, "/api/transactions", R"({"type":"money"})", {}, 400},
      {http::Verb::put, "/api/contacts/" + c, R"({"name":null})", {}, 400},
      {http::Verb::put, "/api/contacts/" + c, R"({"name":"ok"})", {{"If-Match", "abc"}}, 400},
      {http::Verb::put, "/api/contacts/" + c, R"({"name":"ok"})", {{"If-Match", "\"7\""}}, 412},
      {http::Verb::put, "/api/contacts/not-a-uuid", R"({"name":"ok"})", {}, 400},
      {http::Verb::put, "/api/transactions/" + tid, R"({"amount":0})", {}, 400},
      {http::Verb::delete_, "/api/transactions/" + tid, R"({"comment":5})", {}, 400},
      {http::Verb::delete_, "/api/contacts/" + c, "\"text\"", {}, 400},
      {http::Verb::put, "/api/settings/Bad-Key", R"({"value":"x"})", {}, 400},
      {http::Verb::put, "/api/settings/dark_mode", R"({"value":[1]})", {}, 400},
      {http::Verb::put, "/api/settings/dark_mode", R"({})", {}, 400},
      {http::Verb::post, "/api/contacts", tx_ok, {{"Authorization", "Bearer nope"}}, 401},
      {http::Verb::patch, "/api/contacts/" + c, R"({"name":"x"})", {}, 405},
      {http::Verb::post, "/api/no-such-thing", "{}", {}, 404},
      // Just over the 1 MiB limit: small enough to sit in the socket buffers, so the client
      // can read the 413 (a much larger body may meet a closed connection while sending).
      {http::Verb::post, "/api/contacts", std::string((1u << 20) + 1024, ' '), {}, 413},
  };
  for (const auto& row : rows) {
    Reply r;
    try {
      r = alice_->Do(row.method, row.path, json(), row.headers, &row.body);
    } catch (const std::exception& e) {
      // Only the oversized body may find the connection already closed by the server.
      EXPECT_EQ(row.status, 413u) << row.path << ": " << e.what();
      continue;
    }
    EXPECT_EQ(r.status, row.status) << row.path << " " << row.body << " -> " << r.raw;
    EXPECT_TRUE(r.body.is_object() && r.body["error"].is_string()) << r.raw;
  }
  EXPECT_EQ(env_->CountDomainEvents(), before);
}

// The app also runs in a browser on another origin: pre-flights succeed without a token
// and every answer lets the page read it (and its ETag).
TEST_P(ApiTest, BrowserClientsGetCorsAnswers) {
  std::string c = NewContact(*alice_, "Cors");
  Client anon(env_->port());
  auto pre = anon.Do(http::Verb::options, "/api/contacts/" + c, json(),
                     {{"Origin", "http://localhost:5000"},
                      {"Access-Control-Request-Method", "PUT"},
                      {"Access-Control-Request-Headers", "authorization,content-type,idempotency-key,if-match"}});
  EXPECT_EQ(pre.status, 204u) << pre.raw;
  EXPECT_EQ(pre.header("access-control-allow-origin"), "*");
  EXPECT_NE(pre.header("access-control-allow-methods").find("PUT"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-methods").find("DELETE"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-headers").find("idempotency-key"), std::string::npos);
  auto list_pre = anon.Do(http::Verb::options, "/api/contacts", json(),
                          {{"Origin", "http://localhost:5000"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(list_pre.status, 204u);
  EXPECT_NE(list_pre.header("access-control-allow-headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(anon.Do(http::Verb::options, "/api/auth/login").status, 204u);
  EXPECT_EQ(anon.Do(http::Verb::options, "/api/no-such-thing").status, 404u);
  auto got = alice_->Do(http::Verb::get, "/api/contacts/" + c, json(), {{"Origin", "http://localhost:5000"}});
  EXPECT_EQ(got.status, 200u);
  EXPECT_EQ(got.header("access-control-allow-origin"), "*");
  EXPECT_NE(got.header("access-control-expose-headers").find("ETag"), std::string::npos);
  auto denied = anon.Get("/api/contacts");
  EXPECT_EQ(denied.status, 401u);
  EXPECT_EQ(denied.header("access-control-allow-origin"), "*");  // the page can read the error
}

// "/api/contacts/" is the list, not "/api/contacts/{id}" with an empty id.
TEST_P(ApiTest, TrailingSlashNamesTheSameResource) {
  std::string c = NewContact(*alice_, "Slash");
  auto list = alice_->Get("/api/contacts/");
  ASSERT_EQ(list.status, 200u) << list.raw;
  ASSERT_EQ(list.body.size(), 1u);
  EXPECT_EQ(list.body[0]["id"], c);
  auto one = alice_->Get("/api/contacts/" + c + "/");
  EXPECT_EQ(one.status, 200u) << one.raw;
  EXPECT_EQ(one.body["name"], "Slash");
  auto created = alice_->Post("/api/transactions/", Tx(c, "lent", 7));
  EXPECT_EQ(created.status, 201u) << created.raw;
  EXPECT_EQ(alice_->Get("/api/transactions/").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c + "/events/").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/settings/").status, 200u);
  EXPECT_EQ(alice_->Put("/api/contacts/", {{"name", "x"}}).status, 400u);  // no id: still a clear 400
}

TEST_P(ApiTest, IdempotencyKeyAnswersTheFirstResponseAgainWithoutANewEvent) {
  json body = {{"name", "Once"}};
  auto first = alice_->Post("/api/contacts", body, {{"Idempotency-Key", "create-once"}});
  ASSERT_EQ(first.status, 201u);
  size_t events = env_->CountDomainEvents();
  auto again = alice_->Post("/api/contacts", json::parse(R"({ "name" : "Once" })"),
                            {{"Idempotency-Key", "create-once"}});
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.raw, first.raw);
  EXPECT_EQ(env_->CountDomainEvents(), events);
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 1u);

  auto other_body = alice_->Post("/api/contacts", {{"name", "Twice"}}, {{"Idempotency-Key", "create-once"}});
  EXPECT_EQ(other_body.status, 422u);
  EXPECT_NE(other_body.body.value("error", "").find("Idempotency-Key"), std::string::npos);
  std::string id = first.body["id"];
  auto other_path = alice_->Put("/api/contacts/" + id, {{"name", "Once"}}, {{"Idempotency-Key", "create-once"}});
  EXPECT_EQ(other_path.status, 422u);
  EXPECT_EQ(env_->CountDomainEvents(), events);
  // Keys are per user: bob's "create-once" is his own.
  EXPECT_EQ(bob_->Post("/api/contacts", body, {{"Idempotency-Key", "create-once"}}).status, 201u);

  // Updates and deletes too.
  auto u1 = alice_->Put("/api/contacts/" + id, {{"notes", "n"}}, {{"Idempotency-Key", "upd-1"}});
  ASSERT_EQ(u1.status, 200u);
  auto u2 = alice_->Put("/api/contacts/" + id, {{"notes", "n"}}, {{"Idempotency-Key", "upd-1"}});
  EXPECT_EQ(u2.raw, u1.raw);
  auto d1 = alice_->Delete("/api/contacts/" + id, json(), {{"Idempotency-Key", "del-1"}});
  ASSERT_EQ(d1.status, 200u);
  auto d2 = alice_->Delete("/api/contacts/" + id, json(), {{"Idempotency-Key", "del-1"}});
  EXPECT_EQ(d2.status, 200u);
  EXPECT_EQ(d2.raw, d1.raw);
  auto hist = alice_->Get("/api/contacts/" + id + "/events");
  EXPECT_EQ(hist.body.size(), 3u);
}

TEST_P(ApiTest, RacingIdenticalRequestsWriteOneEventAndAnswerAlike) {
  std::string c = NewContact(*alice_, "Race");
  size_t before = env_->CountDomainEvents();
  const int kThreads = 8;
  for (const char* kind : {"create", "update"}) {
    std::vector<Reply> replies(kThreads);
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        auto client = env_->Login("alice");
        ready++;
        while (ready < kThreads) std::this_thread::yield();
        if (std::string(kind) == "create") {
          replies[i] = client->Post("/api/transactions", Tx(c, "lent", 77), {{"Idempotency-Key", "race-create"}});
        } else {
          replies[i] = client->Put("/api/contacts/" + c, {{"notes", "raced"}}, {{"Idempotency-Key", "race-update"}});
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : replies) {
      EXPECT_EQ(r.status, replies[0].status) << r.raw;
      EXPECT_EQ(r.raw, replies[0].raw);
    }
    EXPECT_LT(replies[0].status, 300u) << replies[0].raw;
  }
  EXPECT_EQ(env_->CountDomainEvents(), before + 2);
  EXPECT_EQ(alice_->Get("/api/transactions").body.size(), 1u);
}

TEST_P(ApiTest, IdempotencyKeySurvivesRestartAndRebuild) {
  json body = {{"name", "Durable"}};
  auto first = alice_->Post("/api/contacts", body, {{"Idempotency-Key", "durable-key"}});
  ASSERT_EQ(first.status, 201u);
  size_t events = env_->CountDomainEvents();
  alice_.reset();
  bob_.reset();
  env_->Stop();
  env_->Start();
  alice_ = env_->Login("alice");
  auto after_restart = alice_->Post("/api/contacts", body, {{"Idempotency-Key", "durable-key"}});
  EXPECT_EQ(after_restart.raw, first.raw);
  ASSERT_TRUE(env_->app().projector().Rebuild().ok());
  auto after_rebuild = alice_->Post("/api/contacts", body, {{"Idempotency-Key", "durable-key"}});
  EXPECT_EQ(after_rebuild.raw, first.raw);
  EXPECT_EQ(alice_->Post("/api/contacts", {{"name", "x"}}, {{"Idempotency-Key", "durable-key"}}).status, 422u);
  EXPECT_EQ(env_->CountDomainEvents(), events);
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 1u);
}

TEST_P(ApiTest, StaleIfMatchIs412AndWritesNothing) {
  std::string c = NewContact(*alice_, "Locked");
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "v1"}}, {{"If-Match", "\"0\""}}).status, 200u);
  size_t before = env_->CountDomainEvents();
  auto stale = alice_->Put("/api/contacts/" + c, {{"name", "v2"}}, {{"If-Match", "\"0\""}});
  EXPECT_EQ(stale.status, 412u);
  EXPECT_EQ(stale.body["current_version"], 1);
  EXPECT_TRUE(stale.body["error"].is_string());
  auto stale_delete = alice_->Delete("/api/contacts/" + c, json(), {{"If-Match", "0"}});
  EXPECT_EQ(stale_delete.status, 412u);
  EXPECT_EQ(env_->CountDomainEvents(), before);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["name"], "v1");
  auto fresh = alice_->Get("/api/contacts/" + c);
  auto ok = alice_->Put("/api/contacts/" + c, {{"name", "v2"}}, {{"If-Match", fresh.etag}});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body["version"], 2);
}

// An update that changes nothing writes no event and answers as a successful update with the
// current version; If-Match and Idempotency-Key behave as for any update.
TEST_P(ApiTest, UpdateThatChangesNothingWritesNoEvent) {
  std::string c = NewContact(*alice_, "Same");
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "v1"}, {"notes", "n"}}).status, 200u);
  size_t before = env_->CountDomainEvents();
  for (const json& body : {json::object(), json{{"name", "v1"}}, json{{"notes", "n"}, {"comment", "why"}}}) {
    auto r = alice_->Put("/api/contacts/" + c, body);
    EXPECT_EQ(r.status, 200u) << r.raw;
    EXPECT_EQ(r.body, (json{{"id", c}, {"message", "Contact updated successfully"}, {"version", 1}}))
        << body.dump();
    EXPECT_EQ(r.etag, "\"1\"");
  }
  auto stale = alice_->Put("/api/contacts/" + c, json::object(), {{"If-Match", "\"0\""}});
  EXPECT_EQ(stale.status, 412u) << stale.raw;
  EXPECT_EQ(stale.body["current_version"], 1);
  EXPECT_EQ(alice_->Put("/api/contacts/" + c, json::object(), {{"If-Match", "\"1\""}}).status, 200u);
  EXPECT_EQ(bob_->Put("/api/contacts/" + c, json::object()).status, 404u);  // another user's

  std::string t = alice_->Post("/api/transactions", Tx(c, "lent", 40)).body.value("id", "");
  ASSERT_FALSE(t.empty());
  ASSERT_EQ(alice_->Put("/api/settings/dark_mode", {{"value", "true"}}).status, 200u);
  before = env_->CountDomainEvents();
  auto tu = alice_->Put("/api/transactions/" + t, {{"amount", 40}, {"direction", "lent"}});
  EXPECT_EQ(tu.status, 200u) << tu.raw;
  EXPECT_EQ(tu.body, (json{{"id", t}, {"message", "Transaction updated successfully"}, {"version", 0}}));
  auto su = alice_->Put("/api/settings/dark_mode", {{"value", "true"}});
  EXPECT_EQ(su.status, 200u) << su.raw;
  EXPECT_EQ(su.body, (json{{"key", "dark_mode"}, {"value", "true"}}));
  EXPECT_EQ(env_->CountDomainEvents(), before);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c + "/events").body.size(), 2u);

  // With an Idempotency-Key a retry answers as the first time, even after a later change.
  auto keyed = alice_->Put("/api/contacts/" + c, {{"name", "v1"}}, {{"Idempotency-Key", "noop-key"}});
  ASSERT_EQ(keyed.status, 200u) << keyed.raw;
  EXPECT_EQ(keyed.body["version"], 1);
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "v2"}}).status, 200u);
  auto retry = alice_->Put("/api/contacts/" + c, {{"name", "v1"}}, {{"Idempotency-Key", "noop-key"}});
  EXPECT_EQ(retry.status, 200u);
  EXPECT_EQ(retry.raw, keyed.raw);
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["name"], "v2");
  EXPECT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "v3"}}, {{"Idempotency-Key", "noop-key"}}).status,
            422u);
  EXPECT_EQ(env_->CountDomainEvents(), before + 1);
}

TEST_P(ApiTest, ConcurrentUpdatesWithoutIfMatchLoseNoEvent) {
  std::string c = NewContact(*alice_, "Busy");
  const int kThreads = 8, kEach = 5;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto client = env_->Login("alice");
      for (int j = 0; j < kEach; ++j) {
        auto r = client->Put("/api/contacts/" + c, {{"notes", std::to_string(i) + "-" + std::to_string(j)}});
        if (r.status == 200u) ok++;
        else ADD_FAILURE() << r.status << " " << r.raw;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  auto hist = alice_->Get("/api/contacts/" + c + "/events");
  EXPECT_EQ(hist.body.size(), static_cast<size_t>(1 + kThreads * kEach));
  std::set<int64_t> versions;
  for (const auto& e : hist.body) versions.insert(e["version"].get<int64_t>());
  EXPECT_EQ(versions.size(), hist.body.size());
  EXPECT_EQ(alice_->Get("/api/contacts/" + c).body["version"], kThreads * kEach);
}

TEST_P(ApiTest, SettingsDefaultsAndStoredValues) {
  auto d = alice_->Get("/api/settings");
  ASSERT_EQ(d.status, 200u);
  EXPECT_EQ(d.body, json({{"dark_mode", true}, {"default_direction", "give"}, {"flip_colors", false},
                          {"due_date_enabled", false}, {"default_due_date_days", 30},
                          {"default_due_date_switch", false}}));
  auto p = alice_->Put("/api/settings/dark_mode", {{"value", "false"}});
  ASSERT_EQ(p.status, 200u);
  EXPECT_EQ(p.body, json({{"key", "dark_mode"}, {"value", "false"}}));
  ASSERT_EQ(alice_->Put("/api/settings/default_due_date_days", {{"value", "14"}}).status, 200u);
  ASSERT_EQ(alice_->Put("/api/settings/language", {{"value", "ar"}}).status, 200u);
  auto s = alice_->Get("/api/settings");
  EXPECT_EQ(s.body["dark_mode"], false);
  EXPECT_EQ(s.body["default_due_date_days"], 14);
  EXPECT_EQ(s.body["language"], "ar");
  EXPECT_EQ(bob_->Get("/api/settings").body["dark_mode"], true);
}

TEST_P(ApiTest, AdminEventsNewestFirstWithFilters) {
  std::string c = NewContact(*alice_, "Audit");
  ASSERT_EQ(alice_->Post("/api/transactions", Tx(c, "lent", 3)).status, 201u);
  ASSERT_EQ(alice_->Put("/api/contacts/" + c, {{"name", "Audited"}}).status, 200u);
  auto all = alice_->Get("/api/admin/events");
  ASSERT_EQ(all.status, 200u);
  ASSERT_EQ(all.body.size(), 3u);
  EXPECT_EQ(all.body[0]["event_type"], "ContactUpdated");
  EXPECT_EQ(all.body[2]["event_type"], "ContactCreated");
  EXPECT_EQ(alice_->Get("/api/admin/events?aggregate_type=transaction").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?event_type=ContactCreated").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?limit=1").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?limit=1&offset=2").body[0]["event_type"], "ContactCreated");
  EXPECT_EQ(alice_->Get("/api/admin/events?search=Audited").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?date_from=2000-01-01&date_to=2999-12-31").body.size(), 3u);
  EXPECT_EQ(alice_->Get("/api/admin/events?date_to=2000-01-01").body.size(), 0u);
  EXPECT_EQ(alice_->Get("/api/admin/events?aggregate_type=Transaction").body.size(), 1u);
  // The app's event kinds (as sync shows them) filter too, and search ignores case.
  EXPECT_EQ(alice_->Get("/api/admin/events?event_type=CREATED").body.size(), 2u);
  EXPECT_EQ(alice_->Get("/api/admin/events?event_type=created&aggregate_type=contact").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?event_type=UPDATED").body.size(), 1u);
  EXPECT_EQ(alice_->Get("/api/admin/events?event_type=DELETED").body.size(), 0u);
  EXPECT_EQ(alice_->Get("/api/admin/events?search=audited").body.size(), 1u);
  // An offset's "+" left unencoded arrives as a space and still means "+".
  EXPECT_EQ(alice_->Get("/api/admin/events?date_from=2000-01-01T00:00:00+03:00").body.size(), 3u);
  EXPECT_EQ(alice_->Get("/api/admin/events?date_from=2999-01-01T00:00:00+03:00").body.size(), 0u);
  EXPECT_EQ(alice_->Get("/api/admin/events?limit=abc").status, 400u);
  EXPECT_EQ(alice_->Get("/api/admin/events?date_from=nope").status, 400u);
}

TEST_P(ApiTest, ProjectionStatusAndRebuildOverHttp) {
  std::string c = NewContact(*alice_, "Before");
  auto st = alice_->Get("/api/admin/projections/status");
  ASSERT_EQ(st.status, 200u);
  EXPECT_TRUE(st.body["active"].get<bool>());
  EXPECT_EQ(st.body["events_applied"], 1);
  auto gen = st.body["generation"].get<int64_t>();
  // A rebuild touches every user's read model: an account not named in
  // DEBT_TRACKER_ADMIN_USERS is refused and nothing starts.
  auto refused = bob_->Post("/api/admin/projections/rebuild", json::object());
  EXPECT_EQ(refused.status, 403u) << refused.raw;
  EXPECT_TRUE(refused.body["error"].is_string());
  auto bobs = bob_->Get("/api/admin/projections/status");
  EXPECT_EQ(bobs.status, 200u);
  // Where the stores live is for administrators only.
  EXPECT_NE(st.body["read_model"].get<std::string>().find('/'), std::string::npos) << st.raw;
  EXPECT_EQ(bobs.body["read_model"].get<std::string>().find('/'), std::string::npos) << bobs.raw;
  EXPECT_EQ(bobs.body["event_store"].get<std::string>().find(" at "), std::string::npos) << bobs.raw;
  st = alice_->Get("/api/admin/projections/status");
  EXPECT_FALSE(st.body["rebuilding"].get<bool>());
  EXPECT_EQ(st.body["generation"].get<int64_t>(), gen);
  auto r = alice_->Post("/api/admin/projections/rebuild", json::object());
  EXPECT_EQ(r.status, 202u);
  for (int i = 0; i < 200; ++i) {
    st = alice_->Get("/api/admin/projections/status");
    EXPECT_EQ(alice_->Get("/api/contacts/" + c).status, 200u);  // reads keep working
    if (!st.body["rebuilding"].get<bool>() && st.body["generation"].get<int64_t>() > gen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(st.body["generation"].get<int64_t>(), gen + 1);
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 1u);
  EXPECT_EQ(NewContact(*alice_, "After").size(), 36u);
  EXPECT_EQ(alice_->Get("/api/contacts").body.size(), 2u);
}

// With no DEBT_TRACKER_ADMIN_USERS the rebuild is open to every signed-in user, as the
// contract lists it for the app; the status still hides where the stores live.
TEST_P(ApiTest, WithoutAdministratorsAnyUserMayRebuild) {
  alice_.reset();
  bob_.reset();
  env_->Stop();
  env_->config().admin_users.clear();
  env_->Start();
  bob_ = env_->Login("bob");
  std::string c = NewContact(*bob_, "Kept");
  auto gen = bob_->Get("/api/admin/projections/status").body["generation"].get<int64_t>();
  auto r = bob_->Post("/api/admin/projections/rebuild", json::object());
  ASSERT_EQ(r.status, 202u) << r.raw;
  json st;
  for (int i = 0; i < 300; ++i) {
    st = bob_->Get("/api/admin/projections/status").body;
    if (!st["rebuilding"].get<bool>() && st["generation"].get<int64_t>() > gen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(st["generation"].get<int64_t>(), gen + 1) << st.dump();
  EXPECT_EQ(st["read_model"].get<std::string>().find('/'), std::string::npos) << st.dump();
  EXPECT_EQ(bob_->Get("/api/contacts/" + c).status, 200u);
}

TEST_P(ApiTest, SecondInstanceOnTheSameStoresWaitsThenTakesOverTheProjector) {
  if (GetParam() != "remote_pg") GTEST_SKIP() << "several instances share a remote store and PostgreSQL";
  ApiEnv second(*env_, 0);
  second.Start();
  auto b = second.Login("alice");
  auto st = b->Get("/api/admin/projections/status");
  EXPECT_FALSE(st.body["active"].get<bool>());  // the first instance holds the lock
  // Read-your-writes on the standby: it polls the read model for its own write.
  auto created = b->Post("/api/contacts", {{"name", "Via B"}});
  ASSERT_EQ(created.status, 201u);
  EXPECT_EQ(b->Get("/api/contacts/" + created.body["id"].get<std::string>()).status, 200u);
  // The active instance goes away: the standby takes over within a few seconds.
  alice_.reset();
  bob_.reset();
  env_->Stop();
  bool active = false;
  for (int i = 0; i < 100 && !active; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    active = b->Get("/api/admin/projections/status").body["active"].get<bool>();
  }
  EXPECT_TRUE(active);
  auto later = b->Post("/api/contacts", {{"name", "After takeover"}});
  ASSERT_EQ(later.status, 201u);
  EXPECT_EQ(b->Get("/api/contacts").body.size(), 2u);
}

// The active instance remembers the live contacts its transactions named (live_contacts.h);
// a contact deleted or changed through another instance (a standby here) is forgotten once
// the active one applies that event, so no transaction is booked on a deleted contact.
TEST_P(ApiTest, AContactDeletedThroughAnotherInstanceTakesNoMoreTransactions) {
  if (GetParam() != "remote_pg") GTEST_SKIP() << "several instances share a remote store and PostgreSQL";
  std::string c = NewContact(*alice_, "Shared");
  std::string other = NewContact(*alice_, "Other");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(alice_->Post("/api/transactions", Tx(c, "lent", 10 + i)).status, 201u);
    ASSERT_EQ(alice_->Post("/api/transactions", Tx(other, "owed", 5)).status, 201u);
  }
  ApiEnv second(*env_, 0);
  second.Start();
  auto b = second.Login("alice");
  ASSERT_FALSE(b->Get("/api/admin/projections/status").body["active"].get<bool>());
  auto renamed = b->Put("/api/contacts/" + other, {{"name", "Other, renamed"}});
  ASSERT_EQ(renamed.status, 200u) << renamed.raw;
  ASSERT_EQ(b->Delete("/api/contacts/" + c).status, 200u);
  // The standby answered once the read model had the delete, i.e. once the active instance
  // applied it: its next transaction on that contact is refused at once.
  auto refused = alice_->Post("/api/transactions", Tx(c, "lent", 1));
  EXPECT_EQ(refused.status, 404u) << refused.raw;
  auto kept = alice_->Post("/api/transactions", Tx(other, "owed", 7));
  EXPECT_EQ(kept.status, 201u) << kept.raw;
  EXPECT_EQ(alice_->Get("/api/transactions").body.size(), 4u);  // the deleted contact's are hidden
  EXPECT_EQ(alice_->Get("/api/balances").body["totals"], json({{"IQD", -22}}));
  // Nor may another user book on a contact that is not theirs, remembered or not.
  EXPECT_EQ(bob_->Post("/api/transactions", Tx(other, "lent", 1)).status, 404u);
}

// Ends the PostgreSQL session holding the projector lock of `database_url`'s schema (as a
// database restart or a network cut would); the number of sessions ended.
int EndProjectorLockSession(const std::string& database_url) {
  PGconn* c = PQconnectdb(database_url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    ADD_FAILURE() << PQerrorMessage(c);
    PQfinish(c);
    return 0;
  }
  const std::string q =
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_locks "
      "WHERE locktype = 'advisory' AND granted AND classid = " +
      std::to_string(readmodel::kProjectorLockClass) +
      "::bigint::oid AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid";
  PGresult* r = PQexec(c, q.c_str());
  int ended = PQresultStatus(r) == PGRES_TUPLES_OK ? std::atoi(PQgetvalue(r, 0, 0)) : -1;
  if (ended < 0) ADD_FAILURE() << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  return ended;
}

bool WaitActive(Client& c, bool active) {
  for (int i = 0; i < 200; ++i) {
    if (c.Get("/api/admin/projections/status").body["active"] == active) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// What the active instance remembered of its live contacts is dropped when it loses the
// projector lock and gets it back: meanwhile another instance applied events this one never
// sees (here the contact's delete), so no transaction may be booked on the deleted contact.
TEST_P(ApiTest, ContactsRememberedBeforeTheProjectorLockWasLostAreForgottenWhenItIsRegained) {
  if (GetParam() != "remote_pg") GTEST_SKIP() << "several instances share a remote store and PostgreSQL";
  std::string c = NewContact(*alice_, "Remembered");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(alice_->Post("/api/transactions", Tx(c, "lent", 10 + i)).status, 201u);
  }
  ApiEnv second(*env_, 0);
  second.Start();
  auto b = second.Login("alice");
  ASSERT_TRUE(WaitActive(*alice_, true));
  ASSERT_FALSE(b->Get("/api/admin/projections/status").body["active"].get<bool>());
  // The first instance's lock session ends; the second takes the lock (the first learns it
  // lost it at its next batch).
  ASSERT_EQ(EndProjectorLockSession(env_->config().database_url), 1);
  ASSERT_TRUE(WaitActive(*b, true));
  ASSERT_EQ(b->Delete("/api/contacts/" + c).status, 200u);  // applied by the second alone
  ASSERT_TRUE(WaitActive(*alice_, false));
  // The second goes away: the first takes the lock back and follows on from the second's
  // checkpoint, past the delete it never applied itself.
  b.reset();
  second.Stop();
  ASSERT_TRUE(WaitActive(*alice_, true));
  auto refused = alice_->Post("/api/transactions", Tx(c, "lent", 1));
  EXPECT_EQ(refused.status, 404u) << refused.raw;
  EXPECT_EQ(alice_->Get("/api/transactions").body.size(), 0u);  // the deleted contact's are hidden
}

INSTANTIATE_TEST_SUITE_P(Stores, ApiTest,
                         ::testing::Values("sqlite", "pg", "remote_sqlite", "remote_pg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dt::api

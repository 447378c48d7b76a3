// The pure parts of offline sync: how domain events look to the app, the sync digest, and
// the parsing of offline batches.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "client/in_process_client.h"

#include "tracker/idempotency.h"
#include "tracker/sync_digest.h"
#include "tracker/sync_format.h"
#include "tracker/sync_service.h"

namespace dt::tracker {
namespace {

using json = nlohmann::json;

// The real in-process engine, with a hook that runs once just before the first backward
// read of a stream whose name starts with a given prefix: it lets a test run a racer's
// whole request at that exact point of another request.
class HookedClient final : public client::EventStoreClient {
 public:
  explicit HookedClient(client::EventStoreClient& real) : real_(real) {}
  std::string prefix;
  std::function<void()> before;

  Result<client::AppendResult> Append(std::string_view stream, int64_t expected,
                                      std::vector<client::ProposedEvent> events) override {
    return real_.Append(stream, expected, std::move(events));
  }
  Result<client::StreamPage> ReadStreamForward(std::string_view stream, int64_t from,
                                               size_t max_count) override {
    return real_.ReadStreamForward(stream, from, max_count);
  }
  Result<client::StreamPage> ReadStreamBackward(std::string_view stream, int64_t from,
                                                size_t max_count) override {
    if (before && stream.starts_with(prefix)) std::exchange(before, nullptr)();
    return real_.ReadStreamBackward(stream, from, max_count);
  }
  Result<client::AllPage> ReadAllForward(const client::AllPosition& from, size_t max_count,
                                         std::chrono::milliseconds long_poll) override {
    return real_.ReadAllForward(from, max_count, long_poll);
  }
  Result<client::AllPosition> ReadHead() override { return real_.ReadHead(); }
  std::string Describe() const override { return real_.Describe(); }

 private:
  client::EventStoreClient& real_;
};

// Two identical offline events racing: the second request read "no claim yet", then the
// first claimed and wrote the event before the second's check of the aggregate. The second
// must answer the event accepted (it is the same event), not "exists".
TEST(SyncService, AnIdenticalRacerWritingBetweenClaimReadAndCheckIsAccepted) {
  std::string dir = (std::filesystem::temp_directory_path() / "dt-sync-race-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  {
    auto real = client::InProcessClient::Open(dir + "/es");
    ASSERT_TRUE(real.ok()) << real.status().ToString();
    TrackerService tracker(**real);
    SyncService first(**real, tracker);
    HookedClient hooked(**real);
    TrackerService hooked_tracker(hooked);
    SyncService second(hooked, hooked_tracker);

    const std::string contact = "0b7e6d0c-1111-4000-8000-00000000c0c0";
    auto batch = ParseOfflineBatch(json::array(
        {{{"id", "0b7e6d0c-1111-4000-8000-000000000e01"},
          {"aggregate_type", "contact"},
          {"aggregate_id", contact},
          {"event_type", "CREATED"},
          {"event_data", {{"name", "Raced"}}}},
         {{"id", "0b7e6d0c-1111-4000-8000-000000000e02"},
          {"aggregate_type", "transaction"},
          {"aggregate_id", "0b7e6d0c-1111-4000-8000-0000000007a1"},
          {"event_type", "CREATED"},
          {"event_data",
           {{"contact_id", contact}, {"type", "money"}, {"direction", "lent"}, {"amount", 12},
            {"transaction_date", "2024-05-01"}}}}}));
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_TRUE(first.Apply("u1", "r0", {(*batch)[0]}).ok());

    bool raced = false;
    hooked.prefix = "transaction-";
    hooked.before = [&] {
      auto r = first.Apply("u1", "r1", {(*batch)[1]});
      raced = r.ok() && r->size() == 1 && (*r)[0].accepted && (*r)[0].written;
    };
    auto r = second.Apply("u1", "r2", {(*batch)[1]});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(raced);
    ASSERT_EQ(r->size(), 1u);
    EXPECT_TRUE((*r)[0].accepted) << (*r)[0].reason << ": " << (*r)[0].error;
    EXPECT_FALSE((*r)[0].written);
    EXPECT_EQ((*r)[0].stream, "transaction-0b7e6d0c-1111-4000-8000-0000000007a1");
    EXPECT_EQ((*r)[0].event_number, 0);
    // One event in the aggregate's stream: the racer's.
    auto page = (*real)->ReadStreamForward((*r)[0].stream, 0, 10);
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->events.size(), 1u);
  }
  std::filesystem::remove_all(dir);
}

json ContactState(const std::string& name) {
  return {{"id", "7d3c1b2a-0000-4000-8000-000000000001"},
          {"user_id", "u1"},
          {"name", name},
          {"phone", nullptr},
          {"created_at", "2024-01-01T00:00:00.000000Z"},
          {"updated_at", "2024-01-01T00:00:00.000000Z"}};
}

TEST(SyncFormat, DomainEventsMapToTheAppsThreeTypes) {
  auto created = ToSyncView("ContactCreated", {{"contact", ContactState("A")}, {"comment", "c"}});
  ASSERT_TRUE(created);
  EXPECT_EQ(created->aggregate_type, "contact");
  EXPECT_EQ(SyncKindName(created->kind), "CREATED");
  EXPECT_EQ(RealtimeType(*created), "contact_created");
  json data = SyncEventData(*created);
  EXPECT_EQ(data["name"], "A");
  EXPECT_EQ(data["comment"], "c");
  EXPECT_FALSE(data.contains("user_id"));

  auto updated = ToSyncView("ContactUpdated", {{"contact", ContactState("B")}});
  ASSERT_TRUE(updated);
  EXPECT_EQ(SyncKindName(updated->kind), "UPDATED");
  EXPECT_EQ(SyncEventData(*updated)["comment"], "No comment provided");

  auto deleted = ToSyncView("TransactionDeleted",
                            {{"deleted_snapshot", {{"id", "t1"}, {"amount", 5}}}});
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->aggregate_type, "transaction");
  EXPECT_EQ(SyncKindName(deleted->kind), "DELETED");
  EXPECT_EQ(RealtimeType(*deleted), "transaction_deleted");
  EXPECT_EQ(deleted->state["amount"], 5);

  // An undone delete brings the entity back: the app must upsert it.
  auto restored = ToSyncView(
      "ContactUpdated", {{"contact", ContactState("C")}, {"restored", true}, {"undo_of", "e1"}});
  ASSERT_TRUE(restored);
  EXPECT_EQ(SyncKindName(restored->kind), "CREATED");
  EXPECT_EQ(SyncEventData(*restored)["undo_of"], "e1");

  EXPECT_FALSE(ToSyncView("SettingChanged", {{"key", "dark_mode"}, {"value", "true"}}));
  EXPECT_FALSE(ToSyncView("ContactCreated", {{"no_state", 1}}));
  EXPECT_FALSE(ToSyncView("ContactCreated", json::array()));
}

TEST(SyncFormat, ParseSyncKindAcceptsTheAppsSpellings) {
  EXPECT_EQ(ParseSyncKind("CREATED"), SyncKind::kCreated);
  EXPECT_EQ(ParseSyncKind("updated"), SyncKind::kUpdated);
  EXPECT_EQ(ParseSyncKind("Delete"), SyncKind::kDeleted);
  EXPECT_FALSE(ParseSyncKind("ContactCreated"));
  EXPECT_FALSE(ParseSyncKind(""));
}

TEST(SyncDigest, IsSha256OfTheIdsEachFollowedByANewline) {
  SyncDigest d;
  EXPECT_EQ(d.Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d.count(), 0);
  const std::string a = "0b7e6d0c-1111-4000-8000-000000000001";
  const std::string b = "0b7e6d0c-2222-4000-8000-000000000002";
  d.Add(a);
  std::string after_a = d.Hex();
  EXPECT_EQ(after_a, Sha256Hex(a + "\n"));
  EXPECT_EQ(d.Hex(), after_a);  // finishing a copy leaves the running digest as it was
  SyncDigest copy = d;
  d.Add(b);
  EXPECT_EQ(d.Hex(), Sha256Hex(a + "\n" + b + "\n"));
  EXPECT_EQ(d.count(), 2);
  EXPECT_EQ(copy.Hex(), after_a);
  EXPECT_EQ(copy.count(), 1);
}

json Event(const std::string& id, const std::string& type, json data) {
  return {{"id", id},
          {"aggregate_type", "contact"},
          {"aggregate_id", "5a1f0c3e-0000-4000-8000-0000000000aa"},
          {"event_type", type},
          {"event_data", std::move(data)},
          {"timestamp", "2024-03-01T10:00:00Z"},
          {"version", 0}};
}

TEST(OfflineBatch, ParsesTheContractShape) {
  const std::string id = "1e2d3c4b-0000-4000-8000-000000000001";
  auto batch = ParseOfflineBatch(json::array({Event(id, "CREATED", {{"name", "Ali"}})}));
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 1u);
  const OfflineEvent& e = (*batch)[0];
  EXPECT_EQ(e.id.ToString(), id);
  EXPECT_EQ(e.aggregate_type, "contact");
  EXPECT_EQ(e.kind, SyncKind::kCreated);
  EXPECT_EQ(e.data["name"], "Ali");
  EXPECT_EQ(e.version, 0);
  EXPECT_EQ(e.timestamp, "2024-03-01T10:00:00Z");

  // {"events": [...]} and event_data sent as JSON text are accepted too.
  json text_data = Event(id, "created", "{\"name\":\"Ali\"}");
  auto wrapped = ParseOfflineBatch({{"events", json::array({text_data})}});
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ((*wrapped)[0].fingerprint, e.fingerprint);  // same content, same fingerprint
  EXPECT_EQ((*wrapped)[0].data["name"], "Ali");

  // The timestamp is not part of the content; the data is.
  json later = Event(id, "CREATED", {{"name", "Ali"}});
  later["timestamp"] = "2024-03-02T00:00:00Z";
  EXPECT_EQ((*ParseOfflineBatch(json::array({later})))[0].fingerprint, e.fingerprint);
  EXPECT_NE((*ParseOfflineBatch(json::array({Event(id, "CREATED", {{"name", "Bo"}})})))[0].fingerprint,
            e.fingerprint);

  // A DELETED needs no data.
  json del = Event(id, "DELETED", nullptr);
  del.erase("event_data");
  ASSERT_TRUE(ParseOfflineBatch(json::array({del})).ok());
}

TEST(OfflineBatch, BadEnvelopesNameTheEventAndField) {
  const std::string ok_id = "1e2d3c4b-0000-4000-8000-000000000001";
  struct Case {
    json body;
    std::string expect;  // substring of the message
  };
  auto with = [&](const char* key, json v) {
    json e = Event(ok_id, "CREATED", {{"name", "x"}});
    if (v.is_discarded()) {
      e.erase(key);
    } else {
      e[key] = std::move(v);
    }
    return json::array({Event(ok_id, "CREATED", {{"name", "y"}}), e});
  };
  const json kErase = json(json::value_t::discarded);
  const std::vector<Case> cases = {
      {json::object(), "JSON array"},
      {json("x"), "JSON array"},
      {json::array({1}), "event 0 must be a JSON object"},
      {with("id", kErase), "event 1: field 'id' is required"},
      {with("id", "nope"), "event 1: field 'id' must be a UUID"},
      {with("aggregate_type", "settings"), "event 1: field 'aggregate_type'"},
      {with("aggregate_type", kErase), "event 1: field 'aggregate_type' is required"},
      {with("event_type", "ContactCreated"), "event 1: field 'event_type'"},
      {with("event_data", 5), "event 1: field 'event_data'"},
      {with("event_data", kErase), "event 1: field 'event_data' is required"},
      {with("aggregate_id", "x"), "event 1: field 'aggregate_id' must be a UUID"},
      {with("aggregate_id", kErase), "event 1: field 'aggregate_id' is required"},
      {with("version", -1), "event 1: field 'version'"},
      {with("version", "3"), "event 1: field 'version'"},
  };
  for (const auto& c : cases) {
    auto r = ParseOfflineBatch(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_TRUE(r.status().Is(Code::kInvalidArgument));
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.body.dump() << " -> " << r.status().message();
  }
  json many = json::array();
  for (size_t i = 0; i <= kMaxOfflineEvents; ++i) many.push_back(Event(ok_id, "CREATED", {{"name", "x"}}));
  EXPECT_FALSE(ParseOfflineBatch(many).ok());
}

}  // namespace
}  // namespace dt::tracker

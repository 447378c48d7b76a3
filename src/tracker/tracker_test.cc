// Unit tests of the domain's pure parts: validation, dates, tokens, passwords, idempotency
// fingerprints, bootstrap accounts, the fast event reader against the nlohmann path.
#include <gtest/gtest.h>
#include <chrono>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "client/time_util.h"
#include "common/text_codec.h"
#include "tracker/event_reader.h"
#include "tracker/model.h"
#include "tracker/idempotency.h"
#include "tracker/jwt.h"
#include "tracker/password.h"
#include "tracker/user_service.h"
#include "tracker/validation.h"

namespace dt::tracker {
namespace {

using nlohmann::json;

const char* kContact = "3b8f5a52-9d2e-4c1a-8f7b-1e6d0c2a9b41";

json ValidTx() {
  return {{"contact_id", kContact}, {"type", "money"},  {"direction", "lent"},
          {"amount", 1500},         {"currency", "iqd"}, {"transaction_date", "2024-03-01"}};
}

// The reader must decide as json::parse + ContactFromJson / TransactionFromJson do.
std::string ContactText(const Contact& c) {
  return c.id + "|" + c.user_id + "|" + c.name + "|" + c.username.value_or("<none>") + "|" +
         c.phone.value_or("<none>") + "|" + c.email.value_or("<none>") + "|" +
         c.notes.value_or("<none>") + "|" + c.created_at + "|" + c.updated_at;
}
std::string TransactionText(const Transaction& t) {
  return t.id + "|" + t.user_id + "|" + t.contact_id + "|" + t.type + "|" + t.direction + "|" +
         std::to_string(t.amount) + "|" + t.currency + "|" + t.description.value_or("<none>") +
         "|" + t.transaction_date + "|" + t.due_date.value_or("<none>") + "|" + t.created_at +
         "|" + t.updated_at;
}

TEST(EventReader, DecidesAsTheNlohmannPathDoes) {
  const std::string tx =
      R"({"id":"t1","user_id":"u","contact_id":"c","type":"money","direction":"lent",)"
      R"("amount":1500,"currency":"IQD","description":null,"transaction_date":"2024-03-01",)"
      R"("due_date":"2024-04-01","created_at":"a","updated_at":"b"})";
  const std::vector<std::string> datas = {
      R"({"user_id":"u","transaction":)" + tx + "}",
      R"({"user_id":"u","transaction":)" + tx + R"(,"previous":{"amount":7,"currency":"USD","direction":"owed"}})",
      R"({"user_id":"u","transaction":)" + tx + R"(,"previous":{"amount":"7"}})",
      R"({"user_id":"u","transaction":)" + tx + R"(,"previous":{"type":null}})",
      R"({"user_id":"u","transaction":)" + tx + R"(,"previous":[1]})",
      R"({"user_id":"u","transaction":)" + tx + R"(,"previous":{"description":"was","due_date":null}})",
      R"({"transaction":{"id":"t","user_id":"u","contact_id":"c","type":"item","direction":"owed",)"
      R"("amount":18446744073709551615,"currency":"X","transaction_date":"d"}})",
      R"({"transaction":{"id":"t","user_id":"u","contact_id":"c","type":"item","direction":"owed",)"
      R"("amount":1.0,"currency":"X","transaction_date":"d"}})",
      R"({"transaction":{"id":"t","user_id":"u","contact_id":"c","type":"m","direction":"o",)"
      R"("amount":-12,"currency":"X","transaction_date":"d","created_at":5}})",
      R"({"transaction":{"id":"t","user_id":"u","contact_id":7,"type":"m","direction":"o",)"
      R"("amount":1,"currency":"X","transaction_date":"d"}})",
      R"({"transaction":{"id":"first","id":"second","user_id":"u","contact_id":"c","type":"m",)"
      R"("direction":"o","amount":1,"amount":2,"currency":"X","transaction_date":"d"}})",
      R"({"user_id":"u","contact":{"id":"c1","user_id":"u","name":"N\u00e9e \"q\" \\ \ud83d\ude00",)"
      R"("username":null,"phone":"+964","email":5,"notes":"l1\nl2","created_at":"x"}})",
      R"({"user_id":"u","contact":{"id":"c1","user_id":"u"}})",
      R"({"user_id":"u","contact":"no"})",
      R"({"user_id":"u","deleted_snapshot":{"id":"c1","user_id":"u","name":"n"},"contact":1})",
      R"({"user_id":"u","contact":{"id":"c1","user_id":"u","name":"n"}} trailing)",
      R"({"user_id":"u","contact":{"id":"c1","user_id":"u","name":"n",}})",
      R"([1,2])",
      R"("text")",
      "",
  };
  for (const auto& data : datas) {
    SCOPED_TRACE(data);
    json d = json::parse(data, nullptr, false);
    EventReader r;
    bool parsed = r.Parse(data);
    ASSERT_EQ(parsed, d.is_object());
    if (!parsed) continue;
    for (const char* member : {"contact", "deleted_snapshot"}) {
      Contact want, got;
      bool want_ok = d.contains(member) && ContactFromJson(d[member], want);
      ASSERT_EQ(r.ContactAt(member, got), want_ok) << member;
      if (want_ok) {
        EXPECT_EQ(ContactText(got), ContactText(want));
      }
    }
    Transaction want, got;
    bool want_ok = d.contains("transaction") && TransactionFromJson(d["transaction"], want);
    ASSERT_EQ(r.TransactionAt("transaction", got), want_ok);
    if (want_ok) {
      EXPECT_EQ(TransactionText(got), TransactionText(want));
    }
    if (want_ok) {
      json old_state = d["transaction"];
      if (d.contains("previous") && d["previous"].is_object()) {
        for (auto p = d["previous"].begin(); p != d["previous"].end(); ++p) {
          old_state[p.key()] = p.value();
        }
      }
      Transaction want_old, got_old;
      bool old_ok = TransactionFromJson(old_state, want_old);
      ASSERT_EQ(r.TransactionAt("transaction", "previous", got_old), old_ok);
      if (old_ok) {
        EXPECT_EQ(TransactionText(got_old), TransactionText(want_old));
      }
    }
    auto user = r.String("user_id");
    if (d.contains("user_id") && d["user_id"].is_string()) {
      ASSERT_TRUE(user);
      EXPECT_EQ(*user, d["user_id"].get<std::string>());
    } else {
      EXPECT_FALSE(user);
    }
  }
}

TEST(EventReader, NonStringMembersCountAsAbsentAndTheReaderIsReusable) {
  EventReader r;
  ASSERT_TRUE(r.Parse(R"({"user_id":12,"key":"k","value":true})"));
  EXPECT_FALSE(r.String("user_id"));
  EXPECT_FALSE(r.String("value"));
  EXPECT_EQ(r.String("key").value_or(""), "k");
  std::string big = R"({"user_id":")" + std::string(100000, 'x') + R"("})";
  ASSERT_TRUE(r.Parse(big));
  EXPECT_EQ(r.String("user_id")->size(), 100000u);
  ASSERT_FALSE(r.Parse("{"));
  ASSERT_TRUE(r.Parse(R"({"user_id":"a","user_id":"b"})"));
  EXPECT_EQ(r.String("user_id").value_or(""), "b");
}

TEST(JsonText, StringsAndTransactionsAreWrittenAsNlohmannDumpsThem) {
  const char kControls[] = "nul \0 and every control: \x01\x07\b\t\n\v\f\r\x1b\x1f";
  const std::string tricky[] = {"",
                                "plain",
                                "quote \" backslash \\ slash /",
                                std::string(kControls, sizeof kControls - 1),
                                "del \x7f",
                                "UTF-8: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb8",
                                "</script> & 'x'"};
  for (const auto& s : tricky) {
    std::string out;
    AppendJsonString(out, s);
    EXPECT_EQ(out, json(s).dump()) << s;
  }
  Transaction t;
  t.id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  t.user_id = "u\"1";
  t.contact_id = kContact;
  t.type = "money";
  t.direction = "lent";
  t.amount = 1000000000000000;
  t.currency = "IQD";
  t.transaction_date = "2024-03-01";
  t.created_at = t.updated_at = "2024-03-01T10:00:00.000001Z";
  for (int variant = 0; variant < 4; ++variant) {
    t.description = variant & 1 ? std::optional<std::string>(tricky[3]) : std::nullopt;
    t.due_date = variant & 2 ? std::optional<std::string>("2024-04-01") : std::nullopt;
    t.amount = variant == 3 ? 0 : t.amount;
    std::string out = "x";  // appended to what is there
    AppendTransactionJson(out, t);
    std::string expected = "x";
    expected += TransactionToJson(t).dump();
    EXPECT_EQ(out, expected) << variant;
    // A create's answer: the API's view, written as text up to its version.
    t.is_deleted = variant == 2;
    t.version = 7 * variant;
    std::string view;
    AppendTransactionViewUpToVersion(view, t);
    view += std::to_string(t.version) + "}";
    EXPECT_EQ(view, TransactionView(t).dump()) << variant;
  }
}

TEST(Validation, TransactionDefaultsAndNormalisation) {
  auto in = ParseTransactionInput(ValidTx(), true);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->currency.value, "IQD");
  EXPECT_EQ(in->comment, "No comment provided");
  json j = ValidTx();
  j.erase("currency");
  j["transaction_date"] = "2024-03-01T23:10:00.123Z";
  j["unknown_field"] = {1, 2};
  auto in2 = ParseTransactionInput(j, true);
  ASSERT_TRUE(in2.ok());
  EXPECT_EQ(in2->currency.value, "USD");
  EXPECT_EQ(in2->transaction_date.value, "2024-03-01");
}

struct BadRow {
  const char* field;
  json value;  // null json = remove the field
  const char* expect_in_message;
};

TEST(Validation, EveryBadTransactionFieldNamesTheField) {
  const BadRow rows[] = {
      {"contact_id", "not-a-uuid", "contact_id"},
      {"contact_id", 12, "contact_id"},
      {"type", "cash", "type"},
      {"direction", "gave", "direction"},
      {"amount", 0, "amount"},
      {"amount", -5, "amount"},
      {"amount", 10.5, "amount"},
      {"amount", "100", "amount"},
      {"amount", 1e18, "amount"},
      {"currency", "DOLLARS", "currency"},
      {"currency", "U1D", "currency"},
      {"currency", "XYZ", "currency"},  // three letters, but no ISO 4217 currency
      {"amount", 0.0, "amount"},
      {"amount", -3.0, "amount"},
      {"amount", 1e16, "amount"},
      {"transaction_date", "2024-02-30", "transaction_date"},
      {"transaction_date", "yesterday", "transaction_date"},
      {"due_date", "2024-13-01", "due_date"},
      {"description", 5, "description"},
      {"comment", true, "comment"},
  };
  for (const auto& row : rows) {
    json j = ValidTx();
    j[row.field] = row.value;
    auto in = ParseTransactionInput(j, true);
    ASSERT_FALSE(in.ok()) << row.field << "=" << row.value.dump();
    EXPECT_EQ(in.status().code(), Code::kInvalidArgument);
    EXPECT_NE(in.status().message().find(row.expect_in_message), std::string::npos)
        << in.status().message();
  }
  for (const char* required : {"contact_id", "type", "direction", "amount", "transaction_date"}) {
    json j = ValidTx();
    j.erase(required);
    auto in = ParseTransactionInput(j, true);
    ASSERT_FALSE(in.ok()) << required;
    EXPECT_NE(in.status().message().find(required), std::string::npos);
  }
  EXPECT_FALSE(ParseTransactionInput(json::array(), true).ok());
  // Regression: a parsed 0 is an unsigned JSON number and must be refused too.
  for (const char* amount : {"0", "-0", "1000000000000001", "18446744073709551615"}) {
    json j = ValidTx();
    j["amount"] = json::parse(amount);
    EXPECT_FALSE(ParseTransactionInput(j, true).ok()) << amount;
  }
  json big = ValidTx();
  big["amount"] = json::parse("1000000000000000");
  EXPECT_TRUE(ParseTransactionInput(big, true).ok());
}

TEST(Validation, WholeDoubleAmountsAndEnumCaseAreTakenAsTheClientMeantThem) {
  json j = ValidTx();
  j["amount"] = json::parse("1500.0");  // Dart's jsonEncode of a double
  j["type"] = "Money";
  j["direction"] = "OWED";
  j["currency"] = "eur";
  auto in = ParseTransactionInput(j, true);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->amount.value, 1500);
  EXPECT_EQ(in->type.value, "money");
  EXPECT_EQ(in->direction.value, "owed");
  EXPECT_EQ(in->currency.value, "EUR");
  j["amount"] = json::parse("1.0e3");
  ASSERT_TRUE(ParseTransactionInput(j, true).ok());
  EXPECT_EQ(ParseTransactionInput(j, true)->amount.value, 1000);
  EXPECT_TRUE(KnownCurrency("IQD"));
  EXPECT_FALSE(KnownCurrency("iqd"));
  EXPECT_FALSE(KnownCurrency("ABC"));
}

TEST(Validation, ContactNameRequiredAndUpdatesArePartial) {
  EXPECT_FALSE(ParseContactInput(json{{"name", ""}}, true).ok());
  EXPECT_FALSE(ParseContactInput(json{{"name", "   "}}, true).ok());
  EXPECT_FALSE(ParseContactInput(json{{"phone", "1"}}, true).ok());
  EXPECT_FALSE(ParseContactInput(json{{"name", std::string(201, 'x')}}, true).ok());
  auto upd = ParseContactInput(json{{"email", nullptr}}, false);
  ASSERT_TRUE(upd.ok());
  EXPECT_FALSE(upd->name.present);
  EXPECT_TRUE(upd->email.present);
  EXPECT_FALSE(upd->email.value.has_value());
  EXPECT_FALSE(ParseContactInput(json{{"name", nullptr}}, false).ok());
}

TEST(Validation, IdempotencyKeys) {
  EXPECT_TRUE(ValidIdempotencyKey("a"));
  EXPECT_TRUE(ValidIdempotencyKey("order 42/retry#1"));
  EXPECT_TRUE(ValidIdempotencyKey(std::string(255, 'k')));
  EXPECT_FALSE(ValidIdempotencyKey(""));
  EXPECT_FALSE(ValidIdempotencyKey(std::string(256, 'k')));
  EXPECT_FALSE(ValidIdempotencyKey("tab\there"));
  EXPECT_FALSE(ValidIdempotencyKey("caf\xc3\xa9"));
}

TEST(Idempotency, FingerprintIgnoresKeyOrderButNotValuesPathOrUser) {
  json a = json::parse(R"({"name":"x","phone":"1"})");
  json b = json::parse(R"({ "phone":"1", "name":"x" })");
  auto ca = MakeIdempotencyContext("u1", "k", "POST", "/api/contacts", a);
  auto cb = MakeIdempotencyContext("u1", "k", "POST", "/api/contacts", b);
  EXPECT_EQ(ca.fingerprint, cb.fingerprint);
  EXPECT_EQ(ca.EventId(), cb.EventId());
  EXPECT_EQ(ca.AggregateId(), cb.AggregateId());
  auto other_body = MakeIdempotencyContext("u1", "k", "POST", "/api/contacts", json{{"name", "y"}});
  EXPECT_NE(ca.fingerprint, other_body.fingerprint);
  EXPECT_NE(ca.ClaimEventId(), other_body.ClaimEventId());
  EXPECT_EQ(ca.key_id, other_body.key_id);
  auto other_path = MakeIdempotencyContext("u1", "k", "POST", "/api/transactions", a);
  EXPECT_NE(ca.fingerprint, other_path.fingerprint);
  auto other_user = MakeIdempotencyContext("u2", "k", "POST", "/api/contacts", a);
  EXPECT_NE(ca.key_id, other_user.key_id);
}

TEST(Dates, AcceptDatesAndDateTimesKeepingTheDate) {
  EXPECT_EQ(ParseDate("2024-02-29").value_or(""), "2024-02-29");
  EXPECT_EQ(ParseDate("2024-02-29T10:11:12Z").value_or(""), "2024-02-29");
  EXPECT_EQ(ParseDate("2024-02-29T10:11:12.123456+03:00").value_or(""), "2024-02-29");
  EXPECT_FALSE(ParseDate("2023-02-29"));
  EXPECT_FALSE(ParseDate("2024-2-1"));
  EXPECT_FALSE(ParseDate("2024-02-01Tnonsense"));
  auto us = ParseRfc3339Micros("2024-01-02T03:04:05.678901Z");
  ASSERT_TRUE(us);
  EXPECT_EQ(FormatRfc3339Micros(*us), "2024-01-02T03:04:05.678901Z");
  EXPECT_EQ(FormatRfc3339Micros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339Micros(951782400123456), "2000-02-29T00:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339Micros(-62135596800000000), "0001-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339Micros(253402300799999999), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339Micros(253402300800000000), "10000-01-01T00:00:00.000000Z");
  // Every format parses back to the same instant, across leap days, months and centuries.
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int64_t t = static_cast<int64_t>(x % 253402300800000000ull) - 62135596800000000;
    const std::string text = FormatRfc3339Micros(t);
    ASSERT_EQ(text.size(), 27u) << t;
    auto back = ParseRfc3339Micros(text);
    ASSERT_TRUE(back) << text;
    ASSERT_EQ(*back, t) << text;
  }
  EXPECT_EQ(*ParseRfc3339Micros("1970-01-01T01:00:00+01:00"), 0);
}

TEST(Jwt, IssuedTokensVerifyAndForgedOrExpiredOnesDoNot) {
  JwtSigner signer("a-secret-of-sufficient-length", 60);
  std::string token = signer.Issue("user-1", "alice");
  auto claims = signer.Verify(token);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->user_id, "user-1");
  EXPECT_EQ(claims->username, "alice");
  JwtSigner other("another-secret-of-enough-length", 60);
  EXPECT_FALSE(other.Verify(token).ok());
  std::string tampered = token;
  tampered[tampered.find('.') + 2] ^= 1;
  EXPECT_FALSE(signer.Verify(tampered).ok());
  JwtSigner expired("a-secret-of-sufficient-length", -10);
  EXPECT_FALSE(signer.Verify(expired.Issue("user-1", "alice")).ok());
  EXPECT_FALSE(signer.Verify("garbage").ok());
  EXPECT_FALSE(signer.Verify("a.b.c").ok());
}

// Verify remembers accepted tokens: a token accepted before is accepted again with the same
// claims, until it expires; a token differing in any byte from a remembered one is checked in
// full; past the bound the earlier tokens are checked again and still accepted.
TEST(Jwt, RememberedTokensStillExpireAndForgeriesOfThemAreRefused) {
  JwtSigner signer("a-secret-of-sufficient-length", 1);
  std::string token = signer.Issue("user-1", "alice");
  ASSERT_TRUE(signer.Verify(token).ok());
  auto again = signer.Verify(token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->user_id, "user-1");
  EXPECT_EQ(again->username, "alice");
  for (size_t i = 0; i + 1 < token.size(); i += 7) {  // not the last: it has unused bits
    std::string forged = token;
    forged[i] = forged[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(signer.Verify(forged).ok()) << i;
  }
  EXPECT_FALSE(signer.Verify(token + "x").ok());
  EXPECT_FALSE(signer.Verify(token.substr(0, token.size() - 1)).ok());

  JwtSigner many("a-secret-of-sufficient-length", 60);
  std::vector<std::string> tokens;
  for (size_t i = 0; i < JwtSigner::kRememberedTokens + 10; ++i) {
    tokens.push_back(many.Issue("user-" + std::to_string(i), "u"));
    ASSERT_TRUE(many.Verify(tokens.back()).ok());
  }
  for (size_t i = 0; i < tokens.size(); i += 97) {
    auto c = many.Verify(tokens[i]);
    ASSERT_TRUE(c.ok()) << i;
    EXPECT_EQ(c->user_id, "user-" + std::to_string(i));
  }

  // exp is in whole seconds: wait until the remembered token's second has passed.
  const int64_t exp = again->exp;
  while (std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() < exp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto late = signer.Verify(token);
  ASSERT_FALSE(late.ok());
  EXPECT_TRUE(late.status().Is(Code::kUnauthenticated));
  EXPECT_FALSE(signer.Verify(token).ok());  // also once it is no longer remembered
}

// The signature is RFC 2104's HMAC-SHA256 (as OpenSSL's one-shot HMAC computes it), also
// for keys longer than a block; a header whose alg is not a string is refused, not a crash.
TEST(Jwt, SignaturesAreHmacSha256ForShortAndLongKeys) {
  for (std::string secret : {std::string("k"), std::string(64, 's'), std::string(200, 'L')}) {
    JwtSigner signer(secret, 60);
    std::string token = signer.Issue("u", "name");
    auto dot = token.rfind('.');
    std::string input = token.substr(0, dot);
    auto sig = Base64UrlDecode(token.substr(dot + 1));
    ASSERT_TRUE(sig);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
    EXPECT_EQ(*sig, std::string(reinterpret_cast<char*>(mac), len)) << secret.size();
    EXPECT_TRUE(signer.Verify(token).ok());
  }
  JwtSigner signer("a-secret-of-sufficient-length", 60);
  std::string token = signer.Issue("u", "name");
  std::string bad_header = Base64UrlEncode(R"({"alg":1})") + token.substr(token.find('.'));
  auto r = signer.Verify(bad_header);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(Code::kUnauthenticated));
}

TEST(Password, Argon2idHashesVerifyOnlyTheRightPassword) {
  auto h = HashPassword("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*h, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*h, "correct horsE"));
  auto h2 = HashPassword("correct horse");
  ASSERT_TRUE(h2.ok());
  EXPECT_NE(*h, *h2);  // salted
}

TEST(Users, BootstrapSpecParsing) {
  auto r = UserService::ParseBootstrap("alice:pw1,bob:p:w2");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].first, "bob");
  EXPECT_EQ((*r)[1].second, "p:w2");
  EXPECT_FALSE(UserService::ParseBootstrap("alice").ok());
  EXPECT_FALSE(UserService::ParseBootstrap(":pw").ok());
  EXPECT_EQ(UserService::UserIdFor("Alice"), UserService::UserIdFor("alice"));
}

}  // namespace
}  // namespace dt::tracker

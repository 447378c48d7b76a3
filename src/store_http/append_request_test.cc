// The two readings of an events+json append body (append_request.h) agree: where the
// simdjson one answers, it gives exactly the events nlohmann's reference reading gives;
// where it cannot (errors, floating-point numbers, lone surrogates) it leaves the body to
// the reference.
#include "store_http/append_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dt::store_http {
namespace {

constexpr size_t kMax = 1u << 20;
constexpr char kId[] = "0f8fad5b-d9cb-469f-a165-70867728950e";

std::string Event(const std::string& members) {
  return std::string(R"({"eventId":")") + kId + R"(","eventType":"T")" + members + "}";
}

// "[e1 , e2 ...]" + tail. Built by appending: g++ 12 -O3 warns (-Wrestrict, a known false
// positive) on `"[" + std::string&&`.
std::string Batch(std::initializer_list<std::string> events, std::string_view tail = "") {
  std::string out = "[";
  for (const auto& e : events) {
    if (out.size() > 1) out += " , ";
    out += e;
  }
  out += "]";
  out += tail;
  return out;
}

void ExpectSame(const std::string& body) {
  SCOPED_TRACE(body);
  auto fast = ParseEventsFast(body, kMax);
  ASSERT_TRUE(fast.has_value());
  auto ref = ParseEventsReference(body, kMax);
  auto* events = std::get_if<std::vector<store::EventData>>(&ref);
  ASSERT_NE(events, nullptr);
  ASSERT_EQ(events->size(), fast->size());
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*fast)[i].id, (*events)[i].id);
    EXPECT_EQ((*fast)[i].type, (*events)[i].type);
    EXPECT_EQ((*fast)[i].data, (*events)[i].data);
    EXPECT_EQ((*fast)[i].metadata, (*events)[i].metadata);
    EXPECT_EQ((*fast)[i].is_json, (*events)[i].is_json);
  }
}

TEST(AppendRequestTest, FastReadingMatchesTheReference) {
  for (const std::string& members : std::vector<std::string>{
           "",
           R"(,"data":{"n":"0000000001","pad":"xxxx"})",
           R"(,"data":{ "b" : 1 , "a" : [ true, false, null, -5, 18446744073709551615 ] })",
           R"(,"data":{"k":1,"k":2,"a":{"z":{},"y":[]}})",  // duplicates: the last counts
           R"(,"data":{"s":"tab\t nl\n quote\" slash\/ back\\ ctl\u0001 \u007f é \ud83d\ude00"})",
           R"(,"data":{"é":1,"e":2,"E":3,"":4})",
           R"(,"data":"plain text \"quoted\"","metadata":{"m":-0})",
           R"(,"data":null,"metadata":null)",
           R"(,"data":42,"metadata":true)",
           R"(,"data":[],"metadata":"x","eventType":"Other")",
       }) {
    ExpectSame(Batch({Event(members)}));
  }
  ExpectSame(Batch({Event(R"(,"data":{"a":1})"), Event(R"(,"data":[1,2])")}, "\n"));
}

// Strings are copied 8 bytes at a time between the characters that need escaping, and
// objects of up to 16 members are sorted without allocating: escapes at every offset
// of a long string, and objects on both sides of 16 members (duplicates included).
TEST(AppendRequestTest, FastReadingMatchesTheReferenceOnLongStringsAndWideObjects) {
  const std::string text = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (const char* escape : {R"(\")", R"(\\)", R"(\n)", R"(\u0001)", R"(\u001f)", "\x7f", "\xc3\xa9"}) {
    for (size_t at = 0; at <= text.size(); ++at) {
      std::string s = text.substr(0, at) + escape + text.substr(at);
      ExpectSame(Batch({Event(R"(,"data":{"s":")" + s + R"("},"metadata":")" + s + R"(")")}));
    }
  }
  for (int members : {15, 16, 17, 40}) {
    std::string obj = "{";
    for (int i = members; i > 0; --i) {
      if (obj.size() > 1) obj += ",";
      obj.append("\"k").append(std::to_string(i % 12)).append("\":").append(std::to_string(i));
    }
    obj += "}";
    ExpectSame(Batch({Event(R"(,"data":)" + obj)}));
  }
}

TEST(AppendRequestTest, FastReadingLeavesHardCasesToTheReference) {
  for (const std::string& body : std::vector<std::string>{
           "",
           "[]",
           "{}",
           "[1]",
           "[{}]",
           Batch({Event("")}, " x"),
           Batch({Event(R"(,"data":{"f":1.5})")}),
           Batch({Event(R"(,"data":{"f":1e3})")}),
           Batch({Event(R"(,"data":"\udc00")")}),  // a lone low surrogate
           R"([{"eventId":"not-a-uuid","eventType":"T"}])",
           R"([{"eventId":")" + std::string(kId) + R"(","eventType":""}])",
       }) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(ParseEventsFast(body, kMax).has_value());
  }
  // Over the size limit: the reference gives the 413.
  std::string big = Batch({Event(R"(,"data":")" + std::string(100, 'x') + R"(")")});
  EXPECT_FALSE(ParseEventsFast(big, 50).has_value());
  auto ref = ParseEventsReference(big, 50);
  ASSERT_TRUE(std::holds_alternative<http::Response>(ref));
  EXPECT_EQ(std::get<http::Response>(ref).result_int(), 413u);
}

}  // namespace
}  // namespace dt::store_http

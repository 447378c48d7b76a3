// g++ 12 at -O3 reports a false -Wrestrict inside std::string here (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"
#include "store_http/atom.h"

#include <gtest/gtest.h>

namespace dt::store_http {
namespace {

TEST(AtomTest, AllPositionsRoundTripAsThirtyTwoHexDigits) {
  EXPECT_EQ(FormatAllPosition(0), "00000000000000000000000000000000");
  EXPECT_EQ(FormatAllPosition(0x7c), "000000000000007C000000000000007C");
  EXPECT_EQ(ParseAllPosition("000000000000007C000000000000007C"), 0x7cu);
  EXPECT_EQ(ParseAllPosition("000000000000007c000000000000007c"), 0x7cu);
  EXPECT_FALSE(ParseAllPosition("7C"));
  EXPECT_FALSE(ParseAllPosition("000000000000007G000000000000007C"));
  EXPECT_FALSE(ParseAllPosition("0000000000000001000000000000007C"));  // prepare after commit
}

TEST(AtomTest, TimesAreUtcWithMicroseconds) {
  EXPECT_EQ(FormatTime(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatTime(0), "0001-01-01T00:00:00Z");
}

TEST(AtomTest, EmbedNames) {
  EXPECT_EQ(ParseEmbed(std::nullopt), Embed::kNone);
  EXPECT_EQ(ParseEmbed("Body"), Embed::kBody);
  EXPECT_EQ(ParseEmbed("tryharder"), Embed::kTryHarder);
  EXPECT_EQ(ParseEmbed("nonsense"), Embed::kNone);
}

TEST(AtomTest, TryHarderParsesJsonStoredAsBinary) {
  store::RecordedEvent e;
  e.stream = "s";
  e.type = "T";
  e.data = R"({"a":1})";
  e.is_json = false;
  auto body = Entry(e, "http://h", Embed::kBody);
  EXPECT_FALSE(body.contains("data"));
  EXPECT_EQ(body["isJson"], false);
  auto tried = Entry(e, "http://h", Embed::kTryHarder);
  EXPECT_EQ(tried["isJson"], true);
  EXPECT_EQ(tried["data"], "{\n  \"a\": 1\n}");
}

TEST(AtomTest, StreamNamesAreEscapedInUrls) {
  EXPECT_EQ(StreamUrl("http://h", "$$a b"), "http://h/streams/%24%24a%20b");
}

// The feeds' text is written directly for embed=body: byte for byte what dumping the
// nlohmann document gives, whatever the events hold (quotes, backslashes, control
// characters, non-ASCII, bytes that are not UTF-8, binary events, metadata or none).
TEST(AtomTest, FeedTextIsTheDumpedDocument) {
  std::vector<store::RecordedEvent> events;
  const std::vector<std::string> texts = {
      R"({"a":1})", "", R"({"q":"say \"hi\"\\ \n\t\u0001"})", "plain \x01\x1f\x7f text",
      "na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80", "bad \xff\xfe utf-8 \xc3", "\b\f\r\"\\"};
  for (size_t i = 0; i < texts.size(); ++i) {
    store::RecordedEvent e;
    e.stream = i % 3 == 0 ? "contact-1" : i % 3 == 1 ? "we\"ird/stre\xc3\xa4m \x01" : "$$x";
    e.number = static_cast<int64_t>(i * 7);
    e.position = 100 * (i + 1);
    e.id = Uuid::Random();
    e.type = i % 2 ? "Type\"" + std::to_string(i) : "ContactCreated";
    e.data = texts[i];
    e.metadata = i % 2 ? texts[(i + 3) % texts.size()] : "";
    e.is_json = i != 3 && i != 5;
    e.created_us = 1'700'000'000'123'456 + static_cast<int64_t>(i);
    events.push_back(e);
  }
  for (Embed embed : {Embed::kNone, Embed::kContent, Embed::kRich, Embed::kBody, Embed::kPretty,
                      Embed::kTryHarder}) {
    for (auto d : {store::Direction::kForward, store::Direction::kBackward}) {
      for (size_t n : {size_t{0}, size_t{1}, events.size()}) {
        SCOPED_TRACE(::testing::Message() << "embed " << static_cast<int>(embed) << " n " << n);
        store::AllSlice all;
        all.events.assign(events.begin(), events.begin() + static_cast<long>(n));
        all.next_position = 4242;
        all.end_of_log = n < events.size();
        AllFeedArgs a{"http://h:2113", &all, 77, 20, d, n == 0, embed};
        EXPECT_EQ(AllFeedText(a), DumpJson(AllFeed(a)));
        store::StreamSlice slice;
        slice.events = all.events;
        slice.last_number = 42;
        slice.end_of_stream = n < events.size();
        StreamFeedArgs sa;
        sa.base = "http://h:2113";
        sa.stream = "we\"ird \xff";
        sa.slice = &slice;
        sa.from = 3;
        sa.direction = d;
        sa.head_of_stream = n == 0;
        sa.etag = n ? "42;123" : "";
        sa.embed = embed;
        EXPECT_EQ(StreamFeedText(sa), DumpJson(StreamFeed(sa)));
      }
    }
  }
}

}  // namespace
}  // namespace dt::store_http

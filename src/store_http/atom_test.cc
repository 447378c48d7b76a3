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

}  // namespace
}  // namespace dt::store_http

#include "common/text_codec.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace dt {
namespace {

TEST(TextCodec, HexDigits) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  EXPECT_EQ(HexDigitValue('g'), -1);
  EXPECT_EQ(HexDigitValue('%'), -1);
}

TEST(TextCodec, HexEncodesEveryByteAsTwoLowercaseDigits) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string hex = HexEncode(all);
  ASSERT_EQ(hex.size(), 512u);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(HexDigitValue(hex[2 * i]) * 16 + HexDigitValue(hex[2 * i + 1]), int(i));
  }
}

// RFC 4648 §10 test vectors.
TEST(TextCodec, Base64MatchesTheRfcVectors) {
  const std::pair<const char*, const char*> kVectors[] = {{"", ""},
                                                          {"f", "Zg=="},
                                                          {"fo", "Zm8="},
                                                          {"foo", "Zm9v"},
                                                          {"foob", "Zm9vYg=="},
                                                          {"fooba", "Zm9vYmE="},
                                                          {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), plain);
  }
  EXPECT_EQ(Base64Encode("admin:changeit"), "YWRtaW46Y2hhbmdlaXQ=");
}

TEST(TextCodec, Base64AcceptsUnpaddedAndRejectsGarbage) {
  EXPECT_EQ(Base64Decode("Zm9vYg"), "foob");
  EXPECT_FALSE(Base64Decode("Zm9v!"));
  EXPECT_FALSE(Base64Decode("Z"));       // a dangling sixth
  EXPECT_FALSE(Base64Decode("Zg="));     // padding on a length no encoder produces
  EXPECT_FALSE(Base64Decode("Zg===="));  // too much padding
  EXPECT_FALSE(Base64Decode("-_8="));    // the URL-safe alphabet is not the standard one
}

TEST(TextCodec, Base64UrlUsesTheUrlAlphabetWithoutPadding) {
  std::string bytes = "\xfb\xff\xbf";
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64UrlDecode("-_-_"), bytes);
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlDecode("Zg"), "f");
  EXPECT_FALSE(Base64UrlDecode("Zg=="));
  EXPECT_FALSE(Base64UrlDecode("+/+/"));
}

TEST(TextCodec, Base64RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    std::string s = all.substr(0, n);
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
}

TEST(TextCodec, PercentEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(PercentEncode("contact-1_2.3~x"), "contact-1_2.3~x");
  EXPECT_EQ(PercentEncode("$all"), "%24all");
  EXPECT_EQ(PercentEncode("a b/c"), "a%20b%2Fc");
  EXPECT_EQ(PercentEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
}

TEST(TextCodec, PercentDecodingRejectsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("%24all"), "$all");
  EXPECT_EQ(PercentDecode("%c3%A9"), "\xc3\xa9");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_FALSE(PercentDecode("%"));
  EXPECT_FALSE(PercentDecode("a%4"));
  EXPECT_FALSE(PercentDecode("%zz"));
  for (std::string s : {"", "x", "$all/stream name?&=", "\x01\xff"}) {
    EXPECT_EQ(PercentDecode(PercentEncode(s)), s);
  }
}

// Every byte that needs escaping, at every offset around and across the 8-byte steps of
// the fast path, in text otherwise plain, multi-byte UTF-8 included: the same text as
// nlohmann::json's dump().
TEST(TextCodec, JsonStringsAreWrittenAsNlohmannDumpsThem) {
  std::string special;
  for (int c = 0; c < 0x20; ++c) special.push_back(static_cast<char>(c));
  special += "\"\\";
  for (const std::string filler : {"abcdefghijklmnopqrstuvwxyz", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xb8/x"}) {
    for (char c : special) {
      for (size_t at = 0; at <= 20; ++at) {
        std::string s(at, 'a');
        s.push_back(c);
        s += filler;
        std::string out = "prefix";
        AppendJsonString(out, s);
        ASSERT_EQ(out, "prefix" + nlohmann::json(s).dump()) << "byte " << int(c) << " at " << at;
      }
    }
  }
  std::string empty;
  AppendJsonString(empty, "");
  EXPECT_EQ(empty, "\"\"");
}

}  // namespace
}  // namespace dt

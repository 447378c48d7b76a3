#include "http/basic_auth.h"

#include <gtest/gtest.h>

#include <vector>

namespace dt::http {
namespace {

TEST(BasicAuthTest, ParsesCredentials) {
  auto c = ParseBasicAuth("Basic " + Base64Encode("admin:changeit"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "admin");
  EXPECT_EQ(c->password, "changeit");
  auto colon = ParseBasicAuth("basic " + Base64Encode("u:p:q"));
  ASSERT_TRUE(colon);
  EXPECT_EQ(colon->password, "p:q");
}

TEST(BasicAuthTest, RejectsOtherSchemesAndGarbage) {
  EXPECT_FALSE(ParseBasicAuth(""));
  EXPECT_FALSE(ParseBasicAuth("Bearer abc"));
  EXPECT_FALSE(ParseBasicAuth("Basic !!!"));
  EXPECT_FALSE(ParseBasicAuth("Basic " + Base64Encode("nocolon")));
}

TEST(BasicAuthTest, Base64RoundTrips) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("admin:changeit"), "YWRtaW46Y2hhbmdlaXQ=");
}

TEST(BasicAuthTest, UnauthorizedHasChallenge) {
  Response r = Unauthorized("ESDB");
  EXPECT_EQ(r.result(), HttpStatus::unauthorized);
  EXPECT_EQ(r[bhttp::field::www_authenticate], "Basic realm=\"ESDB\"");
}

TEST(BasicAuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("changeit", "changeit"));
  EXPECT_FALSE(ConstantTimeEquals("changeit", "changeiT"));
  EXPECT_FALSE(ConstantTimeEquals("changeit", "change"));
}

}  // namespace
}  // namespace dt::http

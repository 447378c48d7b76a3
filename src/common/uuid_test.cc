#include "common/uuid.h"

#include <gtest/gtest.h>

#include <unordered_set>

namespace dt {
namespace {

TEST(Uuid, ParsesCanonicalAndRoundTrips) {
  auto u = Uuid::Parse("550E8400-e29b-41d4-a716-446655440000");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->ToString(), "550e8400-e29b-41d4-a716-446655440000");
}

TEST(Uuid, ParsesBracesAndPlainHex) {
  auto a = Uuid::Parse("{550e8400-e29b-41d4-a716-446655440000}");
  auto b = Uuid::Parse("550e8400e29b41d4a716446655440000");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(Uuid, RejectsMalformed) {
  for (const char* bad : {"", "abc", "550e8400-e29b-41d4-a716-44665544000",
                          "550e8400-e29b-41d4-a716-4466554400000", "550e8400xe29b-41d4-a716-446655440000",
                          "g50e8400-e29b-41d4-a716-446655440000", "{550e8400-e29b-41d4-a716-446655440000"}) {
    EXPECT_FALSE(Uuid::Parse(bad).has_value()) << bad;
  }
}

TEST(Uuid, RandomIsVersion4AndDistinct) {
  std::unordered_set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    Uuid u = Uuid::Random();
    EXPECT_EQ(u.bytes[6] >> 4, 4);
    EXPECT_EQ(u.bytes[8] >> 6, 2);
    EXPECT_TRUE(seen.insert(u).second);
  }
}

TEST(Uuid, NameBasedIsDeterministicVersion5) {
  Uuid ns = *Uuid::Parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");  // RFC 4122 DNS namespace
  // Known value: uuid5(NAMESPACE_DNS, "python.org") from RFC 4122 implementations.
  EXPECT_EQ(Uuid::NameBased(ns, "python.org").ToString(), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_EQ(Uuid::NameBased(ns, "a"), Uuid::NameBased(ns, "a"));
  EXPECT_NE(Uuid::NameBased(ns, "a"), Uuid::NameBased(ns, "b"));
}

}  // namespace
}  // namespace dt

#include "common/uuid.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
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

uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t TimestampOf(const Uuid& u) {
  uint64_t ms = 0;
  for (size_t i = 0; i < 6; ++i) ms = ms << 8 | u.bytes[i];
  return ms;
}

TEST(Uuid, TimeOrderedIsVersion7WithTheCurrentMillisecond) {
  std::unordered_set<Uuid> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t before = UnixMillis();
    Uuid u = Uuid::TimeOrdered();
    uint64_t after = UnixMillis();
    EXPECT_EQ(u.bytes[6] >> 4, 7);
    EXPECT_EQ(u.bytes[8] >> 6, 2);
    EXPECT_GE(TimestampOf(u), before);
    EXPECT_LE(TimestampOf(u), after);
    EXPECT_TRUE(seen.insert(u).second);  // the random bits tell ids of one millisecond apart
  }
}

TEST(Uuid, TimeOrderedIdsOfLaterMillisecondsSortAfter) {
  // As bytes and as their canonical text (the read model's keys are text).
  Uuid prev = Uuid::TimeOrdered();
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    Uuid next = Uuid::TimeOrdered();
    EXPECT_LT(prev, next);
    EXPECT_LT(prev.ToString(), next.ToString());
    prev = next;
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

#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dt::crc32c {
namespace {

// Test vectors from RFC 3720, appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<uint8_t>(i);
    dec[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(Value(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Value(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(Value(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Value(dec.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello, event store; this string is longer than eight bytes";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = Extend(Value(s.data(), split), s.data() + split, s.size() - split);
    EXPECT_EQ(a, Value(s.data(), s.size())) << split;
  }
}

TEST(Crc32c, DetectsSingleBitFlip) {
  std::string s(100, 'a');
  uint32_t before = Value(s.data(), s.size());
  s[57] ^= 0x04;
  EXPECT_NE(before, Value(s.data(), s.size()));
}

}  // namespace
}  // namespace dt::crc32c

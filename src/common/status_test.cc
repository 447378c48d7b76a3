#include "common/status.h"

#include <gtest/gtest.h>

namespace dt {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  DT_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Status, CarriesCurrentVersion) {
  Status s = Status::WrongExpectedVersion(7, "expected 3");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.Is(Code::kWrongExpectedVersion));
  EXPECT_EQ(s.current_version(), 7);
  EXPECT_EQ(s.ToString(), "WrongExpectedVersion: expected 3");
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(Quarter(8).status().ok());
}

}  // namespace
}  // namespace dt

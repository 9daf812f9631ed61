#include <gtest/gtest.h>
#include <memory>
#include <string>

#include <capsule/core/result.hpp>

namespace capsule {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(ErrorCode::kInvalidArgument, "not positive: " + std::to_string(v));
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(4);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 4);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().describe(), "invalid argument: not positive: -1");
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r);
  std::unique_ptr<int> taken = std::move(r).value();
  EXPECT_EQ(*taken, 7);
}

TEST(Result, VoidStatus) {
  Status s = ok();
  EXPECT_TRUE(s);
  Status f = make_error(ErrorCode::kTimeout, "late");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kTimeout);
}

}  // namespace
}  // namespace capsule

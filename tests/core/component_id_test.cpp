#include <gtest/gtest.h>
#include <unordered_set>

#include <capsule/core/component_id.hpp>

namespace capsule {
namespace {

TEST(ComponentId, ParsesThreeSegments) {
  auto id = ComponentId::parse("shop/cart/3");
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_EQ(id->ns, "shop");
  EXPECT_EQ(id->name, "cart");
  EXPECT_EQ(id->instance, "3");
  EXPECT_EQ(id->to_string(), "shop/cart/3");
}

TEST(ComponentId, TwoSegmentsMeanInstanceZero) {
  auto id = ComponentId::parse("shop/cart");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->instance, "0");
}

TEST(ComponentId, RejectsMalformedIdsNamingTheProblem) {
  for (const char* bad : {"", "shop", "shop//1", "a/b/c/d", "shop/../x", "sh op/cart", "/cart/1"}) {
    auto id = ComponentId::parse(bad);
    ASSERT_FALSE(id) << bad;
    EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(id.error().message.find(bad), std::string::npos) << id.error().message;
  }
}

TEST(ComponentId, HashAndEqualityDistinguishSegments) {
  std::unordered_set<ComponentId> set;
  set.insert({"a", "b", "c"});
  set.insert({"a", "bc", ""});
  set.insert({"a", "b", "c"});
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace capsule

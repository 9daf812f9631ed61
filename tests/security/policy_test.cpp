#include <atomic>
#include <gtest/gtest.h>
#include <thread>

#include <capsule/security/policy_engine.hpp>

namespace capsule::security {
namespace {

const ComponentId kCart{"shop", "cart", "0"};

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() : policy([this] { return now; }) {}

  void declare_and_grant(std::vector<Capability> declared, std::vector<Capability> granted) {
    ComponentPermissions p;
    p.declared = std::move(declared);
    p.granted = std::move(granted);
    ASSERT_TRUE(policy.set_component("shop", "cart", p));
  }

  Clock::time_point now = Clock::now();
  PolicyEngine policy;
};

TEST_F(PolicyTest, UnknownComponentGetsOnlyDefaults) {
  EXPECT_FALSE(policy.check(kCart, Action::kSend, "shop/db/0").allowed);
  EXPECT_FALSE(policy.check(kCart, Action::kStorageRead, "k").allowed);
  EXPECT_TRUE(policy.check(kCart, Action::kTime, "wall").allowed);
  EXPECT_TRUE(policy.check(kCart, Action::kLog, "info").allowed);
  EXPECT_TRUE(policy.check(kCart, Action::kLog, "error").allowed);
  EXPECT_FALSE(policy.check(kCart, Action::kLog, "debug").allowed);
}

TEST_F(PolicyTest, NeedsBothDeclarationAndGrant) {
  declare_and_grant({{Action::kSend, "shop/**", {}}, {Action::kPublish, "orders/*", {}}},
                    {{Action::kSend, "shop/db/*", {}}, {Action::kStorageRead, "**", {}}});
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "shop/db/0").allowed);
  const Decision not_granted = policy.check(kCart, Action::kSend, "shop/other/0");
  EXPECT_FALSE(not_granted.allowed);
  EXPECT_EQ(not_granted.reason, "declared but not granted by the host");
  // Granted but never declared: the operator cannot push a permission onto a component.
  const Decision undeclared = policy.check(kCart, Action::kStorageRead, "k");
  EXPECT_FALSE(undeclared.allowed);
  EXPECT_EQ(undeclared.reason, "not declared by the component");
  EXPECT_FALSE(policy.check(kCart, Action::kPublish, "orders/new").allowed);
}

TEST_F(PolicyTest, DenyRuleWinsOverGrantAndAppliesAtOnce) {
  declare_and_grant({{Action::kSend, "**", {}}}, {{Action::kSend, "**", {}}});
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "pay/gw/0").allowed);
  ASSERT_TRUE(policy.add_rule(
      {Effect::kDeny, "shop/**", Action::kSend, "pay/**", std::nullopt, "freeze-payments"}));
  const Decision d = policy.check(kCart, Action::kSend, "pay/gw/0");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reason, "denied by policy rule 'freeze-payments'");
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "shop/db/0").allowed);
  // A matching allow rule does not override a deny.
  ASSERT_TRUE(policy.add_rule({Effect::kAllow, "**", std::nullopt, "**", std::nullopt, "open"}));
  EXPECT_FALSE(policy.check(kCart, Action::kSend, "pay/gw/0").allowed);
  ASSERT_TRUE(policy.set_rules({}));
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "pay/gw/0").allowed);
}

TEST_F(PolicyTest, DenyRuleCanSilenceEvenDefaults) {
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "shop/cart/*", Action::kLog, "**", {}, "mute"}));
  EXPECT_FALSE(policy.check(kCart, Action::kLog, "error").allowed);
}

TEST_F(PolicyTest, AllowRuleGrantsOnlyWhatWasDeclared) {
  declare_and_grant({{Action::kSubscribe, "news/*", {}}}, {});
  EXPECT_FALSE(policy.check(kCart, Action::kSubscribe, "news/eu").allowed);
  ASSERT_TRUE(policy.add_rule({Effect::kAllow, "shop/**", Action::kSubscribe, "**", {}, ""}));
  EXPECT_TRUE(policy.check(kCart, Action::kSubscribe, "news/eu").allowed);
  EXPECT_FALSE(policy.check(kCart, Action::kSubscribe, "sports/eu").allowed);
}

TEST_F(PolicyTest, ExpiryEndsCapabilitiesAndRules) {
  const auto soon = now + std::chrono::minutes(5);
  declare_and_grant({{Action::kSend, "**", {}}}, {{Action::kSend, "**", soon}});
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "a/b/0").allowed);
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "**", Action::kRequest, "**", soon, "t"}));
  now += std::chrono::minutes(6);
  EXPECT_FALSE(policy.check(kCart, Action::kSend, "a/b/0").allowed);
}

TEST_F(PolicyTest, CheckAnyForListings) {
  declare_and_grant({{Action::kStorageRead, "public/**", {}}},
                    {{Action::kStorageRead, "public/**", {}}});
  EXPECT_TRUE(policy.check_any(kCart, Action::kStorageRead).allowed);
  EXPECT_FALSE(policy.check_any(kCart, Action::kStorageWrite).allowed);
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "**", Action::kStorageRead, "public/x", {}, ""}));
  EXPECT_TRUE(policy.check_any(kCart, Action::kStorageRead).allowed);
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "**", Action::kStorageRead, "**", {}, ""}));
  EXPECT_FALSE(policy.check_any(kCart, Action::kStorageRead).allowed);
}

TEST_F(PolicyTest, BadPatternsAreRejectedWhole) {
  ComponentPermissions p;
  p.declared = {{Action::kSend, "a//b", {}}};
  EXPECT_FALSE(policy.set_component("shop", "cart", p));
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "**", {}, "x", {}, "keep"}));
  EXPECT_FALSE(policy.set_rules(
      {{Effect::kDeny, "**", {}, "ok", {}, ""}, {Effect::kDeny, "", {}, "**", {}, "bad"}}));
  ASSERT_EQ(policy.rules().size(), 1U);
  EXPECT_EQ(policy.rules()[0].name, "keep");
}

TEST_F(PolicyTest, ForeignCallersAnswerOnlyToRules) {
  const ComponentId remote{"peer", "app", "0"};
  EXPECT_TRUE(policy.check_rules(remote, Action::kSend, "shop/cart/0").allowed);
  ASSERT_TRUE(policy.add_rule({Effect::kDeny, "peer/**", Action::kSend, "shop/**", {}, "x"}));
  EXPECT_FALSE(policy.check_rules(remote, Action::kSend, "shop/cart/0").allowed);
  EXPECT_TRUE(policy.check_rules(remote, Action::kPublish, "news").allowed);
}

TEST_F(PolicyTest, RulesChangeWhileChecksRun) {
  declare_and_grant({{Action::kSend, "**", {}}}, {{Action::kSend, "**", {}}});
  std::atomic<bool> stop{false};
  std::atomic<int> decisions{0};
  std::thread checker([&] {
    while (!stop.load()) {
      static_cast<void>(policy.check(kCart, Action::kSend, "pay/gw/0"));
      decisions.fetch_add(1);
    }
  });
  while (decisions.load() == 0) std::this_thread::yield();  // checks are running
  for (int i = 0; i < 200; ++i) {
    EXPECT_TRUE(policy.set_rules({{Effect::kDeny, "**", Action::kSend, "pay/**", {}, "r"}}));
    EXPECT_TRUE(policy.set_rules({}));
  }
  stop.store(true);
  checker.join();
  EXPECT_TRUE(policy.check(kCart, Action::kSend, "pay/gw/0").allowed);
}

TEST_F(PolicyTest, QuotaPerComponent) {
  ComponentPermissions p;
  p.storage_quota = {.max_bytes = 100, .max_keys = 3};
  ASSERT_TRUE(policy.set_component("shop", "cart", p));
  EXPECT_EQ(policy.storage_quota("shop", "cart").max_keys, 3U);
  EXPECT_EQ(policy.storage_quota("shop", "other").max_keys, StorageQuota{}.max_keys);
}

TEST(Action, NamesRoundTrip) {
  for (std::size_t i = 0; i < kActionCount; ++i) {
    const auto a = static_cast<Action>(i);
    auto parsed = parse_action(to_string(a));
    ASSERT_TRUE(parsed) << to_string(a);
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_FALSE(parse_action("messaging.*"));
  EXPECT_FALSE(parse_action(""));
}

}  // namespace
}  // namespace capsule::security

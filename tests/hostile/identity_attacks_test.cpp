// Identity: a component is checked against its own grants in every window of its life, also
// while it is not registered (its first init, its shutdown), and no component may wear the
// host's id.
#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using security::Action;
using IdentityAttack = HostileFixture;

std::size_t denials_noting(const security::MemoryAuditSink& audit, std::string_view target) {
  std::size_t n = 0;
  for (const auto& r : audit.records()) {
    if (!r.allowed && r.target.find(target) != std::string::npos) ++n;
  }
  return n;
}

TEST_F(IdentityAttack, CallsFromTheFirstInitAreChecked) {
  const ComponentId id = hostile("init-calls");
  const std::string r = report(id);
  // send, request, publish, subscribe, list-components, storage.set: all refused.
  EXPECT_EQ(number(r, "ok"), 0) << r;
  EXPECT_EQ(number(r, "refused"), 6) << r;
  EXPECT_EQ(number(r, "tag"), kPermissionDenied) << r;
  EXPECT_GE(denials_noting(*audit, "test/canary/0"), 2U);
  auto keys = store->list_keys("test/hostile", "");
  ASSERT_TRUE(keys);
  EXPECT_TRUE(keys->empty()) << "init wrote to storage without a grant";
  expect_nothing_else_changed();
}

TEST_F(IdentityAttack, CallsFromShutdownAreChecked) {
  const ComponentId id = hostile("shutdown-calls");
  ASSERT_EQ(report(id), "idle");
  stop_and_wait("hostile");
  EXPECT_GE(denials_noting(*audit, "test/canary/0"), 2U) << "shutdown's send/request denied";
  EXPECT_GE(denials_noting(*audit, "from-shutdown"), 1U) << "shutdown's storage.set denied";
  auto keys = store->list_keys("test/hostile", "");
  ASSERT_TRUE(keys);
  EXPECT_TRUE(keys->empty()) << "shutdown wrote to storage without a grant";
  expect_nothing_else_changed();
}

TEST_F(IdentityAttack, LoopingShutdownIsCutAtTheWallTime) {
  const ComponentId id = hostile("shutdown-loop", {}, {.wall_time_per_call = 200ms});
  ASSERT_EQ(report(id), "idle");
  const auto start = std::chrono::steady_clock::now();
  stop_and_wait("hostile");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  expect_nothing_else_changed();
}

TEST_F(IdentityAttack, DenyRulesOnTimeReachWasiClocks) {
  const ComponentId id = hostile("wasi-clock");
  const std::string allowed = report(id);
  EXPECT_GT(number(allowed, "wall"), 1'700'000'000) << allowed;
  EXPECT_GT(number(allowed, "mono"), 0) << allowed;
  ASSERT_TRUE(policy->add_rule(
      {security::Effect::kDeny, "test/hostile/*", Action::kTime, "**", std::nullopt, "no-clocks"}));
  const std::string denied = report(id);
  EXPECT_EQ(number(denied, "wall"), 0) << "libc's clock_gettime goes through WASI: " << denied;
  EXPECT_EQ(number(denied, "mono"), 0) << denied;
  bool audited = false;
  for (const auto& r : audit->records())
    audited = audited || r.reason.find("no-clocks") != std::string::npos;
  EXPECT_TRUE(audited);
  expect_nothing_else_changed();
}

TEST_F(IdentityAttack, DenyRulesOnRandomReachWasiRandom) {
  const ComponentId id = hostile("wasi-random");
  EXPECT_EQ(report(id), "random=ok") << "random is a default capability";
  ASSERT_TRUE(policy->add_rule({security::Effect::kDeny, "test/hostile/*", Action::kRandom, "**",
                                std::nullopt, "no-random"}));
  auto denied = attack(id);
  ASSERT_FALSE(denied) << "libc's getentropy read WASI random past a deny rule: "
                       << denied->as_string();
  EXPECT_NE(denied.error().message.find("services.random"), std::string::npos)
      << denied.error().describe();
  bool audited = false;
  for (const auto& r : audit->records()) {
    audited = audited || r.reason.find("no-random") != std::string::npos;
  }
  EXPECT_TRUE(audited);
  expect_nothing_else_changed();
}

TEST_F(IdentityAttack, NoComponentMayWearTheHostsId) {
  component::ComponentSpec s;
  s.ns = "host";
  s.name = "host";
  s.component = *engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "hostile.wasm");
  s.config = {{"attack", "init-calls"}};
  auto ids = runtime->start(s);
  ASSERT_FALSE(ids);
  EXPECT_EQ(ids.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(ids.error().message.find("reserved"), std::string::npos) << ids.error().describe();
  expect_nothing_else_changed();
}

}  // namespace
}  // namespace capsule::hostile

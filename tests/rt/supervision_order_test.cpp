// OTP ordering: a supervisor stops its children in reverse start order and waits for each (its
// shutdown timeout, then a kill) before the next; old children are gone before new ones start.
#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "supervision_util.hpp"
#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::down_of;
using testing::down_order;
using testing::eventually;
using testing::no_backoff;
using testing::SupervisionHarness;

// Polls the supervisor until child `id` is waiting for its restart (or was restarted already):
// the supervisor has taken its restart decision.
bool decided(const SupervisorRef& sup, const std::string& id) {
  return eventually([&] {
    auto children = sup.children();
    if (!children) return false;
    for (const auto& c : *children) {
      if (c.id == id && (c.state == ChildState::kRestarting || c.restarts >= 1)) return true;
    }
    return false;
  });
}

TEST(SupervisionOrder, StopGoesInReverseStartOrderAndWaitsForEachChild) {
  SupervisionHarness h;
  auto sup =
      SupervisorNode::start(h.system, no_backoff(),
                            {h.worker("a"), h.worker("b"),
                             h.worker("c").with_shutdown(ShutdownPolicy::graceful(60000ms))});
  ASSERT_TRUE(sup);
  auto a = h.lookup("a");
  auto b = h.lookup("b");
  auto c = h.lookup("c");
  auto seen = h.watch({a.address(), b.address(), c.address(), sup->address()});
  ASSERT_TRUE(seen);
  c.tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  for (int i = 0; i < 3; ++i) c.tell("work");

  h.system.stop(sup->address(), StopMode::kGraceful, 60000ms);
  // The supervisor frees a child's name as it sends the stop: c drains while a and b wait.
  ASSERT_TRUE(eventually([&] { return !h.system.registry().lookup("c"); }));
  h.gate.open();

  ASSERT_TRUE(eventually([&] { return down_of(*seen, sup->ref().id()).has_value(); }));
  const std::vector<ActorId> expected{c.id(), b.id(), a.id(), sup->ref().id()};
  EXPECT_EQ(down_order(*seen), expected);
  EXPECT_EQ(h.log->count("handled:c:work"), 3) << "c drained its mailbox";
  for (const auto& child : {a, b, c}) {
    EXPECT_EQ(down_of(*seen, child.id())->reason, ExitReason::kShutdown) << child.id();
  }
  EXPECT_EQ(down_of(*seen, sup->ref().id())->reason, ExitReason::kNormal);
}

TEST(SupervisionOrder, AChildPastItsShutdownTimeoutIsKilledBeforeTheNextStops) {
  SupervisionHarness h;
  auto sup = SupervisorNode::start(
      h.system, no_backoff(),
      {h.worker("a"), h.worker("b").with_shutdown(ShutdownPolicy::graceful(100ms))});
  ASSERT_TRUE(sup);
  auto a = h.lookup("a");
  auto b = h.lookup("b");
  auto seen = h.watch({a.address(), b.address(), sup->address()});
  ASSERT_TRUE(seen);
  b.tell("park");  // its work never finishes: a graceful stop can only end in the kill
  ASSERT_TRUE(eventually([&] { return h.log->count("parked:b") == 1; }));

  h.system.stop(sup->address(), StopMode::kGraceful, 60000ms);

  ASSERT_TRUE(eventually([&] { return down_of(*seen, sup->ref().id()).has_value(); }));
  const std::vector<ActorId> expected{b.id(), a.id(), sup->ref().id()};
  EXPECT_EQ(down_order(*seen), expected);
  EXPECT_EQ(down_of(*seen, b.id())->reason, ExitReason::kKilled);
  EXPECT_EQ(down_of(*seen, a.id())->reason, ExitReason::kShutdown);
}

TEST(SupervisionOrder, SystemShutdownGoesThroughTheSupervisionTree) {
  SupervisionHarness h;
  auto sup =
      SupervisorNode::start(h.system, no_backoff(),
                            {h.worker("a"), h.worker("b"),
                             h.worker("c").with_shutdown(ShutdownPolicy::graceful(60000ms))});
  ASSERT_TRUE(sup);
  auto c = h.lookup("c");
  c.tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  c.tell("work");

  ShutdownReport report;
  std::thread closer([&] { report = h.system.shutdown(30000ms); });
  ASSERT_TRUE(eventually([&] { return !h.system.registry().lookup("c"); }));
  h.gate.open();
  closer.join();

  EXPECT_FALSE(report.timed_out);
  EXPECT_EQ(report.actors_killed, 0U);
  EXPECT_EQ(h.log->count("handled:c:work"), 1);
  const auto c_stop = h.log->position("stop:c");
  const auto b_stop = h.log->position("stop:b");
  const auto a_stop = h.log->position("stop:a");
  ASSERT_GE(c_stop, 0);
  EXPECT_LT(c_stop, b_stop) << "b stopped while c was still draining";
  EXPECT_LT(b_stop, a_stop);
}

class RestartWaits : public ::testing::TestWithParam<RestartStrategy> {};

TEST_P(RestartWaits, TheOldChildrenAreGoneBeforeNewOnesStart) {
  const auto strategy = GetParam();
  SupervisionHarness h;
  auto sup = SupervisorNode::start(h.system, no_backoff(strategy),
                                   {h.worker("a"), h.worker("b"), h.worker("c")});
  ASSERT_TRUE(sup);
  auto c = h.lookup("c");
  c.tell("hold");  // c's old incarnation is busy when the restart is decided
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  h.lookup("b").tell("fail");
  ASSERT_TRUE(decided(*sup, "b"));
  h.gate.open();

  const std::vector<std::string> restarted = strategy == RestartStrategy::kOneForAll
                                                 ? std::vector<std::string>{"a", "b", "c"}
                                                 : std::vector<std::string>{"b", "c"};
  ASSERT_TRUE(eventually([&] {
    for (const auto& id : restarted) {
      if (h.log->count("start:" + id) != 2) return false;
    }
    return true;
  }));
  std::ptrdiff_t last_stop = -1;
  std::ptrdiff_t first_start = h.log->position("start:" + restarted[0], 2);
  for (const auto& id : restarted) {
    last_stop = std::max(last_stop, h.log->position("stop:" + id));
    first_start = std::min(first_start, h.log->position("start:" + id, 2));
  }
  EXPECT_LT(last_stop, first_start) << "a new incarnation started before an old one stopped";
  if (strategy == RestartStrategy::kOneForAll) {
    EXPECT_LT(h.log->position("stop:c"), h.log->position("stop:a")) << "reverse start order";
  } else {
    EXPECT_EQ(h.log->count("start:a"), 1);
  }
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), restarted.size());
}

std::string strategy_name(const ::testing::TestParamInfo<RestartStrategy>& param) {
  return param.param == RestartStrategy::kOneForAll ? "OneForAll" : "RestForOne";
}

INSTANTIATE_TEST_SUITE_P(Strategies, RestartWaits,
                         ::testing::Values(RestartStrategy::kOneForAll,
                                           RestartStrategy::kRestForOne),
                         strategy_name);

// A nested supervisor restarted as a sibling first stops its own children, waiting for them.
TEST(SupervisionOrder, ANestedSupervisorsSubtreeIsGoneBeforeItRestarts) {
  SupervisionHarness h;
  auto outer =
      SupervisorNode::start(h.system, no_backoff(RestartStrategy::kOneForAll),
                            {ChildSpec::supervisor("inner", no_backoff(), {h.worker("leaf")},
                                                   SpawnOptions::named("inner")),
                             h.worker("x")});
  ASSERT_TRUE(outer);
  auto old_leaf = h.lookup("leaf");
  old_leaf.tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  h.lookup("x").tell("fail");
  ASSERT_TRUE(decided(*outer, "x"));
  h.gate.open();

  ASSERT_TRUE(
      eventually([&] { return h.log->count("start:leaf") == 2 && h.log->count("start:x") == 2; }));
  const auto leaf_stop = h.log->position("stop:leaf");
  ASSERT_GE(leaf_stop, 0);
  EXPECT_LT(leaf_stop, h.log->position("start:leaf", 2)) << "new leaf started beside the old one";
  EXPECT_LT(leaf_stop, h.log->position("start:x", 2)) << "x restarted before the subtree was gone";
  EXPECT_FALSE(old_leaf.alive());
}

}  // namespace
}  // namespace capsule::rt

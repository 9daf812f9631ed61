// Restart decisions: a stopping supervisor restarts nothing, an exit already covered by a restart
// decision is not counted twice, and a supervisor that gives up fails loudly, naming the child,
// the intensity and the last failure.
#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "supervision_util.hpp"
#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::down_of;
using testing::eventually;
using testing::no_backoff;
using testing::SupervisionHarness;

TEST(SupervisionIntensity, AStoppingSupervisorDoesNotRestartChildren) {
  SupervisionHarness h;
  auto sup = SupervisorNode::start(h.system, no_backoff(), {h.worker("a"), h.worker("b")});
  ASSERT_TRUE(sup);
  auto a = h.lookup("a");
  auto seen = h.watch({sup->address()});
  ASSERT_TRUE(seen);
  // Keep the supervisor busy so that its stop and a's failure report are queued together,
  // the stop first.
  ASSERT_TRUE(sup->list_children([&](const std::vector<ChildInfo>&) { h.gate.wait(); }));
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  h.system.stop(sup->address(), StopMode::kGraceful, 60000ms);
  a.tell("fail");
  ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kActorFailed, 1, 10000ms));
  h.gate.open();

  ASSERT_TRUE(eventually([&] { return down_of(*seen, sup->ref().id()).has_value(); }));
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 0U);
  EXPECT_EQ(h.log->count("start:a"), 1);
  EXPECT_FALSE(a.alive());
}

TEST(SupervisionIntensity, AnExitAfterTheRestartDecisionIsNotCountedTwice) {
  SupervisionHarness h;
  SupervisorConfig config = no_backoff(RestartStrategy::kOneForAll);
  config.max_restarts = 1;
  auto sup = SupervisorNode::start(h.system, config, {h.worker("a"), h.worker("b"), h.worker("c")});
  ASSERT_TRUE(sup);
  auto c = h.lookup("c");
  c.tell("hold-fail");  // c fails too, but only after the restart of all three was decided
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  h.lookup("b").tell("fail");
  ASSERT_TRUE(eventually([&] {
    auto children = sup->children();
    return children && children->size() == 3 &&
           ((*children)[1].state == ChildState::kRestarting || (*children)[1].restarts >= 1);
  }));
  h.gate.open();

  ASSERT_TRUE(eventually([&] {
    return h.log->count("start:a") == 2 && h.log->count("start:b") == 2 &&
           h.log->count("start:c") == 2;
  }));
  c.tell("work");
  ASSERT_TRUE(eventually([&] { return h.log->count("handled:c:work") == 1; }));
  // c's failure report was queued before its new incarnation ran: the supervisor has seen it.
  auto children = sup->children();
  ASSERT_TRUE(children) << "the supervisor gave up: c's exit was counted as a second restart";
  EXPECT_EQ(children->size(), 3U);
  EXPECT_EQ(h.recorder->count(EventKind::kRestartLimitExceeded), 0U);
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 3U);
  EXPECT_TRUE(sup->ref().alive());
}

TEST(SupervisionIntensity, ARootSupervisorThatGivesUpExitsAbnormallyAndSaysWhy) {
  SupervisionHarness h;
  SupervisorConfig config = no_backoff();
  config.max_restarts = 3;
  auto sup = SupervisorNode::start(h.system, config, {h.worker("w")});
  ASSERT_TRUE(sup);
  auto w = h.lookup("w");
  auto seen = h.watch({sup->address(), w.address()});
  ASSERT_TRUE(seen);
  for (int i = 0; i < 4; ++i) w.tell("fail");

  ASSERT_TRUE(eventually([&] { return down_of(*seen, sup->ref().id()).has_value(); }));
  const auto down = *down_of(*seen, sup->ref().id());
  EXPECT_EQ(down.reason, ExitReason::kFailed) << "giving up is not a normal exit";
  ASSERT_TRUE(down.error);
  const std::string& why = down.error->message;
  EXPECT_NE(why.find("'w'"), std::string::npos) << why;
  EXPECT_NE(why.find("3 restarts in 60000 ms"), std::string::npos) << why;
  EXPECT_NE(why.find("failed: internal error: fail"), std::string::npos) << why;
  // The child was stopped before the supervisor went down.
  EXPECT_TRUE(down_of(*seen, w.id()).has_value());
  EXPECT_EQ(h.log->count("start:w"), 4);

  // The system's observer hears it once, with the same reason, and sees the abnormal exit.
  ASSERT_TRUE(h.recorder->wait_for_count(EventKind::kActorStopped, 1, 10000ms));
  const auto events = h.recorder->events();
  const auto gave_up = std::count_if(events.begin(), events.end(), [](const auto& e) {
    return e.kind == EventKind::kRestartLimitExceeded;
  });
  EXPECT_EQ(gave_up, 1);
  for (const auto& e : events) {
    if (e.kind == EventKind::kRestartLimitExceeded) {
      EXPECT_EQ(e.supervisor, sup->ref().id());
      EXPECT_EQ(e.actor, w.id());
      ASSERT_TRUE(e.error);
      EXPECT_EQ(e.error->message, why);
    }
  }
  ASSERT_TRUE(h.recorder->wait_for(
      [&](const std::vector<MonitoringEvent>& all) {
        return std::any_of(all.begin(), all.end(), [&](const auto& e) {
          return e.kind == EventKind::kActorStopped && e.actor == sup->ref().id() && e.error &&
                 e.detail == "failed";
        });
      },
      10000ms));
}

}  // namespace
}  // namespace capsule::rt

// A graceful stop drains the mailbox. Whatever happens while it drains (a failing handler, the
// actor asking to stop itself, a kill at the deadline), the actor ends: it sends its Down,
// leaves the system's live count and never becomes a zombie.
#include <chrono>
#include <gtest/gtest.h>
#include <string>
#include <thread>

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
using testing::Worker;

TEST(StopWhileDraining, AFailureEndsASupervisedChildWithADownCarryingIt) {
  SupervisionHarness h;
  auto sup = SupervisorNode::start(
      h.system, no_backoff(), {h.worker("w").with_shutdown(ShutdownPolicy::graceful(60000ms))});
  ASSERT_TRUE(sup);
  auto w = h.lookup("w");
  auto seen = h.watch({w.address()});
  ASSERT_TRUE(seen);
  w.tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  w.tell("fail");
  w.tell("work");
  ASSERT_TRUE(sup->terminate_child("w"));
  // Answered after the TerminateChild command: the stop is in w's queue, ahead of "fail".
  ASSERT_TRUE(sup->children());
  h.gate.open();

  ASSERT_TRUE(eventually([&] { return down_of(*seen, w.id()).has_value(); }))
      << "no Down: the child failed while draining and never terminated";
  const auto down = *down_of(*seen, w.id());
  EXPECT_EQ(down.reason, ExitReason::kFailed);
  ASSERT_TRUE(down.error);
  EXPECT_EQ(down.error->message, "fail");
  EXPECT_FALSE(w.alive());
  EXPECT_EQ(h.log->count("handled:w:work"), 0) << "the stop ended at the failure";
  EXPECT_TRUE(eventually([&] { return h.system.actor_count() == 2; }))  // supervisor, watcher
      << h.system.actor_count();
}

TEST(StopWhileDraining, AFailureEndsAnUnsupervisedActorBeforeItsKill) {
  SupervisionHarness h;
  auto x = h.system.spawn<Worker>({}, std::string("x"), h.log, &h.gate);
  ASSERT_TRUE(x);
  auto seen = h.watch({x->address()});
  ASSERT_TRUE(seen);
  x->tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  x->tell("fail");
  x->tell("work");
  // The kill after 100 ms is the backstop; the failure must end the actor on its own.
  h.system.stop(x->address(), StopMode::kGraceful, 100ms);
  h.gate.open();

  ASSERT_TRUE(eventually([&] { return down_of(*seen, x->id()).has_value(); }))
      << "no Down: restarted in place while stopping, and the kill was ignored";
  const auto down = *down_of(*seen, x->id());
  EXPECT_EQ(down.reason, ExitReason::kFailed);
  ASSERT_TRUE(down.error);
  EXPECT_EQ(down.error->message, "fail");
  EXPECT_EQ(h.log->count("start:x"), 1) << "not restarted while stopping";
  EXPECT_TRUE(eventually([&] { return h.system.actor_count() == 1; }))  // the watcher
      << h.system.actor_count();
}

TEST(StopWhileDraining, ASelfStopWhileDrainingLetsTheStopFinish) {
  SupervisionHarness h;
  auto sup = SupervisorNode::start(h.system, no_backoff(),
                                   {h.worker("w").with_shutdown(ShutdownPolicy::graceful(100ms))});
  ASSERT_TRUE(sup);
  auto w = h.lookup("w");
  auto seen = h.watch({w.address()});
  ASSERT_TRUE(seen);
  w.tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  w.tell("exit");
  w.tell("work");
  ASSERT_TRUE(sup->terminate_child("w"));
  ASSERT_TRUE(sup->children());
  h.gate.open();

  ASSERT_TRUE(eventually([&] { return down_of(*seen, w.id()).has_value(); }))
      << "no Down: the self-stop suspended the child, and the kill was ignored";
  EXPECT_EQ(down_of(*seen, w.id())->reason, ExitReason::kShutdown);
  EXPECT_EQ(h.log->count("handled:w:work"), 1) << "the stop drains what was queued";
  EXPECT_EQ(h.recorder->count(EventKind::kChildRestarted), 0U);
}

// A kill is the last word whatever the actor is doing; here it waits (suspended) for a restart
// after a long backoff. White box: the test posts the runtime's own kill message.
TEST(StopWhileDraining, AKillEndsAnActorInAnyPhase) {
  SupervisionHarness h;
  SupervisorConfig config = no_backoff();
  config.backoff = BackoffPolicy{60000ms, 60000ms, 1.0, 0.0};
  auto sup = SupervisorNode::start(h.system, config, {h.worker("w")});
  ASSERT_TRUE(sup);
  auto w = h.lookup("w");
  auto seen = h.watch({w.address()});
  ASSERT_TRUE(seen);
  w.tell("fail");
  ASSERT_TRUE(eventually([&] {
    auto children = sup->children();
    return children && children->size() == 1 && (*children)[0].state == ChildState::kRestarting;
  }));
  ASSERT_TRUE(w.address().cell()->post(detail::SystemMessage{detail::SystemMessage::Kind::kKill}));

  ASSERT_TRUE(eventually([&] { return down_of(*seen, w.id()).has_value(); }))
      << "the kill was ignored by a suspended actor";
  EXPECT_EQ(down_of(*seen, w.id())->reason, ExitReason::kKilled);
  EXPECT_TRUE(eventually([&] { return h.system.actor_count() == 2; })) << h.system.actor_count();
}

// The system's shutdown is not held up to its deadline by an actor that failed while draining.
TEST(StopWhileDraining, ShutdownIsNotHeldUpByAFailureWhileDraining) {
  SupervisionHarness h;
  auto x = h.system.spawn<Worker>({}, std::string("x"), h.log, &h.gate);
  ASSERT_TRUE(x);
  x->tell("hold");
  ASSERT_TRUE(eventually([&] { return h.gate.entered(); }));
  x->tell("fail");
  x->tell("work");
  // Queued ahead of "fail"; its own kill comes long after the shutdown's deadline.
  h.system.stop(x->address(), StopMode::kGraceful, 600000ms);
  ShutdownReport report;
  std::thread closer([&] { report = h.system.shutdown(20000ms); });
  h.gate.open();
  closer.join();
  EXPECT_FALSE(report.timed_out);
  EXPECT_EQ(report.actors_killed, 0U);
}

}  // namespace
}  // namespace capsule::rt

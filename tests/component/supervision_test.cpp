// Failures inside real components: reported to the sender, handled by rt supervisors.
#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

TEST_F(RuntimeFixture, TrapIsReportedToTheRequesterAndRestartReRunsInit) {
  auto counter = spec("counter", "counter");
  counter.config = {{"start", "100"}};
  auto ids = start(std::move(counter));
  auto first = ask(ids[0], "inc");
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->as_string(), "101");
  auto second = ask(ids[0], "inc");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->as_string(), "102");

  auto crash = ask(ids[0], "crash");
  ASSERT_FALSE(crash);
  EXPECT_EQ(crash.error().code, ErrorCode::kTrap);
  EXPECT_NE(crash.error().message.find("test/counter/0"), std::string::npos);

  // Same address, fresh instance, init ran again with start=100.
  auto after = ask(ids[0], "inc");
  ASSERT_TRUE(after) << after.error().describe();
  EXPECT_EQ(after->as_string(), "101");
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), 1u);
  EXPECT_EQ(runtime->correlation_stats().failed, 1u);
}

TEST_F(RuntimeFixture, OtherInstancesAndComponentsAreUnaffectedByAFailure) {
  auto counters = start(spec("counter", "counter", 2));
  auto echo = start(spec("echo", "echo"));
  ASSERT_TRUE(ask(counters[1], "add:5"));
  ASSERT_FALSE(ask(counters[0], "crash"));
  auto sibling = ask(counters[1], "get");
  ASSERT_TRUE(sibling);
  EXPECT_EQ(sibling->as_string(), "5") << "OneForOne: the sibling kept its state";
  auto other = ask(echo[0], "fine");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->as_string(), "fine");
}

TEST_F(RuntimeFixture, RestartStormHitsTheIntensityLimitAndEscalates) {
  auto trap = spec("trap", "trap");
  trap.supervision.max_restarts = 3;
  trap.supervision.window = std::chrono::seconds(30);
  auto ids = start(std::move(trap));
  for (int i = 0; i < 4; ++i) {
    auto r = ask(ids[0], "boom", std::chrono::seconds(5));
    ASSERT_FALSE(r);
    // Each message is answered: a trap while the supervisor is still restarting, then (after
    // it gave up) unavailable because nobody is left to run it.
    EXPECT_TRUE(r.error().code == ErrorCode::kTrap || r.error().code == ErrorCode::kUnavailable ||
                r.error().code == ErrorCode::kTimeout)
        << r.error().describe();
  }
  ASSERT_TRUE(
      recorder->wait_for_count(rt::EventKind::kRestartLimitExceeded, 1, std::chrono::seconds(10)));
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), 3u);
  // The group is down; the host keeps serving everything else.
  auto listed = runtime->list();
  ASSERT_EQ(listed.size(), 1u);
  for (int i = 0; i < 200 && listed[0].alive; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    listed = runtime->list();
  }
  EXPECT_FALSE(listed[0].alive);
  auto echo = start(spec("echo", "echo"));
  EXPECT_TRUE(ask(echo[0], "still serving"));
}

TEST_F(RuntimeFixture, GuestErrorIsAnErrorReplyNotACrash) {
  auto ids = start(spec("counter", "counter"));
  auto bad = ask(ids[0], "add:notanumber");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(ask(ids[0], "get"));
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), 0u);
}

TEST_F(RuntimeFixture, FailedInitFailsTheStartWithTheGuestsReason) {
  auto bad = spec("relay", "relay");  // forward mode without a destination
  auto r = runtime->start(std::move(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("relay needs next="), std::string::npos) << r.error().describe();
  EXPECT_TRUE(runtime->list().empty());
}

TEST_F(RuntimeFixture, StopRemovesTheComponent) {
  auto ids = start(spec("echo", "echo", 2));
  EXPECT_FALSE(runtime->start(spec("echo", "echo"))) << "names are unique per runtime";
  ASSERT_TRUE(runtime->stop("test", "echo"));
  EXPECT_TRUE(runtime->list().empty());
  auto r = ask(ids[0], "gone?");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(runtime->stop("test", "echo"));
}

}  // namespace
}  // namespace capsule::component

// A group whose supervisor gives up: its GroupEscalation decides (the runtime is its parent).
// Real components (counter.cpp).
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

class Escalation : public RuntimeFixture {
 protected:
  static bool eventually(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  std::string get(const ComponentId& id) {
    auto r = ask(id, "get", 2s);
    return r ? r->as_string() : r.error().describe();
  }
  bool alive(const ComponentId& id) {
    for (const auto& i : runtime->list()) {
      if (i.id == id) return i.alive;
    }
    return false;
  }
  // Two failures in a row: with max_restarts = 1 the second one makes the supervisor give up.
  void fail_twice(const ComponentId& id) {
    ASSERT_FALSE(ask(id, "crash"));
    ASSERT_FALSE(ask(id, "crash"));
  }
};

TEST_F(Escalation, AGroupThatGaveUpIsRestartedWholeByItsParent) {
  SupervisionGroupSpec group{"pair", {}, {spec("first", "counter"), spec("second", "counter")}, {}};
  group.supervision.max_restarts = 1;
  group.supervision.window = 60s;
  group.supervision.backoff = rt::BackoffPolicy::none();
  group.escalation.action = GroupEscalation::Action::kRestartGroup;
  group.escalation.max_restarts = 2;
  auto ids = runtime->start_group(group);
  ASSERT_TRUE(ids) << ids.error().describe();
  const auto first = (*ids)[0];
  const auto second = (*ids)[1];
  ASSERT_TRUE(ask(second, "add:5"));
  fail_twice(first);  // one-for-one: only `first` restarts, then the supervisor gives up
  ASSERT_TRUE(recorder->wait_for_count(rt::EventKind::kRestartLimitExceeded, 1, 20s));
  EXPECT_TRUE(eventually([&] { return get(second) == "0"; }))
      << "the whole group started afresh, `second` too (state 5 before): " << get(second);
  EXPECT_EQ(get(first), "0");
  // The restarted group's members answer as soon as each is registered; the group itself is
  // recorded once all of them have started.
  EXPECT_TRUE(eventually([&] { return runtime->group_of("test", "first") == "pair"; }));
  ASSERT_TRUE(ask(second, "add:1"));
  EXPECT_EQ(get(second), "1") << "the restarted group serves";
}

TEST_F(Escalation, PastItsOwnIntensityTheGroupStaysDown) {
  auto flaky = spec("flaky", "counter");
  flaky.supervision.max_restarts = 1;
  flaky.supervision.window = 60s;
  flaky.escalation.action = GroupEscalation::Action::kRestartGroup;
  flaky.escalation.max_restarts = 1;
  const auto id = start(std::move(flaky))[0];
  fail_twice(id);
  ASSERT_TRUE(recorder->wait_for_count(rt::EventKind::kRestartLimitExceeded, 1, 20s));
  ASSERT_TRUE(eventually([&] { return get(id) == "0"; })) << "restarted once by its parent";
  fail_twice(id);
  ASSERT_TRUE(recorder->wait_for_count(rt::EventKind::kRestartLimitExceeded, 2, 20s));
  EXPECT_TRUE(eventually([&] { return !alive(id); })) << "a second give-up in the window: down";
  std::this_thread::sleep_for(100ms);  // a restart would have begun by now; none may
  EXPECT_FALSE(alive(id));
  EXPECT_FALSE(ask(id, "get", 1s));
}

TEST_F(Escalation, TheDefaultLeavesAGroupThatGaveUpDown) {
  auto flaky = spec("flaky", "counter");
  flaky.supervision.max_restarts = 1;
  flaky.supervision.window = 60s;
  const auto id = start(std::move(flaky))[0];
  fail_twice(id);
  ASSERT_TRUE(recorder->wait_for_count(rt::EventKind::kRestartLimitExceeded, 1, 20s));
  EXPECT_TRUE(eventually([&] { return !alive(id); }));
  EXPECT_FALSE(ask(id, "get", 1s));
}

}  // namespace
}  // namespace capsule::component

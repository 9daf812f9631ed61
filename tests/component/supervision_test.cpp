// Failures inside real components: reported to the sender, handled by rt supervisors.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
  // A later message is refused naming the component, not an internal actor number.
  Status late = runtime->send(ComponentRuntime::privileged_caller(), ids[0], Payload::text("late"));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(late.error().message.find("component test/trap/0 is not running"), std::string::npos)
      << late.error().message;
  EXPECT_EQ(late.error().message.find("actor "), std::string::npos) << late.error().message;
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
  auto r = runtime->start(bad);
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

// A component's state as seen through requests, polled until it equals `want` (a restart
// triggered by another child's failure happens on the supervisor's thread, a moment later).
bool eventually(const std::function<std::string()>& probe, const std::string& want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe() == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class GroupTest : public RuntimeFixture {
 protected:
  std::vector<ComponentId> start_group(rt::RestartStrategy strategy) {
    SupervisionGroupSpec group{"pair", {}, {spec("first", "counter"), spec("second", "counter")}};
    group.supervision.strategy = strategy;
    group.supervision.backoff = rt::BackoffPolicy::none();
    auto ids = runtime->start_group(group);
    EXPECT_TRUE(ids) << ids.error().describe();
    return ids ? *ids : std::vector<ComponentId>{};
  }
  std::string get(const ComponentId& id) {
    auto r = ask(id, "get");
    return r ? r->as_string() : r.error().describe();
  }
};

TEST_F(GroupTest, OneForAllRestartsEveryMemberWhenOneFails) {
  const auto ids = start_group(rt::RestartStrategy::kOneForAll);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(runtime->group_of("test", "first"), "pair");
  EXPECT_EQ(runtime->group_of("test", "second"), "pair");
  ASSERT_TRUE(ask(ids[0], "add:3"));
  ASSERT_TRUE(ask(ids[1], "add:5"));
  ASSERT_FALSE(ask(ids[0], "crash"));
  EXPECT_TRUE(eventually([&] { return get(ids[1]); }, "0"))
      << "the other component was restarted with the one that failed";
  EXPECT_EQ(get(ids[0]), "0");
}

TEST_F(GroupTest, RestForOneRestartsOnlyTheMembersAfterTheFailedOne) {
  const auto ids = start_group(rt::RestartStrategy::kRestForOne);
  ASSERT_TRUE(ask(ids[0], "add:3"));
  ASSERT_TRUE(ask(ids[1], "add:5"));
  ASSERT_FALSE(ask(ids[1], "crash"));
  EXPECT_TRUE(eventually([&] { return get(ids[1]); }, "0"));
  EXPECT_EQ(get(ids[0]), "3") << "declared before the failed member: untouched";
  ASSERT_TRUE(ask(ids[1], "add:5"));
  ASSERT_FALSE(ask(ids[0], "crash"));
  EXPECT_TRUE(eventually([&] { return get(ids[1]); }, "0")) << "after the failed member: restarted";
}

TEST_F(GroupTest, StoppingOneMemberLeavesTheOthersAndStartPutsItBack) {
  const auto ids = start_group(rt::RestartStrategy::kOneForAll);
  ASSERT_TRUE(ask(ids[0], "add:3"));
  ASSERT_TRUE(runtime->stop("test", "second"));
  EXPECT_EQ(get(ids[0]), "3") << "stopping a member is not a failure: nothing restarted";
  EXPECT_FALSE(runtime->group_of("test", "second"));
  EXPECT_FALSE(ask(ids[1], "get"));
  auto again = runtime->start(spec("second", "counter"));
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(runtime->group_of("test", "second"), "pair") << "back in its group";
  ASSERT_FALSE(ask(ids[1], "crash"));
  EXPECT_TRUE(eventually([&] { return get(ids[0]); }, "0")) << "and one-for-all holds again";
  ASSERT_TRUE(runtime->stop("test", "first"));
  ASSERT_TRUE(runtime->stop("test", "second"));
  EXPECT_TRUE(runtime->list().empty());
  EXPECT_TRUE(runtime->start_group({"pair", {}, {spec("first", "counter")}}))
      << "the group and its names are free again";
}

TEST_F(GroupTest, AGroupStartsNothingIfAMemberIsAlreadyRunning) {
  start(spec("second", "counter"));
  auto r =
      runtime->start_group({"pair", {}, {spec("first", "counter"), spec("second", "counter")}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(runtime->list().size(), 1u);
}

class LinkTest : public GroupTest {
 protected:
  ComponentId start_counter(const std::string& name, std::vector<std::string> links) {
    auto s = spec(name, "counter");
    s.links = std::move(links);
    auto ids = start(std::move(s));
    return ids.empty() ? ComponentId{} : ids[0];
  }
  std::uint64_t starts(const ComponentId& id) {
    for (const auto& r : runtime->registry().records()) {
      if (r.id == id) return r.counters->starts.load();
    }
    return 0;
  }
};

TEST_F(LinkTest, AFailureRestartsLinkedComponentsBothWaysAndTransitively) {
  const auto a = start_counter("a", {"test/b"});
  const auto b = start_counter("b", {});
  const auto c = start_counter("c", {"test/b"});  // a - b - c
  const auto d = start_counter("d", {});          // not linked
  for (const auto& id : {a, b, c, d}) ASSERT_TRUE(ask(id, "add:4"));
  ASSERT_FALSE(ask(a, "crash"));
  EXPECT_TRUE(eventually([&] { return get(b); }, "0")) << "b is linked to a";
  EXPECT_TRUE(eventually([&] { return get(c); }, "0")) << "c is linked to a through b";
  EXPECT_EQ(get(d), "4");
  // Each linked instance restarted exactly once: a link-induced failure is not passed on again.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(starts(a), 2u);
  EXPECT_EQ(starts(b), 2u);
  EXPECT_EQ(starts(c), 2u);
  EXPECT_EQ(starts(d), 1u);
  ASSERT_TRUE(ask(a, "add:1"));
  ASSERT_FALSE(ask(c, "crash"));
  EXPECT_TRUE(eventually([&] { return get(a); }, "0")) << "the link works the other way round";
}

TEST_F(LinkTest, AGuestErrorIsNotAFailureAndDoesNotTravel) {
  const auto a = start_counter("a", {"test/b"});
  const auto b = start_counter("b", {});
  ASSERT_TRUE(ask(b, "add:2"));
  EXPECT_FALSE(ask(a, "add:x")) << "an error reply, the instance keeps running";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(get(b), "2");
  EXPECT_EQ(starts(b), 1u);
}

}  // namespace
}  // namespace capsule::component

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

// What the host log receives: each line's text.
struct LogLines {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::size_t count_containing(const std::string& text) {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
};

TEST_F(RuntimeFixture, RepeatedWarningsAreWrittenOnceThenCounted) {
  auto log = std::make_shared<LogLines>();
  RuntimeConfig config;
  auto summary_fields = std::make_shared<wasm::KeyValues>();
  config.log_sink = [log, summary_fields](const ComponentId&, wasm::LogLevel,
                                          const std::string& message,
                                          const wasm::KeyValues& fields) {
    std::lock_guard lock(log->mutex);
    log->lines.push_back(message);
    if (message.find("repeated") != std::string::npos) *summary_fields = fields;
  };
  config.log_repeat_window = std::chrono::seconds(1);
  const auto epoch_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto began_ms = epoch_ms();
  reconfigure(config);
  auto ids = start(spec("counter", "counter"));
  // Each send makes the guest return an error: one warning line per message before.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        runtime->send(ComponentRuntime::privileged_caller(), ids[0], Payload::text("add:x")));
  }
  ASSERT_TRUE(ask(ids[0], "get")) << "every message was handled";
  EXPECT_EQ(log->count_containing("failed"), 1u) << "written once while the repeats last";
  // After the window, one summary with the count (the host's 1 s timer reports it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (log->count_containing("repeated 199 more times") == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(log->count_containing("repeated 199 more times"), 1u);
  EXPECT_EQ(log->count_containing("failed"), 2u) << "the line and its summary";
  // The summary is written after the repeats; its fields say when they happened.
  std::lock_guard lock(log->mutex);
  const auto field = [&](const std::string& name) -> long long {
    for (const auto& [key, value] : *summary_fields) {
      if (key == name) return std::stoll(value);
    }
    return -1;
  };
  const long long first = field("repeat_first_ts");
  const long long last = field("repeat_last_ts");
  EXPECT_GE(first, began_ms);
  EXPECT_GE(last, first);
  EXPECT_LE(last, epoch_ms());
}

}  // namespace
}  // namespace capsule::component

// Links between real components (counter.cpp, sleeper.c) on the runtime's link primitive.
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

class ComponentLinks : public RuntimeFixture {
 protected:
  ComponentId start_one(ComponentSpec s) {
    auto ids = start(std::move(s));
    return ids.empty() ? ComponentId{} : ids[0];
  }
  ComponentSpec counter(const std::string& name, std::vector<std::string> links = {}) {
    auto s = spec(name, "counter");
    s.links = std::move(links);
    s.supervision.max_restarts = 100;  // the tests fail instances on purpose, quickly
    return s;
  }
  std::uint64_t starts(const ComponentId& id) {
    for (const auto& r : runtime->registry().records()) {
      if (r.id == id) return r.counters->starts.load();
    }
    return 0;
  }
  std::optional<ComponentInfo> info(const ComponentId& id) {
    for (auto& i : runtime->list()) {
      if (i.id == id) return i;
    }
    return std::nullopt;
  }
  // The generous bound only limits a failing test; a passing one returns when the thing happened.
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  // A failure of `id`'s actor whose error contains `text` was reported.
  bool failed_with(const std::string& text) {
    for (const auto& e : recorder->events()) {
      if (e.kind == rt::EventKind::kActorFailed && e.error &&
          e.error->message.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  Status send(const ComponentId& to, std::string_view text) {
    return runtime->send(ComponentRuntime::privileged_caller(), to, Payload::text(text));
  }
};

// Failing first on main (LinkExit on the control lane waits behind the guest's call in flight).
// The linked instance's mailbox is full (its bound refuses the next message) and its guest is
// inside a long WASI sleep: the exit still reaches it at once, ends the call and fails it.
TEST_F(ComponentLinks, AFailureReachesALinkedInstanceWithAFullMailboxWhileItsGuestWaits) {
  auto sleeper = spec("sleeper", "sleeper");
  sleeper.mailbox = rt::MailboxConfig::bounded(2, rt::BackpressurePolicy::kError);
  sleeper.limits.wall_time_per_call = 300s;
  sleeper.links = {"test/a"};
  const auto b = start_one(std::move(sleeper));
  const auto a = start_one(counter("a"));
  ASSERT_TRUE(send(b, "200000"));  // 200 s in a WASI sleep
  ASSERT_TRUE(eventually([&] {
    auto i = info(b);
    return i && i->mailbox.depth() == 0;  // taken: the guest is sleeping in it
  }));
  ASSERT_TRUE(send(b, "1"));
  ASSERT_TRUE(send(b, "1"));
  auto refused = send(b, "1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kMailboxFull);

  ASSERT_FALSE(ask(a, "crash"));
  EXPECT_TRUE(eventually([&] { return starts(b) == 2; }))
      << "b failed with a (within seconds, not after its 200 s sleep)";
  EXPECT_TRUE(failed_with("linked component test/a/0 failed: trap"));
  // The restart kept b's queue: both queued messages run on the new instance.
  EXPECT_TRUE(eventually([&] {
    auto i = info(b);
    return i && i->mailbox.processed >= 3 && i->mailbox.depth() == 0;
  }));
}

// Failing first on main (the declaration outlived the component).
TEST_F(ComponentLinks, AComponentStartedAgainWithoutLinksIsNotLinkedAnyMore) {
  const auto a = start_one(counter("a", {"test/b"}));
  const auto b = start_one(counter("b"));
  ASSERT_TRUE(runtime->stop("test", "a"));
  ASSERT_EQ(start_one(counter("a")), a);
  ASSERT_FALSE(ask(a, "crash"));
  ASSERT_TRUE(eventually([&] { return starts(a) == 2; }));
  ASSERT_TRUE(ask(b, "get"));  // after whatever a's failure sent it
  EXPECT_EQ(starts(b), 1u);
}

TEST_F(ComponentLinks, AStoppedPeerDoesNotTakeItsLinkedPeerDownAndItsLinksEnd) {
  const auto a = start_one(counter("a", {"test/b"}));
  const auto b = start_one(counter("b"));
  ASSERT_TRUE(ask(b, "add:7"));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  ASSERT_TRUE(runtime->stop("test", "a"));
  EXPECT_TRUE(eventually([&] { return system.link_entries() == 0; }));
  auto got = ask(b, "get");
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->as_string(), "7") << "stopping a (exit reason shutdown) left b as it was";
  EXPECT_EQ(starts(b), 1u);
  static_cast<void>(a);
}

// Each restart of a relinks it (its declaration) and ends the previous incarnation's links:
// however often it restarts, one link per pair, and each failure restarts the peer once.
TEST_F(ComponentLinks, RestartsDoNotLeakLinks) {
  const auto a = start_one(counter("a", {"test/b"}));
  const auto b = start_one(counter("b"));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  for (std::uint64_t i = 1; i <= 4; ++i) {
    ASSERT_FALSE(ask(a, "crash"));
    ASSERT_TRUE(eventually([&] { return starts(a) == i + 1 && starts(b) == i + 1; }))
        << "round " << i << ": a " << starts(a) << " b " << starts(b);
    EXPECT_TRUE(eventually([&] { return system.link_entries() == 2; })) << "round " << i;
  }
  ASSERT_TRUE(ask(b, "get"));
  EXPECT_EQ(starts(b), 5u) << "one restart of b per failure of a";
}

TEST_F(ComponentLinks, LinkingToAnInstanceThatEndedGivesNoProcAndToAnUnknownOneAnError) {
  auto fragile = spec("gone", "counter");
  fragile.supervision.max_restarts = 0;  // the first failure makes its supervisor give up
  const auto gone = start_one(std::move(fragile));
  ASSERT_FALSE(ask(gone, "crash"));
  ASSERT_TRUE(eventually([&] {
    auto i = info(gone);
    return i && !i->alive;
  }));
  const auto a = start_one(counter("a"));
  ASSERT_TRUE(runtime->link(a, gone));
  EXPECT_TRUE(eventually([&] { return starts(a) == 2; })) << "noproc failed a at once";
  EXPECT_TRUE(failed_with("linked component test/gone/0 is not running (noproc)"));

  auto unknown = runtime->link(a, ComponentId{"test", "ghost", "0"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("test/ghost/0"), std::string::npos);
}

TEST_F(ComponentLinks, AnExplicitLinkEndsWithTheIncarnationOrAnUnlink) {
  const auto a = start_one(counter("a"));
  const auto b = start_one(counter("b"));
  ASSERT_TRUE(runtime->link(a, b));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  ASSERT_FALSE(ask(a, "crash"));
  ASSERT_TRUE(eventually([&] { return starts(b) == 2; }));
  EXPECT_TRUE(eventually([&] { return system.link_entries() == 0; }))
      << "a made it in no pre_start: its restart did not bring it back";

  ASSERT_TRUE(runtime->link(b, a));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 2; }));
  ASSERT_TRUE(runtime->unlink(a, b));
  ASSERT_TRUE(eventually([&] { return system.link_entries() == 0; }));
  ASSERT_FALSE(ask(a, "crash"));
  ASSERT_TRUE(eventually([&] { return starts(a) == 3; }));
  ASSERT_TRUE(ask(b, "get"));
  EXPECT_EQ(starts(b), 2u) << "unlinked: a's failure did not reach b";
}

}  // namespace
}  // namespace capsule::component

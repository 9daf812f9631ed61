// On-demand components (virtual actors): activation by the first message, deactivation when idle
// or under pressure, state from storage across cycles, order and no loss across cycles, failures.
#include <algorithm>
#include <atomic>
#include <thread>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using testing::RuntimeFixture;
using namespace std::chrono_literals;

class VirtualActors : public RuntimeFixture {
 protected:
  VirtualActors() {
    RuntimeConfig config;
    config.storage = open_sqlite_store();
    config.log_sink = [this](const ComponentId& who, wasm::LogLevel, const std::string& text,
                             const wasm::KeyValues&) {
      std::lock_guard lock(log_mutex);
      log_lines.push_back(who.to_string() + ": " + text);
    };
    reconfigure(config);
  }

  ComponentSpec cart(std::chrono::milliseconds idle, std::uint32_t max_active) {
    ComponentSpec s = spec("cart", "cart");
    s.ns = "shop";
    s.on_demand = OnDemandActivation{idle, max_active};
    return s;
  }

  static ComponentId id(const std::string& name) { return ComponentId{"shop", "cart", name}; }

  ActivationStats stats() {
    auto all = runtime->activation_stats();
    EXPECT_EQ(all.size(), 1U);
    return all.empty() ? ActivationStats{} : all.front();
  }

  // Waits until `done(stats())` holds; false after 20 s.
  template <typename Pred>
  bool wait_for_stats(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(stats())) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  std::vector<std::string> active_names() {
    std::vector<std::string> names;
    for (const auto& info : runtime->list()) {
      if (info.id.ns == "shop") names.push_back(info.id.instance);
    }
    return names;
  }

  std::string text(const ComponentId& to, std::string_view what) {
    auto r = ask(to, what);
    EXPECT_TRUE(r) << to.to_string() << " " << what << ": " << r.error().describe();
    return r ? r->as_string() : "";
  }

  std::mutex log_mutex;
  std::vector<std::string> log_lines;
};

TEST_F(VirtualActors, AnyNameIsAddressableAndTheFirstMessageActivatesIt) {
  auto ids = runtime->start(cart(60s, 100));
  ASSERT_TRUE(ids) << ids.error().describe();
  EXPECT_TRUE(ids->empty()) << "an on-demand component starts no instance";
  EXPECT_TRUE(active_names().empty());
  EXPECT_EQ(stats().activations, 0U);

  EXPECT_EQ(text(id("alice"), "add:apple"), "1");
  EXPECT_EQ(text(id("bob"), "add:pear"), "1");
  EXPECT_EQ(text(id("alice"), "add:plum"), "2");
  EXPECT_EQ(text(id("alice"), "info"), "alice items=2 loaded=0");
  EXPECT_EQ(active_names(), (std::vector<std::string>{"alice", "bob"}));
  const auto s = stats();
  EXPECT_EQ(s.activations, 2U);
  EXPECT_EQ(s.active, 2U);
  EXPECT_EQ(s.deactivations, 0U);
}

TEST_F(VirtualActors, AnIdleActivationIsDeactivatedAndTheNextMessageReactivatesItWithItsState) {
  ASSERT_TRUE(runtime->start(cart(40ms, 100)));
  EXPECT_EQ(text(id("alice"), "add:a"), "1");
  EXPECT_EQ(text(id("alice"), "add:b"), "2");
  ASSERT_TRUE(wait_for_stats([](const ActivationStats& s) {
    return s.deactivations == 1 && s.active == 0;
  })) << "the idle activation was not deactivated";
  EXPECT_EQ(stats().idle_retirements, 1U);
  EXPECT_TRUE(active_names().empty());
  // A fresh instance, whose init read the items back from storage.
  EXPECT_EQ(text(id("alice"), "info"), "alice items=2 loaded=2");
  EXPECT_EQ(text(id("alice"), "list"), "a,b");
  EXPECT_EQ(stats().activations, 2U);
}

TEST_F(VirtualActors, MessagesKeepTheirOrderAndNoneIsLostAcrossDeactivations) {
  // One slot for two names: every message to the other name evicts the active one while messages
  // for it are still queued or on their way, so sends land in every phase of the cycle.
  ASSERT_TRUE(runtime->start(cart(60s, 1)));
  constexpr int kMessages = 400;
  for (int i = 0; i < kMessages; ++i) {
    const auto to = id(i % 2 == 0 ? "even" : "odd");
    ASSERT_TRUE(runtime->send(ComponentRuntime::privileged_caller(), to,
                              Payload::text("add:" + std::to_string(i))));
  }
  std::string even;
  std::string odd;
  for (int i = 0; i < kMessages; ++i) {
    std::string& list = i % 2 == 0 ? even : odd;
    if (!list.empty()) list += ",";
    list += std::to_string(i);
  }
  EXPECT_EQ(text(id("even"), "list"), even);
  EXPECT_EQ(text(id("odd"), "list"), odd);
  const auto s = stats();
  EXPECT_GT(s.deactivations, 0U) << "no eviction happened: the test did not test a cycle";
  EXPECT_GT(s.evictions, 0U);
  EXPECT_EQ(runtime->failed_messages(), 0U);
}

TEST_F(VirtualActors, NeverMoreThanMaxActiveAndEveryNameAnswers) {
  constexpr std::uint32_t kMaxActive = 40;
  // All sent at once: below the bound on waiting names (max(1024, max_active)), past which a new
  // name is refused with mailbox-full rather than held.
  constexpr int kNames = 1000;
  ASSERT_TRUE(runtime->start(cart(60s, kMaxActive)));
  std::atomic<bool> sampling{true};
  std::atomic<std::size_t> most_active{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      const std::size_t n = active_names().size();
      std::size_t seen = most_active.load();
      while (n > seen && !most_active.compare_exchange_weak(seen, n)) {
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::future<Result<Payload>>> replies;
  replies.reserve(kNames);
  for (int i = 0; i < kNames; ++i) {
    replies.push_back(runtime->ask(id("user-" + std::to_string(i)), Payload::text("count"), 60s));
  }
  int answered = 0;
  std::vector<std::string> wrong;
  for (auto& r : replies) {
    auto reply = r.get();
    if (reply && reply->as_string() == "0") {
      ++answered;
    } else if (wrong.size() < 5) {
      wrong.push_back(reply ? reply->as_string() : reply.error().describe());
    }
  }
  sampling = false;
  sampler.join();
  EXPECT_TRUE(wrong.empty()) << wrong.front();
  EXPECT_EQ(answered, kNames);
  EXPECT_LE(most_active.load(), kMaxActive);
  EXPECT_GT(most_active.load(), 0U);
  const auto s = stats();
  EXPECT_EQ(s.activations, static_cast<std::uint64_t>(kNames));
  EXPECT_LE(s.active, kMaxActive);
  EXPECT_GE(s.evictions, static_cast<std::uint64_t>(kNames - kMaxActive));
}

TEST_F(VirtualActors, TheLeastRecentlyUsedNameIsEvictedFirst) {
  ASSERT_TRUE(runtime->start(cart(60s, 3)));
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(text(id(name), "count"), "0");
  // d needs room: a full sweep clears every recently-used bit, then the oldest (a) goes.
  EXPECT_EQ(text(id("d"), "count"), "0");
  ASSERT_TRUE(wait_for_stats([](const ActivationStats& s) { return s.deactivations == 1; }));
  EXPECT_EQ(active_names(), (std::vector<std::string>{"b", "c", "d"}));
  // b is used again; c is now the least recently used, so e takes c's room, not b's.
  EXPECT_EQ(text(id("b"), "count"), "0");
  EXPECT_EQ(text(id("e"), "count"), "0");
  ASSERT_TRUE(wait_for_stats([](const ActivationStats& s) { return s.deactivations == 2; }));
  EXPECT_EQ(active_names(), (std::vector<std::string>{"b", "d", "e"}));
}

TEST_F(VirtualActors, ATrapRebuildsTheActivationForTheMessagesQueuedBehindIt) {
  ASSERT_TRUE(runtime->start(cart(60s, 10)));
  const auto caller = ComponentRuntime::privileged_caller();
  ASSERT_TRUE(runtime->send(caller, id("alice"), Payload::text("add:a")));
  ASSERT_TRUE(runtime->send(caller, id("alice"), Payload::text("crash")));
  ASSERT_TRUE(runtime->send(caller, id("alice"), Payload::text("add:b")));
  EXPECT_EQ(text(id("alice"), "list"), "a,b");
  EXPECT_EQ(text(id("alice"), "info"), "alice items=2 loaded=1") << "init ran again after the trap";
  std::lock_guard lock(log_mutex);
  EXPECT_TRUE(std::any_of(log_lines.begin(), log_lines.end(), [](const std::string& l) {
    return l.find("shop/cart/alice") != std::string::npos &&
           l.find("activation rebuilt") != std::string::npos;
  })) << "the trap was not logged against the activation";
}

TEST_F(VirtualActors, AFailedInitRefusesItsMessagesAndTheNextMessageTriesAgain) {
  // No storage: the cart's init fails (storage answers not-implemented).
  reconfigure(RuntimeConfig{});
  ASSERT_TRUE(runtime->start(cart(60s, 10)));
  auto first = ask(id("alice"), "count");
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("activation of shop/cart/alice failed"), std::string::npos)
      << first.error().describe();
  ASSERT_TRUE(wait_for_stats([](const ActivationStats& s) { return s.active == 0; }));
  EXPECT_FALSE(ask(id("alice"), "count"));
  EXPECT_GE(stats().failed_activations, 2U) << "the second message did not try a new activation";
  // The host and other components keep working.
  auto canary = spec("canary", "echo");
  start(canary);
  EXPECT_EQ(text(ComponentId{"test", "canary", "0"}, "still here"), "still here");
}

TEST_F(VirtualActors, StopEndsEveryActivationAndLaterMessagesAreRefused) {
  ASSERT_TRUE(runtime->start(cart(60s, 10)));
  for (const char* name : {"a", "b", "c"}) EXPECT_EQ(text(id(name), "count"), "0");
  ASSERT_TRUE(runtime->stop("shop", "cart"));
  EXPECT_TRUE(active_names().empty());
  EXPECT_TRUE(runtime->activation_stats().empty());
  auto refused = ask(id("a"), "count");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound) << refused.error().describe();
  // And it can start again, with its state.
  ASSERT_TRUE(runtime->start(cart(60s, 10)));
  EXPECT_EQ(text(id("a"), "add:z"), "1");
}

TEST_F(VirtualActors, PastTheWaitingBoundNewNamesAreRefusedNotDropped) {
  // One slot, held by a name whose handler sleeps: every other name waits for it.
  ComponentSpec s = spec("nap", "sleeper");
  s.on_demand = OnDemandActivation{60s, 1};
  ASSERT_TRUE(runtime->start(s));
  auto busy = runtime->ask(ComponentId{"test", "nap", "busy"}, Payload::text("1500"), 30s);
  std::this_thread::sleep_for(100ms);  // its handler is asleep
  std::vector<std::future<Result<Payload>>> waiting;
  int refused = 0;
  std::string why;
  for (int i = 0; i < 1100; ++i) {
    auto r =
        runtime->ask(ComponentId{"test", "nap", "n" + std::to_string(i)}, Payload::text("1"), 30s);
    if (r.wait_for(0s) == std::future_status::ready) {
      auto outcome = r.get();
      ASSERT_FALSE(outcome);
      EXPECT_EQ(outcome.error().code, ErrorCode::kMailboxFull);
      why = outcome.error().message;
      ++refused;
    } else {
      waiting.push_back(std::move(r));
    }
  }
  EXPECT_EQ(waiting.size(), 1024U) << "max(1024, max_active) names may wait";
  EXPECT_EQ(refused, 1100 - 1024);
  EXPECT_NE(why.find("wait for one of the 1 activation slots (max_active)"), std::string::npos)
      << why;
  auto first = busy.get();
  ASSERT_TRUE(first) << first.error().describe();
  for (auto& w : waiting) {
    auto r = w.get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "slept 1");
  }
}

TEST_F(VirtualActors, InvalidNamesAndSpecsAreRefused) {
  ASSERT_TRUE(runtime->start(cart(60s, 10)));
  auto bad = ask(ComponentId{"shop", "cart", "no spaces"}, "count");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(runtime->start(cart(60s, 10))) << "started twice";
  auto zero = cart(60s, 0);
  zero.name = "zero";
  EXPECT_FALSE(runtime->start(zero));
  auto linked = cart(60s, 10);
  linked.name = "linked";
  linked.links = {"shop/cart"};
  EXPECT_FALSE(runtime->start(linked));
}

}  // namespace
}  // namespace capsule::component

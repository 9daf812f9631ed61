// Guests that wait in WASI (sleep, poll on a clock) suspend instead of holding a scheduler worker,
// and their wall-time limit covers the wait. Real components: guest/examples/sleeper.c, echo.c.
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

TEST_F(RuntimeFixture, ASleepingGuestAnswersAfterItsSleep) {
  auto ids = start(spec("sleeper", "sleeper"));
  auto r = ask(ids[0], "30");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "slept 30");
}

// Far more sleepers than workers, each asked to sleep an hour under a 400 ms limit. If a sleep
// held a worker, the canary's requests would queue behind them for seconds; here each must be
// answered within its 1 s timeout, and every sleeper must fail at its limit and be restarted.
TEST_F(RuntimeFixture, SleepersDoNotStarveACanaryAndFailAtTheirWallTimeLimit) {
  constexpr std::uint32_t kSleepers = 24;
  auto sleepers = spec("sleeper", "sleeper", kSleepers);
  sleepers.limits.wall_time_per_call = 400ms;
  sleepers.supervision.max_restarts = 2 * kSleepers;  // 24 failures at once are not a storm here
  const auto sleeper_ids = start(std::move(sleepers));
  const auto canary = start(spec("echo", "echo"));
  ASSERT_EQ(sleeper_ids.size(), kSleepers);

  std::vector<std::future<Result<Payload>>> naps;
  naps.reserve(sleeper_ids.size());
  for (const auto& id : sleeper_ids) {
    naps.push_back(runtime->ask(id, Payload::text("3600000"), 30s));
  }
  for (int i = 0; i < 20; ++i) {
    auto r = ask(canary[0], "ping " + std::to_string(i), 1s);
    ASSERT_TRUE(r) << "canary request " << i << ": " << r.error().describe();
    EXPECT_EQ(r->as_string(), "ping " + std::to_string(i));
    std::this_thread::sleep_for(10ms);
  }
  for (auto& nap : naps) {
    auto r = nap.get();
    ASSERT_FALSE(r) << "a sleeper under a 400 ms limit answered an hour-long sleep";
    EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
    EXPECT_NE(r.error().message.find("wall-time limit of 400 ms"), std::string::npos)
        << r.error().describe();
  }
  // Each failed sleeper was restarted by its supervisor and works again.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (recorder->count(rt::EventKind::kChildRestarted) < kSleepers &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), kSleepers);
  auto again = ask(sleeper_ids[3], "5");
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->as_string(), "slept 5");
}

// At a restart (on a worker) init runs as a call in flight like a handler: restarts whose init
// sleeps (24 instances, 300 ms each, on 2 workers: 3.6 s of sleeping) give their worker back, so a
// canary keeps answering while they all restart at once, and each instance takes its first message
// only after its init.
TEST_F(RuntimeFixture, RestartsWhoseInitSleepsDoNotHoldWorkers) {
  constexpr std::uint32_t kSleepers = 24;
  auto sleepers = spec("sleeper", "sleeper", kSleepers);
  sleepers.config = {{"sleep_in_init_ms", "300"}};
  // Far above the 300 ms init: at a load of 15 a 400 ms limit failed the first start's init.
  sleepers.limits.wall_time_per_call = 1000ms;
  sleepers.supervision.max_restarts = 2 * kSleepers;
  // The first start runs each init on this thread (start() reports an init failure).
  const auto sleeper_ids = start(std::move(sleepers));
  ASSERT_EQ(sleeper_ids.size(), kSleepers);
  const auto canary = start(spec("echo", "echo"));
  // Every sleeper fails at its limit, then restarts: its init sleeps again, on a worker.
  std::vector<std::future<Result<Payload>>> naps;
  naps.reserve(sleeper_ids.size());
  for (const auto& id : sleeper_ids) {
    naps.push_back(runtime->ask(id, Payload::text("3600000"), 30s));
  }
  for (auto& nap : naps) {
    auto r = nap.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  }
  for (int i = 0; i < 40; ++i) {
    auto r = ask(canary[0], "ping " + std::to_string(i), 1s);
    ASSERT_TRUE(r) << "canary request " << i << " during the restarts: " << r.error().describe();
    std::this_thread::sleep_for(10ms);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (recorder->count(rt::EventKind::kChildRestarted) < kSleepers &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), kSleepers);
  for (const auto& id : sleeper_ids) {
    auto again = ask(id, "1", 10s);
    ASSERT_TRUE(again) << id.to_string() << ": " << again.error().describe();
    EXPECT_EQ(again->as_string(), "slept 1");
  }
}

// A guest's health export is a call in flight like a handler: 8 instances whose health check
// sleeps 1 s, probed every 2 s on 2 workers (held 4 s in a row if the checks ran on them), leave a
// canary answering each request within 1 s; every probe is answered in time (none counts as
// unresponsive) and the checks really ran.
TEST_F(RuntimeFixture, HealthChecksThatSleepDoNotHoldWorkers) {
  constexpr std::uint32_t kSleepers = 8;
  auto sleepers = spec("sleeper", "sleeper", kSleepers);
  sleepers.config = {{"sleep_in_health_ms", "1000"}};
  sleepers.limits.wall_time_per_call = 5s;
  sleepers.supervision.health_interval = 2s;
  const auto ids = start(std::move(sleepers));
  ASSERT_EQ(ids.size(), kSleepers);
  const auto canary = start(spec("echo", "echo"));
  // From before the first probes (2 s after the start) to after the second round began.
  const auto until = std::chrono::steady_clock::now() + 4500ms;
  int asked = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto r = ask(canary[0], "ping " + std::to_string(asked), 1s);
    ASSERT_TRUE(r) << "canary request " << asked << ": " << r.error().describe();
    ++asked;
    std::this_thread::sleep_for(20ms);
  }
  for (const auto& id : ids) {
    std::string checks;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ask(id, "health", 10s);
      ASSERT_TRUE(r) << id.to_string() << ": " << r.error().describe();
      checks = r->as_string();
      if (checks != "health checks=0") break;
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_NE(checks, "health checks=0") << id.to_string() << " was never health-checked";
  }
  EXPECT_EQ(recorder->count(rt::EventKind::kHealthCheckFailed), 0u);
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), 0u);
}

// A graceful stop runs the guest's shutdown as a call in flight once the instance is drained:
// two components of 4 instances whose shutdown sleeps 1 s, stopped at once (each supervisor stops
// its instances one after the other: 2 workers held 4 s in a row if shutdown ran on them), leave a
// canary answering each request within 1 s; every shutdown runs to its end.
TEST_F(RuntimeFixture, StopsWhoseShutdownSleepsDoNotHoldWorkers) {
  std::mutex mu;
  int shutdowns = 0;
  RuntimeConfig config;
  config.log_sink = [&](const ComponentId&, wasm::LogLevel, const std::string& line,
                        const wasm::KeyValues&) {
    std::lock_guard lock(mu);
    if (line == "shut down after sleeping") ++shutdowns;
  };
  reconfigure(config);
  constexpr std::uint32_t kInstances = 4;
  for (const char* name : {"a", "b"}) {
    auto s = spec(name, "sleeper", kInstances);
    s.config = {{"sleep_in_shutdown_ms", "1000"}};
    s.limits.wall_time_per_call = 5s;
    ASSERT_EQ(start(std::move(s)).size(), kInstances);
  }
  const auto canary = start(spec("echo", "echo"));
  ASSERT_TRUE(runtime->stop("test", "a"));
  ASSERT_TRUE(runtime->stop("test", "b"));
  const auto until = std::chrono::steady_clock::now() + 3500ms;
  int asked = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto r = ask(canary[0], "ping " + std::to_string(asked), 1s);
    ASSERT_TRUE(r) << "canary request " << asked << ": " << r.error().describe();
    ++asked;
    std::this_thread::sleep_for(20ms);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (shutdowns == 2 * static_cast<int>(kInstances)) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "not every shutdown ran";
    std::this_thread::sleep_for(10ms);
  }
}

// A hot upgrade's init (and the old instance's shutdown) run as calls in flight: four upgrades
// whose init sleeps 600 ms, on 2 workers (held 1.2 s each if init ran on them), leave a canary
// answering within 400 ms, and each upgrade succeeds.
TEST_F(RuntimeFixture, UpgradesWhoseInitSleepsDoNotHoldWorkers) {
  constexpr std::uint32_t kInstances = 4;
  auto sleepers = spec("sleeper", "sleeper", kInstances);
  sleepers.config = {{"sleep_in_init_ms", "600"}};
  sleepers.limits.wall_time_per_call = 2s;
  const auto ids = start(sleepers);
  ASSERT_EQ(ids.size(), kInstances);
  const auto canary = start(spec("echo", "echo"));
  std::vector<std::future<Status>> upgrades;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& id : ids) {
    auto done = std::make_shared<std::promise<Status>>();
    upgrades.push_back(done->get_future());
    auto ref = runtime->registry().lookup(id);
    ASSERT_TRUE(ref);
    ASSERT_TRUE(
        ref->send_control(ComponentEnvelope{ComponentEnvelope::Upgrade{sleepers.component, done}}));
  }
  int answered_during = 0;
  while (std::chrono::steady_clock::now() - t0 < 500ms) {
    auto r = ask(canary[0], "ping", 400ms);
    ASSERT_TRUE(r) << "canary during the upgrades: " << r.error().describe();
    ++answered_during;
  }
  EXPECT_GT(answered_during, 0);
  for (auto& u : upgrades) {
    auto s = u.get();
    EXPECT_TRUE(s) << s.error().describe();
  }
  for (const auto& id : ids) {
    auto r = ask(id, "1", 5s);
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "slept 1");
    EXPECT_EQ(runtime->registry().record(id)->counters->starts.load(), 2U) << "not upgraded";
  }
}

// Activations retire under eviction pressure by the thousand: their shutdown is a call in flight,
// so shutdowns that sleep 600 ms (4 evictions: 2 workers held 1.2 s each if they ran on them)
// leave a canary answering within 400 ms.
TEST_F(RuntimeFixture, ActivationShutdownsThatSleepDoNotHoldWorkers) {
  auto sleepers = spec("nap", "sleeper");
  sleepers.config = {{"sleep_in_shutdown_ms", "600"}};
  sleepers.limits.wall_time_per_call = 2s;
  sleepers.on_demand = OnDemandActivation{60s, 2};
  ASSERT_TRUE(runtime->start(sleepers));
  const auto canary = start(spec("echo", "echo"));
  std::vector<std::future<Result<Payload>>> naps;
  naps.reserve(6);
  for (int i = 0; i < 6; ++i) {  // past the first two, every new name evicts one
    naps.push_back(
        runtime->ask(ComponentId{"test", "nap", "n" + std::to_string(i)}, Payload::text("1"), 30s));
  }
  const auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < 1s) {
    auto r = ask(canary[0], "ping", 400ms);
    ASSERT_TRUE(r) << "canary while activations retire: " << r.error().describe();
  }
  for (auto& n : naps) {
    auto r = n.get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "slept 1");
  }
}

// Mailbox order holds across a suspension: a message sent while the instance sleeps is handled
// after the sleep, by the same instance.
TEST_F(RuntimeFixture, MessagesQueuedDuringASleepWaitTheirTurn) {
  auto ids = start(spec("sleeper", "sleeper"));
  auto first = runtime->ask(ids[0], Payload::text("150"), 10s);
  auto second = runtime->ask(ids[0], Payload::text("1"), 10s);
  auto a = first.get();
  auto b = second.get();
  ASSERT_TRUE(a) << a.error().describe();
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(a->as_string(), "slept 150");
  EXPECT_EQ(b->as_string(), "slept 1");
}

// A guest that spins under a huge fuel budget yields at every epoch tick: it is stopped at its
// wall-time limit while a canary on the same two workers keeps answering.
TEST_F(RuntimeFixture, SpinnersYieldSoACanaryKeepsAnswering) {
  auto spinners = spec("spin", "spin", 4);
  spinners.limits = ResourceLimits{0, 1ULL << 62, 1500ms};
  const auto spin_ids = start(std::move(spinners));
  const auto canary = start(spec("echo", "echo"));
  std::vector<std::future<Result<Payload>>> spins;
  spins.reserve(spin_ids.size());
  for (const auto& id : spin_ids) spins.push_back(runtime->ask(id, Payload::text("go"), 30s));
  for (int i = 0; i < 20; ++i) {
    auto r = ask(canary[0], "still here", 1s);
    ASSERT_TRUE(r) << "canary request " << i << ": " << r.error().describe();
  }
  for (auto& s : spins) {
    auto r = s.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  }
}

}  // namespace
}  // namespace capsule::component

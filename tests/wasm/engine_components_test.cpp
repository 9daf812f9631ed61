// Integration tests: real components built from guest/examples, loaded through WasmEngine.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <latch>
#include <mutex>
#include <random>
#include <thread>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using namespace capsule::wasm::testing;

Payload random_payload(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Payload p{multicodec::kRaw, std::vector<std::uint8_t>(size)};
  for (auto& b : p.bytes) b = static_cast<std::uint8_t>(rng());
  return p;
}

class EngineComponents : public ::testing::Test {
 protected:
  std::shared_ptr<WasmEngine> engine = make_engine();

  ComponentInstance start(const std::string& name, ResourceLimits limits = {}, int instance = 0) {
    auto compiled = load(*engine, name);
    auto inst = engine->instantiate(*compiled, {id_of(name, instance), limits, nullptr});
    EXPECT_TRUE(inst) << inst.error().describe();
    auto s = inst->init({});
    EXPECT_TRUE(s) << s.error().describe();
    return std::move(*inst);
  }

  void expect_echo_works() {
    auto echo = start("echo");
    auto reply = echo.handle_message(message_with(Payload::text("still alive")));
    ASSERT_TRUE(reply) << reply.error().describe();
    ASSERT_TRUE(reply->has_value());
    EXPECT_EQ((*reply)->as_string(), "still alive");
  }
};

TEST_F(EngineComponents, EchoRoundTripsSmallAndLargePayloads) {
  auto echo = start("echo");
  for (std::size_t size : {0UL, 1UL, 64UL, 64UL * 1024, 1024UL * 1024}) {
    Payload sent = random_payload(size, static_cast<std::uint32_t>(size));
    sent.codec = multicodec::kCbor;
    auto reply = echo.handle_message(message_with(sent));
    ASSERT_TRUE(reply) << reply.error().describe();
    ASSERT_TRUE(reply->has_value());
    EXPECT_EQ(**reply, sent) << "size " << size;
  }
  auto meta = echo.metadata();
  ASSERT_TRUE(meta) << meta.error().describe();
  EXPECT_EQ(meta->name, "echo");
  EXPECT_EQ(meta->version, "0.1.0");
  auto health = echo.health();
  ASSERT_TRUE(health);
  EXPECT_EQ(*health, HealthStatus::kHealthy);
  EXPECT_TRUE(echo.shutdown());
  EXPECT_GT(echo.stats().fuel_consumed_total, 0u);
}

TEST_F(EngineComponents, CounterKeepsStatePerInstance) {
  auto compiled = load(*engine, "counter");
  auto a = engine->instantiate(*compiled, {id_of("counter", 0), {}, nullptr});
  auto b = engine->instantiate(*compiled, {id_of("counter", 1), {}, nullptr});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->init({{"start", "10"}}));
  ASSERT_TRUE(b->init({}));
  for (const char* expected : {"11", "12", "13"}) {
    auto r = a->handle_message(message_with(Payload::text("inc")));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ((*r)->as_string(), expected);
  }
  auto added = a->handle_message(message_with(Payload::text("add:100")));
  ASSERT_TRUE(added);
  EXPECT_EQ((*added)->as_string(), "113");
  auto other = b->handle_message(message_with(Payload::text("get")));
  ASSERT_TRUE(other);
  EXPECT_EQ((*other)->as_string(), "0") << "instances must not share linear memory";
}

TEST_F(EngineComponents, GuestErrorsKeepTheirCodeAndLeaveInstanceUsable) {
  auto compiled = load(*engine, "counter");
  auto c = engine->instantiate(*compiled, {id_of("counter"), {}, nullptr});
  ASSERT_TRUE(c);
  auto bad_init = c->init({{"start", "ten"}});
  ASSERT_FALSE(bad_init);
  EXPECT_EQ(bad_init.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_init.error().message.find("config 'start' must be an integer"), std::string::npos);
  auto bad = c->handle_message(message_with(Payload::text("add:x")));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("test/counter/0"), std::string::npos);
  EXPECT_FALSE(c->failed());
  auto good = c->handle_message(message_with(Payload::text("inc")));
  ASSERT_TRUE(good) << good.error().describe();
}

TEST_F(EngineComponents, SpinIsStoppedByFuel) {
  auto spin = start("spin", ResourceLimits{0, 5'000'000, std::chrono::milliseconds{60'000}});
  auto r = spin.handle_message(message_with(Payload::text("go")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfFuel) << r.error().describe();
  EXPECT_NE(r.error().message.find("test/spin/0"), std::string::npos);
  EXPECT_NE(r.error().message.find("5000000"), std::string::npos);
  EXPECT_TRUE(spin.failed());
  auto again = spin.handle_message(message_with(Payload::text("go")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
  expect_echo_works();
}

TEST_F(EngineComponents, SpinIsStoppedByWallTime) {
  // Fuel high enough to run for hours: only the epoch deadline can stop it.
  auto spin = start("spin", ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{150}});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = spin.handle_message(message_with(Payload::text("go")));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  EXPECT_NE(r.error().message.find("150 ms"), std::string::npos);
  // Not a timing assertion: proves the call ended because of the deadline, not of fuel.
  EXPECT_GE(elapsed, std::chrono::milliseconds{150});
  expect_echo_works();
}

TEST_F(EngineComponents, HogHitsTheMemoryLimit) {
  auto hog = start("hog", ResourceLimits{8ULL << 20, 0, std::chrono::milliseconds{0}});
  auto r = hog.handle_message(message_with(Payload::text("eat")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMemoryLimit) << r.error().describe();
  EXPECT_NE(r.error().message.find("memory limit of 8 MiB"), std::string::npos);
  EXPECT_TRUE(hog.failed());
  expect_echo_works();
}

TEST_F(EngineComponents, TrapIsReportedAsTrap) {
  auto trap = start("trap");
  auto r = trap.handle_message(message_with(Payload::text("boom")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTrap) << r.error().describe();
  EXPECT_NE(r.error().message.find(
                "trapped in handle-message: wasm trap: wasm `unreachable` instruction executed"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("handle-message"), std::string::npos);
  expect_echo_works();
}

TEST_F(EngineComponents, FailedInstancesDoNotDisturbLiveOnes) {
  auto echo = start("echo");
  auto trap = start("trap");
  auto spin = start("spin", ResourceLimits{0, 1'000'000, std::chrono::milliseconds{0}});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(trap.handle_message(message_with(Payload::text("x"))));
    EXPECT_FALSE(spin.handle_message(message_with(Payload::text("x"))));
    auto r = echo.handle_message(message_with(Payload::text("ok " + std::to_string(i))));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ((*r)->as_string(), "ok " + std::to_string(i));
  }
}

TEST_F(EngineComponents, InstancesOnSeparateThreadsKeepTheirOwnState) {
  auto compiled = load(*engine, "counter");
  constexpr int kThreads = 4;
  constexpr int kMessages = 500;
  std::vector<std::string> finals(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto inst = engine->instantiate(*compiled, {id_of("counter", t), {}, nullptr});
      if (!inst || !inst->init({})) return;
      for (int i = 0; i < kMessages; ++i) {
        auto r = inst->handle_message(message_with(Payload::text("inc")));
        if (!r || !r->has_value()) return;
        finals[t] = (*r)->as_string();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : finals) EXPECT_EQ(f, std::to_string(kMessages));
}

// Holds every guest `send` until `parties` sends are inside at once (or the bound passes): when
// all of them get through together, that many guest calls were running at the same time.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  // True if every party arrived within `bound`.
  bool arrive_and_wait(std::chrono::seconds bound) {
    std::unique_lock lock(mutex_);
    if (++arrived_ == parties_) all_in_.notify_all();
    return all_in_.wait_for(lock, bound, [this] { return arrived_ >= parties_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_in_;
  int parties_;
  int arrived_ = 0;
};

class RendezvousHost : public StandaloneHostApi {
 public:
  RendezvousHost(ComponentId self, Rendezvous* rendezvous)
      : StandaloneHostApi(std::move(self)), rendezvous_(rendezvous) {}
  Status send(const ComponentId& /*target*/, Payload /*payload*/) override {
    met = rendezvous_->arrive_and_wait(std::chrono::seconds(10));
    return ok();
  }
  std::atomic<bool> met{false};

 private:
  Rendezvous* rendezvous_;
};

TEST_F(EngineComponents, InstancesRunInParallelOnSeparateThreads) {
  // Each instance, on its own thread, is inside a guest call (pump's one messaging.send) and
  // stays there until all the others are inside theirs too. Serialised calls would never meet:
  // the first would wait out the 10 s bound alone. The calls start together once every instance
  // is ready, and may run for 30 s, so only the rendezvous bound decides.
  auto compiled = load(*engine, "pump");
  constexpr int kThreads = 4;
  Rendezvous rendezvous(kThreads);
  std::vector<std::shared_ptr<RendezvousHost>> hosts;
  hosts.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    hosts.push_back(std::make_shared<RendezvousHost>(id_of("pump", t), &rendezvous));
  }
  const ResourceLimits limits{0, 0, std::chrono::seconds(30)};
  std::latch ready(kThreads);
  std::vector<std::string> replies(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto inst = engine->instantiate(*compiled, {id_of("pump", t), limits, hosts[t]});
      const bool usable = inst && inst->init({});
      ready.arrive_and_wait();
      if (!usable) return;
      auto r = inst->handle_message(message_with(Payload::text("send 8 1")));
      if (r && r->has_value()) replies[t] = (*r)->as_string();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(hosts[t]->met) << "instance " << t << " ran alone";
    EXPECT_EQ(replies[t], "ok 1") << "instance " << t;
  }
}

TEST_F(EngineComponents, RejectsComponentBuiltForOtherWitVersion) {
  auto r = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "incompatible" /
                             "echo_wit_v2.wasm");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(r.error().message.find("echo_wit_v2.wasm"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("capsule:core@0.2.0"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("capsule:core@0.1.3"), std::string::npos) << r.error().message;
  expect_echo_works();
}

TEST_F(EngineComponents, RejectsGarbageAndCoreModules) {
  const std::vector<std::vector<std::uint8_t>> inputs{
      {},
      {'h', 'e', 'l', 'l', 'o'},
      {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00},  // an empty *core* module, not a component
      random_payload(4096, 7).bytes,
  };
  for (const auto& bytes : inputs) {
    auto r = engine->load(bytes, "bad.wasm");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kCompileFailed) << r.error().describe();
    EXPECT_NE(r.error().message.find("bad.wasm"), std::string::npos);
  }
  // Truncating a real component must fail cleanly too.
  auto path = component_path("echo");
  std::ifstream file(path, std::ios::binary);
  std::vector<std::uint8_t> echo{std::istreambuf_iterator<char>(file),
                                 std::istreambuf_iterator<char>()};
  ASSERT_EQ(echo.size(), std::filesystem::file_size(path));
  echo.resize(echo.size() / 2);
  EXPECT_FALSE(engine->load(echo, "half-echo.wasm"));
  expect_echo_works();
}

TEST_F(EngineComponents, MissingFileNamesThePath) {
  auto r = engine->load_file("/nonexistent/thing.wasm");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("/nonexistent/thing.wasm"), std::string::npos);
}

TEST_F(EngineComponents, MemoryLimitAboveThePoolSlotIsRefused) {
  auto compiled = load(*engine, "echo");
  auto r =
      engine->instantiate(*compiled, {id_of("echo"), ResourceLimits{1ULL << 40, 0, {}}, nullptr});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

// A guest waiting in WASI suspends its call: poll() returns, the thread is free for other
// instances, and the wall-time limit ends the wait.
class Suspension : public EngineComponents {
 protected:
  ComponentInstance start_sleeper(std::chrono::milliseconds limit) {
    auto compiled = load(*engine, "sleeper");
    auto inst =
        engine->instantiate(*compiled, {id_of("sleeper"), ResourceLimits{0, 0, limit}, nullptr});
    EXPECT_TRUE(inst) << inst.error().describe();
    return std::move(*inst);
  }
};

class CountingWaker final : public CallWaker {
 public:
  void wake() noexcept override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

TEST_F(Suspension, ShortSleepRepliesThroughWasi) {
  auto sleeper = start_sleeper(std::chrono::milliseconds{5000});
  ASSERT_TRUE(sleeper.init({}));
  auto r = sleeper.handle_message(message_with(Payload::text("20")));
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->as_string(), "slept 20");
}

TEST_F(Suspension, AnHourLongSleepFailsAtTheWallTimeLimit) {
  auto sleeper = start_sleeper(std::chrono::milliseconds{100});
  ASSERT_TRUE(sleeper.init({}));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sleeper.handle_message(message_with(Payload::text("3600000")));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  EXPECT_NE(r.error().message.find("wall-time limit of 100 ms in handle-message"),
            std::string::npos)
      << r.error().describe();
  EXPECT_GE(elapsed, std::chrono::milliseconds{100});
  EXPECT_LT(elapsed, std::chrono::minutes{1}) << "the sleep was not cut at the limit";
  EXPECT_TRUE(sleeper.failed());
  expect_echo_works();
}

TEST_F(Suspension, APendingCallLeavesTheThreadFreeForOtherInstances) {
  auto sleeper = start_sleeper(std::chrono::milliseconds{60'000});
  ASSERT_TRUE(sleeper.init({}));
  const auto message = message_with(Payload::text("3600000"));
  auto call = sleeper.start_handle_message(message);
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_EQ(call.poll(waker), GuestCall::State::kPending);
  EXPECT_TRUE(sleeper.busy());
  // The same thread serves another instance while the sleeper waits.
  expect_echo_works();
  // A second call to a busy instance is refused, not interleaved.
  auto refused = sleeper.handle_message(message_with(Payload::text("1")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  call.expire();
  EXPECT_TRUE(call.ready());
  auto r = call.reply();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted);
  EXPECT_TRUE(sleeper.failed());
}

TEST_F(Suspension, TheTimerWakesTheOwnerWhenTheSleepEnds) {
  auto sleeper = start_sleeper(std::chrono::milliseconds{60'000});
  ASSERT_TRUE(sleeper.init({}));
  const auto message = message_with(Payload::text("50"));
  auto call = sleeper.start_handle_message(message);
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_EQ(call.poll(waker), GuestCall::State::kPending);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (waker->wakes.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  ASSERT_GT(waker->wakes.load(), 0) << "the reactor never woke the owner";
  while (call.poll(waker) == GuestCall::State::kPending) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  auto r = call.reply();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ((*r)->as_string(), "slept 50");
}

TEST_F(Suspension, SleepInInitIsBoundedToo) {
  auto sleeper = start_sleeper(std::chrono::milliseconds{100});
  auto s = sleeper.init({{"sleep_in_init_ms", "3600000"}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInterrupted) << s.error().describe();
  EXPECT_NE(s.error().message.find("in init"), std::string::npos) << s.error().describe();
}

// Trap kinds come from Wasmtime's trap codes: the same guest stopped by fuel and by wall time
// gives the two different codes.
TEST(EngineTrapKinds, FuelAndWallTimeAreToldApartByTrapCode) {
  auto engine = make_engine();
  auto compiled = load(*engine, "spin");
  auto fuel =
      engine->instantiate(*compiled, {id_of("spin"), ResourceLimits{0, 1'000'000, {}}, nullptr});
  ASSERT_TRUE(fuel);
  auto r = fuel->handle_message(message_with(Payload::text("go")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfFuel);
  auto time = engine->instantiate(
      *compiled,
      {id_of("spin", 1), ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{50}}, nullptr});
  ASSERT_TRUE(time);
  auto t = time->handle_message(message_with(Payload::text("go")));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kInterrupted);
}

TEST(EngineAllocation, OnDemandAllocatorRunsComponentsToo) {
  EngineConfig config;
  config.pooling.enabled = false;
  auto engine = make_engine(config);
  auto compiled = load(*engine, "echo");
  auto inst = engine->instantiate(*compiled, {id_of("echo"), {}, nullptr});
  ASSERT_TRUE(inst) << inst.error().describe();
  auto r = inst->handle_message(message_with(Payload::text("on demand")));
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->as_string(), "on demand");
}

TEST(EnginePool, ExhaustedPoolIsAClearErrorAndRecovers) {
  EngineConfig config;
  config.pooling.total_component_instances = 2;
  config.pooling.total_memories = 2;
  config.pooling.total_tables = 2;
  auto engine = make_engine(config);
  auto compiled = load(*engine, "echo");
  std::vector<ComponentInstance> live;
  for (int i = 0; i < 2; ++i) {
    auto inst = engine->instantiate(*compiled, {id_of("echo", i), {}, nullptr});
    ASSERT_TRUE(inst) << inst.error().describe();
    live.push_back(std::move(*inst));
  }
  auto third = engine->instantiate(*compiled, {id_of("echo", 2), {}, nullptr});
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kUnavailable) << third.error().describe();
  live.pop_back();
  auto again = engine->instantiate(*compiled, {id_of("echo", 3), {}, nullptr});
  EXPECT_TRUE(again) << again.error().describe();
}

}  // namespace
}  // namespace capsule::wasm

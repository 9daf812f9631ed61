// Destroying a runtime while guests are mid-call (spinning, sleeping in WASI) and while request
// timeouts are firing: nothing may touch freed state (the ASan preset runs this), every request
// ends in one outcome, and the destructor waits for the graceful stop's bound (the supervisor's
// 5 s shutdown timeout, after which a busy instance is killed), not a guest's wall-time limit.
#include <chrono>
#include <filesystem>
#include <future>
#include <vector>

#include <capsule/component/component_runtime.hpp>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace std::chrono_literals;

ComponentSpec spec_of(wasm::WasmEngine& engine, const std::string& name, const std::string& wasm,
                      std::uint32_t instances) {
  ComponentSpec s;
  s.ns = "test";
  s.name = name;
  s.component = testing::load(engine, wasm);
  s.instances = instances;
  s.limits.wall_time_per_call = 20s;  // far longer than the test waits
  s.limits.fuel_per_call = 1'000'000'000'000ULL;
  return s;
}

TEST(RuntimeShutdown, WhileGuestsRunAndTimeoutsFire) {
  auto engine = *wasm::WasmEngine::create();
  for (const auto delay : {0ms, 3ms, 30ms}) {
    rt::ActorSystem system;
    auto runtime = std::make_unique<ComponentRuntime>(system, engine);
    const auto spinners = *runtime->start(spec_of(*engine, "spin", "spin", 2));
    const auto sleepers = *runtime->start(spec_of(*engine, "sleeper", "sleeper", 2));
    const auto echo = *runtime->start(spec_of(*engine, "echo", "echo", 1));
    std::vector<std::future<Result<Payload>>> asks;
    asks.reserve(104);
    for (const auto& id : spinners) asks.push_back(runtime->ask(id, Payload::text("go"), 60s));
    for (const auto& id : sleepers) {
      asks.push_back(runtime->ask(id, Payload::text("3600000"), 60s));
    }
    // Requests queued behind the spinners, with timeouts that fall during the destruction.
    for (int i = 0; i < 50; ++i) {
      asks.push_back(runtime->ask(spinners[i % 2], Payload::text("x"), delay + 1ms * (i % 5)));
      asks.push_back(runtime->ask(echo[0], Payload::text("y"), 1ms * (i % 7 + 1)));
    }
    std::this_thread::sleep_for(delay);
    const auto start = std::chrono::steady_clock::now();
    runtime.reset();
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, 9s) << "the destructor waited for a guest's wall-time limit (delay "
                        << delay.count() << " ms)";
    // Every request still ends in exactly one outcome.
    for (auto& f : asks) {
      ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "delay " << delay.count() << " ms";
    }
    system.shutdown();
  }
}

}  // namespace
}  // namespace capsule::component

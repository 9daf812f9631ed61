// A canary under hostile load: what a well-behaved component's requests cost while many others
// wait in WASI sleep and a few spin in loops, next to the same canary on an idle host, measured
// in one run on the default worker count. Before async guest calls, each sleeper held a
// scheduler worker until its wall-time limit, so a handful of them froze every component.
// Usage: wait_bench <components dir> [sleepers=1000] [spinners=2]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <capsule/component/component_runtime.hpp>

#include "../common/bench_process.hpp"
#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::or_die;
using bench::percentiles;
using bench::us;

constexpr int kCanaryCalls = 2000;

// Request/reply latencies of the canary, one request at a time.
std::vector<double> canary_latencies(ComponentRuntime& runtime, const ComponentId& canary) {
  std::vector<double> out;
  out.reserve(kCanaryCalls);
  for (int i = 0; i < kCanaryCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = runtime.ask(canary, Payload::text("ping"), std::chrono::seconds(10)).get();
    if (!r) {
      std::fprintf(stderr, "canary failed: %s\n", r.error().describe().c_str());
      std::exit(1);
    }
    out.push_back(us(Clock::now() - t0));
  }
  return out;
}

ComponentSpec spec_of(const char* name, std::shared_ptr<const wasm::CompiledComponent> c,
                      std::uint32_t instances) {
  ComponentSpec s;
  s.ns = "bench";
  s.name = name;
  s.component = std::move(c);
  s.instances = instances;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <components dir> [sleepers] [spinners]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const auto sleepers = static_cast<std::uint32_t>(argc > 2 ? std::stoul(argv[2]) : 1000);
  const auto spinners = static_cast<std::uint32_t>(argc > 3 ? std::stoul(argv[3]) : 2);
  wasm::EngineConfig config;
  config.pooling.total_component_instances = sleepers + spinners + 16;
  // A WASI guest carries the preview1 adapter: several core instances, memories and tables each.
  config.pooling.total_memories = 3 * config.pooling.total_component_instances;
  config.pooling.total_tables = 4 * config.pooling.total_component_instances;
  auto engine = or_die(wasm::WasmEngine::create(config), "engine");
  rt::ActorSystem system;  // default worker count
  ComponentRuntime runtime(system, engine);

  auto canary = or_die(
      runtime.start(spec_of("canary", or_die(engine->load_file(dir / "echo.wasm"), "echo"), 1)),
      "start canary");
  auto idle = percentiles(canary_latencies(runtime, canary[0]));

  // Sleepers: an hour-long WASI sleep under a 60 s limit, so they stay asleep for the whole run.
  auto sleeper_spec =
      spec_of("sleeper", or_die(engine->load_file(dir / "sleeper.wasm"), "sleeper"), sleepers);
  sleeper_spec.limits.wall_time_per_call = std::chrono::seconds(60);
  auto sleeper_ids = or_die(runtime.start(sleeper_spec), "start sleepers");
  // Spinners: loop until their 200 ms wall-time limit, then are restarted; re-fed all run long.
  auto spin_spec = spec_of("spin", or_die(engine->load_file(dir / "spin.wasm"), "spin"), spinners);
  spin_spec.limits = ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds(200)};
  spin_spec.supervision.backoff = rt::BackoffPolicy::none();
  spin_spec.supervision.max_restarts = 1'000'000;
  auto spin_ids = or_die(runtime.start(spin_spec), "start spinners");

  std::vector<std::future<Result<Payload>>> naps;
  naps.reserve(sleepers);
  for (const auto& id : sleeper_ids) {
    naps.push_back(runtime.ask(id, Payload::text("3600000"), std::chrono::seconds(120)));
  }
  std::atomic<bool> loading{true};
  std::thread feeder([&] {
    while (loading.load()) {
      for (const auto& id : spin_ids) {
        static_cast<void>(
            runtime.send(ComponentRuntime::privileged_caller(), id, Payload::text("go")));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // every sleeper is asleep
  auto loaded = percentiles(canary_latencies(runtime, canary[0]));
  std::size_t asleep = 0;  // no answer yet: still inside the hour-long sleep
  for (auto& nap : naps) {
    if (nap.wait_for(std::chrono::seconds(0)) != std::future_status::ready) ++asleep;
  }
  loading.store(false);
  feeder.join();

  const std::string label = "canary p50, " + std::to_string(sleepers) + " sleeping + " +
                            std::to_string(spinners) + " spinning";
  const std::string label99 = "canary p99, " + std::to_string(sleepers) + " sleeping + " +
                              std::to_string(spinners) + " spinning";
  std::printf("%-52s %19s %19s %9s\n", "benchmark (workers: default)", "under load", "idle host",
              "ratio");
  bench::print_ratio_row(52, label.c_str(), loaded.p50, idle.p50, "us", "same canary, idle");
  bench::print_ratio_row(52, label99.c_str(), loaded.p99, idle.p99, "us", "same canary, idle");
  std::printf("\nsleepers still inside their sleep after the measurement: %zu of %u\n", asleep,
              sleepers);
  return 0;
}

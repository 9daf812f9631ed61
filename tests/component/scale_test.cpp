// 10,000 instances of a real component alive on one host.
#include <fstream>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST(Scale, TenThousandEchoInstances) {
  constexpr std::uint32_t kInstances = 10'000;
  wasm::EngineConfig config;
  config.pooling.total_component_instances = kInstances + 16;
  config.pooling.total_memories = kInstances + 16;
  config.pooling.total_tables = kInstances + 16;
  config.pooling.max_memory_bytes = 16ULL << 20;
  config.default_limits.memory_bytes = 16ULL << 20;
  auto engine = wasm::WasmEngine::create(config);
  ASSERT_TRUE(engine) << engine.error().describe();
  rt::ActorSystem system;
  {
    ComponentRuntime runtime(system, *engine);
    ComponentSpec spec;
    spec.ns = "scale";
    spec.name = "echo";
    spec.component = load(**engine, "echo");
    spec.instances = kInstances;
    // Warm-up instance so that one-time costs (code mapping, first Store) are not counted.
    ComponentSpec warm = spec;
    warm.name = "warm";
    warm.instances = 1;
    ASSERT_TRUE(runtime.start(warm));
    const std::size_t before = rss_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    auto ids = runtime.start(spec);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(ids) << ids.error().describe();
    ASSERT_EQ(ids->size(), kInstances);
    const std::size_t after = rss_bytes();
    std::printf(
        "[ scale    ] %u instances started in %.0f ms; RSS +%.1f MiB = %.1f KiB per instance\n",
        kInstances, std::chrono::duration<double, std::milli>(elapsed).count(),
        static_cast<double>(after - before) / (1 << 20),
        static_cast<double>(after - before) / 1024.0 / kInstances);
    // Every instance is alive and answers with its own identity.
    for (std::uint32_t i = 0; i < kInstances; i += 997) {
      auto r =
          runtime
              .ask((*ids)[i], Payload::text("ping " + std::to_string(i)), std::chrono::seconds(10))
              .get();
      ASSERT_TRUE(r) << r.error().describe();
      EXPECT_EQ(r->as_string(), "ping " + std::to_string(i));
    }
    EXPECT_EQ(runtime.list().size(), kInstances + 1);
  }
  system.shutdown();
}

}  // namespace
}  // namespace capsule::component

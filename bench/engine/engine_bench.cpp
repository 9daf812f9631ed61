// Engine hot paths: cold compile, cache-hit load, instantiate (pooling vs on-demand), and one
// lifecycle call with 64 B and 64 KiB payloads. Run through bench/engine/run.sh for medians.
#include <benchmark/benchmark.h>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <capsule/wasm/engine.hpp>

namespace {

using namespace capsule;
using namespace capsule::wasm;

std::filesystem::path component(const std::string& name) {
  return std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (name + ".wasm");
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::shared_ptr<WasmEngine> engine_or_die(EngineConfig config) {
  auto e = WasmEngine::create(std::move(config));
  if (!e) {
    std::fprintf(stderr, "engine: %s\n", e.error().describe().c_str());
    std::abort();
  }
  return *e;
}

std::shared_ptr<const CompiledComponent> load_or_die(WasmEngine& engine, const std::string& name) {
  auto c = engine.load_file(component(name));
  if (!c) {
    std::fprintf(stderr, "load: %s\n", c.error().describe().c_str());
    std::abort();
  }
  return *c;
}

void BM_ColdCompile(benchmark::State& state) {
  auto engine = engine_or_die({});
  const auto bytes = read_file(component("echo"));
  for (auto _ : state) {
    auto c = engine->load(bytes, "echo.wasm");
    benchmark::DoNotOptimize(c);
  }
  state.SetLabel("echo.wasm " + std::to_string(bytes.size() / 1024) + " KiB");
}
BENCHMARK(BM_ColdCompile)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_CacheHitLoad(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "capsule-bench-cache";
  std::filesystem::remove_all(dir);
  EngineConfig config;
  config.cache_dir = dir;
  auto engine = engine_or_die(config);
  const auto bytes = read_file(component("echo"));
  (void)load_or_die(*engine, "echo");  // populate
  for (auto _ : state) {
    auto c = engine->load(bytes, "echo.wasm");
    if (!c || !(*c)->from_cache()) state.SkipWithError("expected a cache hit");
    benchmark::DoNotOptimize(c);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CacheHitLoad)->Unit(benchmark::kMicrosecond);

void BM_Instantiate(benchmark::State& state) {
  EngineConfig config;
  config.pooling.enabled = state.range(0) != 0;
  auto engine = engine_or_die(config);
  auto compiled = load_or_die(*engine, "echo");
  const ComponentId id{"bench", "echo", "0"};
  for (auto _ : state) {
    auto inst = engine->instantiate(*compiled, {id, {}, nullptr});
    if (!inst) state.SkipWithError(inst.error().describe().c_str());
    benchmark::DoNotOptimize(inst);
  }
  state.SetLabel(config.pooling.enabled ? "pooling" : "on-demand");
}
BENCHMARK(BM_Instantiate)->Arg(1)->Arg(0)->ArgName("pooling")->Unit(benchmark::kMicrosecond);

// range(0): payload bytes. One resumable guest call driven to completion on this thread: the
// generated typed binding (bulk payload copy) plus the future and its poll.
void BM_HandleMessage(benchmark::State& state) {
  auto engine = engine_or_die({});
  auto compiled = load_or_die(*engine, "echo");
  auto inst = engine->instantiate(*compiled, {ComponentId{"bench", "echo", "0"}, {}, nullptr});
  if (!inst || !inst->init({})) {
    state.SkipWithError("instantiate");
    return;
  }
  const ComponentMessage msg{
      ComponentId{"bench", "driver", "0"},
      Payload{0x55, std::vector<std::uint8_t>(static_cast<std::size_t>(state.range(0)), 7)},
      std::nullopt, std::nullopt};
  for (auto _ : state) {
    auto r = inst->handle_message(msg);
    if (!r) state.SkipWithError(r.error().describe().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 2);
}
BENCHMARK(BM_HandleMessage)
    ->Arg(64)
    ->Arg(64 * 1024)
    ->Arg(1 << 20)
    ->ArgName("payload_bytes")
    ->Unit(benchmark::kMicrosecond);

void BM_HealthCall(benchmark::State& state) {
  auto engine = engine_or_die({});
  auto compiled = load_or_die(*engine, "echo");
  auto inst = engine->instantiate(*compiled, {ComponentId{"bench", "echo", "0"}, {}, nullptr});
  if (!inst) {
    state.SkipWithError("instantiate");
    return;
  }
  for (auto _ : state) {
    auto r = inst->health();
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel("no-argument export: the fixed cost of one component call");
}
BENCHMARK(BM_HealthCall)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();

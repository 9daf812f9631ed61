// engine-tour: loads the example components and shows, step by step, what the engine does with
// well-behaved and hostile guests. Usage: capsule-engine-tour <components dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <capsule/wasm/engine.hpp>

namespace {

using namespace capsule;
using namespace capsule::wasm;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

ComponentMessage msg(std::string_view text) {
  return ComponentMessage{ComponentId{"demo", "driver", "0"}, Payload::text(text), std::nullopt,
                          std::nullopt};
}

struct Tour {
  std::shared_ptr<WasmEngine> engine;
  std::filesystem::path dir;
  int failures = 0;

  std::shared_ptr<const CompiledComponent> load(const std::string& name) {
    const auto t0 = Clock::now();
    auto c = engine->load_file(dir / (name + ".wasm"));
    if (!c) {
      std::printf("  ! %s\n", c.error().describe().c_str());
      ++failures;
      return nullptr;
    }
    std::printf("  loaded %-12s %7.2f ms (%s)\n", (name + ".wasm").c_str(), ms_since(t0),
                (*c)->from_cache() ? "precompiled, from cache" : "compiled with Cranelift");
    return *c;
  }

  std::optional<ComponentInstance> start(const std::string& name, ResourceLimits limits = {}) {
    auto compiled = load(name);
    if (!compiled) return std::nullopt;
    auto inst = engine->instantiate(*compiled, {ComponentId{"demo", name, "0"}, limits, nullptr});
    if (!inst || !inst->init({})) {
      ++failures;
      return std::nullopt;
    }
    return std::move(*inst);
  }

  void expect_failure(const std::string& name, ResourceLimits limits, ErrorCode expected) {
    auto inst = start(name, limits);
    if (!inst) return;
    const auto t0 = Clock::now();
    auto r = inst->handle_message(msg("go"));
    if (r || r.error().code != expected) {
      std::printf("  ! expected %s\n", std::string(to_string(expected)).c_str());
      ++failures;
      return;
    }
    const std::string text = r.error().describe();
    std::printf("  stopped after %.0f ms: %s\n", ms_since(t0),
                text.substr(0, text.find('\n')).c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "--help") {
    std::fprintf(
        stderr,
        "usage: %s <components dir>\n  Runs the example components (echo, counter, spin, hog, "
        "trap)\n  through the capsule WasmEngine and shows how limits and errors behave.\n",
        argv[0]);
    return argc == 2 ? 0 : 2;
  }
  const auto cache = std::filesystem::temp_directory_path() / "capsule-engine-tour-cache";
  EngineConfig config;
  config.cache_dir = cache;
  auto engine = WasmEngine::create(config);
  if (!engine) {
    std::fprintf(stderr, "cannot create engine: %s\n", engine.error().describe().c_str());
    return 1;
  }
  Tour tour{*engine, argv[1]};
  std::printf("capsule engine tour: Wasmtime %s, pooling allocator, cache in %s\n\n",
              std::string(WasmEngine::wasmtime_version()).c_str(), cache.c_str());

  std::printf("1. echo replies with what it gets\n");
  if (auto echo = tour.start("echo")) {
    auto r = echo->handle_message(msg("hello, capsule"));
    if (r && *r)
      std::printf("  echo -> \"%s\"\n", (*r)->as_string().c_str());
    else
      ++tour.failures;
  }

  std::printf("\n2. counter keeps state in its own linear memory\n");
  if (auto counter = tour.start("counter")) {
    for (const char* m : {"inc", "inc", "add:40", "get"}) {
      auto r = counter->handle_message(msg(m));
      if (r && *r)
        std::printf("  counter <- %-7s -> %s\n", m, (*r)->as_string().c_str());
      else
        ++tour.failures;
    }
  }

  std::printf("\n3. spin loops forever: fuel stops it\n");
  tour.expect_failure("spin", {0, 50'000'000, std::chrono::milliseconds{10'000}},
                      ErrorCode::kOutOfFuel);
  std::printf("\n4. spin again with unlimited fuel: the wall-time limit stops it\n");
  tour.expect_failure("spin", {0, 1ULL << 62, std::chrono::milliseconds{200}},
                      ErrorCode::kInterrupted);
  std::printf("\n5. hog allocates without end: the memory limit stops it\n");
  tour.expect_failure("hog", {16ULL << 20, 0, {}}, ErrorCode::kMemoryLimit);
  std::printf("\n6. trap executes `unreachable`\n");
  tour.expect_failure("trap", {}, ErrorCode::kTrap);

  std::printf("\n7. a component built for capsule:core@0.2.0 is refused\n");
  auto v2 = (*engine)->load_file(tour.dir / "incompatible" / "echo_wit_v2.wasm");
  if (v2)
    ++tour.failures;
  else
    std::printf("  %s\n", v2.error().describe().c_str());

  std::printf("\n8. after all that, the engine still serves\n");
  if (auto echo = tour.start("echo")) {
    auto r = echo->handle_message(msg("still here"));
    if (r && *r)
      std::printf("  echo -> \"%s\"\n", (*r)->as_string().c_str());
    else
      ++tour.failures;
  }
  const auto s = (*engine)->stats();
  std::printf("\nengine stats: %llu compiles, %llu cache hits, %llu instances\n",
              static_cast<unsigned long long>(s.compiles),
              static_cast<unsigned long long>(s.cache_hits),
              static_cast<unsigned long long>(s.instances_created));
  std::printf("%s\n", tour.failures == 0 ? "tour complete" : "tour had unexpected results");
  return tour.failures == 0 ? 0 : 1;
}

// Per guest language, the same echo behaviour (guest/examples/echo.c, the C baseline,
// guest/examples/python/echo/echo.py, guest/examples/js/echo/echo.js and guest/examples/go/echo):
// component size, cold compile, cache-hit load, instantiate + init, one 64 B handle-message (host
// time and fuel), the resident memory an idle instance adds, and the smallest memory limit under
// which instantiate + init + one call succeed. Same process, same run, C first. async_abi is C
// too, echoing the same way, but it uses the component model's async built-ins and so runs on
// the engine's async-ABI side (Wasmtime's concurrency support): its row is that side's cost.
// Usage: lang_bench [component ...]   (default: echo py_echo js_echo go_echo rust_echo async_abi;
// names under build/components)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <capsule/wasm/engine.hpp>

namespace {

using namespace capsule;
using namespace capsule::wasm;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// No pooling: a memory limit is then only the store limiter's, so the search below can go past
// the pooling slot.
std::shared_ptr<WasmEngine> make_engine(const std::filesystem::path& cache) {
  EngineConfig config;
  config.pooling.enabled = false;
  config.cache_dir = cache;
  auto e = WasmEngine::create(config);
  if (!e) {
    std::fprintf(stderr, "engine: %s\n", e.error().describe().c_str());
    std::exit(1);
  }
  return *e;
}

InstanceOptions options_for(const std::string& name) {
  InstanceOptions o;
  o.id = {"bench", name, "0"};
  return o;
}

ComponentMessage echo_request() {
  ComponentMessage m;
  m.sender = {"bench", "host", "0"};
  m.payload = Payload::text(std::string(64, 'x'));
  m.correlation = 1;
  return m;
}

// Instantiate + init + one call under `memory` bytes; ok when the call echoed.
bool runs_with(WasmEngine& engine, const CompiledComponent& c, std::uint64_t memory) {
  InstanceOptions o = options_for("mem");
  o.limits.memory_bytes = memory;
  auto inst = engine.instantiate(c, o);
  if (!inst || !inst->init({})) return false;
  auto reply = inst->handle_message(echo_request());
  return reply && *reply && (*reply)->bytes.size() == 64;
}

// This process's resident set in KiB: all of it (VmRSS, which counts a shared page once per
// mapping - each instance maps the component's copy-on-write memory image, so the image's pages
// it reads count again per instance though they exist once) and its anonymous part (RssAnon: the
// pages an instance wrote, its private cost).
struct Resident {
  double total_kib = 0, anon_kib = 0;
};

Resident resident() {
  std::ifstream status("/proc/self/status");
  Resident r;
  std::string key;
  double value = 0;
  std::string unit;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value >> unit) {
      r.total_kib = value;
    } else if (key == "RssAnon:" && status >> value >> unit) {
      r.anon_kib = value;
    }
  }
  return r;
}

constexpr int kIdleInstances = 20;

struct Row {
  std::string name;
  double kib = 0, compile_ms = 0, load_ms = 0, instantiate_ms = 0, call_us = 0;
  double idle_rss_kib = 0, idle_anon_kib = 0;
  std::uint64_t fuel = 0, min_memory = 0;
};

Row measure(const std::string& name, const std::filesystem::path& dir) {
  Row row{.name = name};
  const auto file = dir / (name + ".wasm");
  const auto bytes = read_file(file);
  row.kib = static_cast<double>(bytes.size()) / 1024;
  const auto cache = std::filesystem::temp_directory_path() / "capsule-lang-bench-cache";
  std::filesystem::remove_all(cache);

  auto cold = make_engine(cache);
  auto t = Clock::now();
  auto compiled = cold->load(bytes, name + ".wasm");  // compiles, writes the cache
  row.compile_ms = ms_since(t);
  if (!compiled) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), compiled.error().describe().c_str());
    std::exit(1);
  }
  std::vector<double> loads;
  for (int i = 0; i < 5; ++i) {
    auto warm = make_engine(cache);
    t = Clock::now();
    auto c = warm->load(bytes, name + ".wasm");
    loads.push_back(ms_since(t));
    if (!c || !(*c)->from_cache()) std::fprintf(stderr, "%s: cache miss\n", name.c_str());
  }
  row.load_ms = median(loads);

  std::vector<double> inits;
  for (int i = 0; i < 9; ++i) {
    t = Clock::now();
    auto inst = cold->instantiate(**compiled, options_for(name));
    const bool ok = inst && inst->init({});
    inits.push_back(ms_since(t));
    if (!ok) std::fprintf(stderr, "%s: instantiate/init failed\n", name.c_str());
  }
  row.instantiate_ms = median(inits);

  auto inst = cold->instantiate(**compiled, options_for(name));
  if (!inst || !inst->init({})) std::exit(1);
  std::vector<double> calls;
  const auto request = echo_request();
  for (int i = 0; i < 2001; ++i) {
    t = Clock::now();
    auto r = inst->handle_message(request);
    calls.push_back(ms_since(t) * 1000);
    if (!r) std::exit(1);
  }
  row.call_us = median(calls);
  row.fuel = inst->stats().fuel_consumed_last;

  // What one more idle instance costs in RSS: kIdleInstances of them, each initialised and
  // having answered one request (so what a first call touches is counted), then left idle.
  {
    const Resident before = resident();
    std::vector<ComponentInstance> idle;
    for (int i = 0; i < kIdleInstances; ++i) {
      auto extra = cold->instantiate(**compiled, options_for(name));
      if (!extra || !extra->init({}) || !extra->handle_message(request)) std::exit(1);
      idle.push_back(std::move(*extra));
    }
    const Resident after = resident();
    row.idle_rss_kib = (after.total_kib - before.total_kib) / kIdleInstances;
    row.idle_anon_kib = (after.anon_kib - before.anon_kib) / kIdleInstances;
  }

  // Smallest limit, to 64 KiB (one wasm page), between 64 KiB and 256 MiB.
  std::uint64_t lo = 0, hi = 4096;  // in pages: lo fails (or is 0), hi works
  if (!runs_with(*cold, **compiled, hi * 65536)) {
    row.min_memory = 0;
  } else {
    while (hi - lo > 1) {
      const std::uint64_t mid = (lo + hi) / 2;
      (runs_with(*cold, **compiled, mid * 65536) ? hi : lo) = mid;
    }
    row.min_memory = hi * 65536;
  }
  std::filesystem::remove_all(cache);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (names.empty()) {
    names = {"echo", "py_echo", "js_echo", "go_echo", "rust_echo", "async_abi"};
  }
  std::printf(
      "| component | size | cold compile | cached load (median of 5) | instantiate + init "
      "(median of 9) | handle-message 64 B (median of 2001) | fuel per call | RSS per idle "
      "instance (anonymous) | smallest memory limit that runs |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& name : names) {
    const Row r = measure(name, CAPSULE_COMPONENTS_DIR);
    std::printf(
        "| %s | %.0f KiB | %.1f ms | %.2f ms | %.3f ms | %.2f us | %llu | %.0f KiB (%.0f KiB) | "
        "%.3f MiB (%llu pages) |\n",
        r.name.c_str(), r.kib, r.compile_ms, r.load_ms, r.instantiate_ms, r.call_us,
        static_cast<unsigned long long>(r.fuel), r.idle_rss_kib, r.idle_anon_kib,
        static_cast<double>(r.min_memory) / (1 << 20),
        static_cast<unsigned long long>(r.min_memory / 65536));
    std::fflush(stdout);
  }
  return 0;
}

// One wasi:http/proxy request through the engine's C++ API (HttpProxyInstance::handle, no HTTP
// server), next to the capsule:core calls it is measured against, in the same process and run:
//   c echo       handle-message, 64 B, guest/examples/echo.c (the engine's baseline call)
//   py echo      handle-message, 64 B, guest/examples/python/echo (same language as the proxy)
//   py http      GET / on py_http_hello, one instance reused for every request
//   py http new  GET / on a fresh instance per request (instantiate + handle: per-request
//                isolation)
//   c http       GET / on c_http_hello (guest/examples/http/http_hello.c), reused
//   c http new   the same, a fresh instance per request
// Prints requests/s and the p50/p99 of one request's host time. Usage:
//   http_proxy_bench [seconds per row, default 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <capsule/wasm/engine.hpp>

namespace {

using namespace capsule;
using namespace capsule::wasm;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "http_proxy_bench: %s\n", what.c_str());
  std::exit(1);
}

std::shared_ptr<const CompiledComponent> load(WasmEngine& engine, const std::string& name) {
  auto c = engine.load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (name + ".wasm"));
  if (!c) die(c.error().describe());
  return *c;
}

// Python needs more than the default 32 MiB per memory.
constexpr std::uint64_t kMemory = 64ULL << 20;

ComponentMessage echo_request() {
  ComponentMessage m;
  m.sender = {"bench", "host", "0"};
  m.payload = Payload::text(std::string(64, 'x'));
  m.correlation = 1;
  return m;
}

ComponentInstance actor(WasmEngine& engine, const CompiledComponent& c) {
  InstanceOptions o;
  o.id = {"bench", c.name(), "0"};
  o.limits.memory_bytes = kMemory;
  auto inst = engine.instantiate(c, o);
  if (!inst) die(inst.error().describe());
  if (Status s = inst->init({}); !s) die(s.error().describe());
  return std::move(*inst);
}

HttpProxyInstance proxy(WasmEngine& engine, const CompiledComponent& c) {
  HttpProxyOptions o;
  o.id = {"bench", c.name(), "0"};
  o.limits.memory_bytes = kMemory;
  auto inst = engine.instantiate_http_proxy(c, o);
  if (!inst) die(inst.error().describe());
  return std::move(*inst);
}

// Runs `one` for `seconds` after a short warm-up; every call must succeed.
void row(const char* name, double seconds, const std::function<void()>& one) {
  for (int i = 0; i < 20; ++i) one();
  std::vector<double> us;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const auto t0 = Clock::now();
  while (Clock::now() < end) {
    const auto t = Clock::now();
    one();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  const double total = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(us.begin(), us.end());
  std::printf("| %-12s | %9zu | %10.0f | %9.1f | %9.1f |\n", name, us.size(),
              static_cast<double>(us.size()) / total, us[us.size() / 2],
              us[std::min(us.size() - 1, us.size() * 99 / 100)]);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  // On-demand instances: with the pooling allocator a fresh 18 MB Python instance per request
  // measured slower here (p50 5.6 ms, p99 0.4 s against 3.9 ms and 14 ms on one busy run).
  EngineConfig config;
  config.pooling.enabled = false;
  auto engine_r = WasmEngine::create(config);
  if (!engine_r) die(engine_r.error().describe());
  WasmEngine& engine = **engine_r;
  auto c_echo = load(engine, "echo");
  auto py_echo = load(engine, "py_echo");
  auto hello = load(engine, "py_http_hello");
  auto c_hello = load(engine, "c_http_hello");

  std::printf("| call         |  requests |  req/s     |  p50 us   |  p99 us   |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  const ComponentMessage msg = echo_request();
  auto c_inst = actor(engine, *c_echo);
  row("c echo", seconds, [&] {
    if (auto r = c_inst.handle_message(msg); !r) die(r.error().describe());
  });
  auto py_inst = actor(engine, *py_echo);
  row("py echo", seconds, [&] {
    if (auto r = py_inst.handle_message(msg); !r) die(r.error().describe());
  });
  HttpRequest req;
  req.path_with_query = "/";
  auto reused = proxy(engine, *hello);
  row("py http", seconds, [&] {
    auto r = reused.handle(req);
    if (!r || r->status != 200)
      die(r ? "status " + std::to_string(r->status) : r.error().describe());
  });
  row("py http new", seconds, [&] {
    auto fresh = proxy(engine, *hello);
    auto r = fresh.handle(req);
    if (!r || r->status != 200)
      die(r ? "status " + std::to_string(r->status) : r.error().describe());
  });
  auto c_reused = proxy(engine, *c_hello);
  row("c http", seconds, [&] {
    auto r = c_reused.handle(req);
    if (!r || r->status != 200)
      die(r ? "status " + std::to_string(r->status) : r.error().describe());
  });
  row("c http new", seconds, [&] {
    auto fresh = proxy(engine, *c_hello);
    auto r = fresh.handle(req);
    if (!r || r->status != 200)
      die(r ? "status " + std::to_string(r->status) : r.error().describe());
  });
  return 0;
}

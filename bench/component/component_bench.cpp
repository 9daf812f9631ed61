// Component layer benchmarks, each next to the engine alone measured in the same run:
//   spawn (instantiate + init, as an actor under a supervisor) p50/p99,
//   host -> component request/reply, component -> component request/reply round trip,
//   component -> component fire-and-forget throughput, correlation tracker begin+resolve.
// Usage: component_bench <components dir>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include <capsule/component/component_runtime.hpp>

#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::percentiles;
using bench::us;
using bench::wait_until;

void row(const char* what, double ours, double baseline, const char* unit,
         const char* baseline_name) {
  bench::print_ratio_row(44, what, ours, baseline, unit, baseline_name);
}

}  // namespace

int main(int argc, char** argv) {
  const auto components = bench::components_dir(argc, argv);
  if (!components) return 2;
  const std::filesystem::path& dir = *components;
  wasm::EngineConfig config;
  config.pooling.total_component_instances = 4000;
  config.pooling.total_memories = 4000;
  config.pooling.total_tables = 4000;
  auto engine = *wasm::WasmEngine::create(config);
  auto echo = *engine->load_file(dir / "echo.wasm");
  auto relay = *engine->load_file(dir / "relay.wasm");
  rt::ActorSystem system;
  RuntimeConfig runtime_config;
  runtime_config.default_mailbox =
      rt::MailboxConfig::bounded(1 << 20, rt::BackpressurePolicy::kBlock);
  ComponentRuntime runtime(system, engine, runtime_config);

  std::printf("%-44s %19s %19s %9s\n", "benchmark", "capsule", "baseline", "ratio");

  // -- spawn -------------------------------------------------------------------------------------
  constexpr int kSpawns = 1000;
  std::vector<double> engine_spawn, actor_spawn;
  for (int i = 0; i < kSpawns; ++i) {
    const auto t0 = Clock::now();
    auto inst =
        engine->instantiate(*echo, {ComponentId{"b", "raw", std::to_string(i)}, {}, nullptr});
    if (!inst || !inst->init({})) return 1;
    engine_spawn.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kSpawns; ++i) {
    ComponentSpec spec;
    spec.ns = "spawn";
    spec.name = "e" + std::to_string(i);
    spec.component = echo;
    const auto t0 = Clock::now();
    if (!runtime.start(spec)) return 1;
    actor_spawn.push_back(us(Clock::now() - t0));
  }
  const auto es = percentiles(engine_spawn), as = percentiles(actor_spawn);
  row("component spawn p50 (instantiate+init+actor)", as.p50, es.p50, "us",
      "engine instantiate+init");
  row("component spawn p99", as.p99, es.p99, "us", "engine instantiate+init");
  for (int i = 0; i < kSpawns; ++i)
    static_cast<void>(runtime.stop("spawn", "e" + std::to_string(i)));

  // -- host -> component request/reply ------------------------------------------------------------
  ComponentSpec echo_spec;
  echo_spec.ns = "bench";
  echo_spec.name = "echo";
  echo_spec.component = echo;
  echo_spec.instances = 2;
  auto echo_ids = *runtime.start(echo_spec);
  auto direct = *engine->instantiate(*echo, {ComponentId{"b", "direct", "0"}, {}, nullptr});
  const ComponentMessage msg{
      ComponentRuntime::host_id(),
      Payload::text("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
      std::nullopt, std::nullopt};
  constexpr int kCalls = 20000;
  std::vector<double> direct_calls, host_calls, host_asks;
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    if (!direct.handle_message(msg)) return 1;
    direct_calls.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = runtime.call(echo_ids[0], msg.payload, std::chrono::seconds(10));
    if (!r) return 1;
    host_calls.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = runtime.ask(echo_ids[0], msg.payload, std::chrono::seconds(10)).get();
    if (!r) return 1;
    host_asks.push_back(us(Clock::now() - t0));
  }
  const auto dc = percentiles(direct_calls), hc = percentiles(host_calls),
             ha = percentiles(host_asks);
  row("host->component call() p50 (64 B)", hc.p50, dc.p50, "us", "engine handle-message");
  row("host->component call() p99 (64 B)", hc.p99, dc.p99, "us", "engine handle-message");
  row("host->component ask().get() p50 (64 B)", ha.p50, dc.p50, "us", "engine handle-message");

  // -- component -> component round trip ----------------------------------------------------------
  ComponentSpec pinger;
  pinger.ns = "bench";
  pinger.name = "pinger";
  pinger.component = relay;
  pinger.config = {{"mode", "pinger"},
                   {"target", "bench/echo/1"},
                   {"timeout_ms", "10000"},
                   {"done_topic", "ping.done"}};
  if (!runtime.start(pinger)) return 1;
  std::promise<void> pinged;
  auto sub =
      *runtime.subscribe_host("ping.done", [&](const ComponentMessage&) { pinged.set_value(); });
  constexpr int kRoundTrips = 20000;
  auto t0 = Clock::now();
  static_cast<void>(runtime.send(ComponentRuntime::host_id(), {"bench", "pinger", "0"},
                                 Payload::text(std::to_string(kRoundTrips))));
  pinged.get_future().wait();
  const double rtt = us(Clock::now() - t0) / kRoundTrips;
  row("component->component round trip (mean)", rtt, dc.p50 * 2, "us", "2 engine calls");

  // -- component -> component fire-and-forget throughput ------------------------------------------
  ComponentSpec sinks = echo_spec;
  sinks.name = "sink";
  sinks.instances = 2;
  if (auto r = runtime.start(sinks); !r) {
    std::fprintf(stderr, "start sinks: %s\n", r.error().describe().c_str());
    return 1;
  }
  ComponentSpec burst;
  burst.ns = "bench";
  burst.name = "burst";
  burst.component = relay;
  burst.config = {{"mode", "burst"}, {"target", "bench/sink"}, {"instances", "2"}};
  if (auto r = runtime.start(burst); !r) {
    std::fprintf(stderr, "start burst: %s\n", r.error().describe().c_str());
    return 1;
  }
  constexpr int kBurst = 400000;
  auto processed = [&] {
    std::uint64_t n = 0;
    for (const auto& info : runtime.list()) {
      if (info.id.name == "sink") n += info.mailbox.processed;
    }
    return n;
  };
  const auto base = processed();
  t0 = Clock::now();
  static_cast<void>(runtime.send(ComponentRuntime::host_id(), {"bench", "burst", "0"},
                                 Payload::text(std::to_string(kBurst))));
  if (!wait_until([&] { return processed() >= base + kBurst; })) {
    std::fprintf(stderr, "burst: only %llu of %d processed\n",
                 static_cast<unsigned long long>(processed() - base), kBurst);
    return 1;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double direct_rate = 1e6 / dc.p50;
  row("component->component messages/s (1 -> 2)", kBurst / seconds, direct_rate, "msg/s",
      "1 engine caller, no actors");

  // -- correlation tracker -----------------------------------------------------------------------
  CorrelationTracker tracker;
  constexpr int kOps = 1'000'000;
  t0 = Clock::now();
  for (int i = 0; i < kOps; ++i) {
    auto id = tracker.begin(
        {ComponentRuntime::host_id(), echo_ids[0], {}, [](const CallbackResponse&) {}});
    tracker.resolve(id, CallbackResponse{}, RequestOutcome::kReplied);
  }
  row("correlation begin+resolve", us(Clock::now() - t0) * 1000 / kOps, 50.0, "ns",
      "seed claim: lookup < 50 ns");
  std::printf("\ncorrelations: %llu replied, %llu timed out, %llu late\n",
              static_cast<unsigned long long>(runtime.correlation_stats().replied),
              static_cast<unsigned long long>(runtime.correlation_stats().timed_out),
              static_cast<unsigned long long>(runtime.correlation_stats().late_replies));
  return 0;
}

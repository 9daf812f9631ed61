// Virtual actors (on-demand components), with the cart component and real SQLite storage:
//  1. Activation latency: a host request to a name never seen (cold: spawn + instantiate + init
//     with its storage read + the handler) next to the same request to an active name (warm),
//     in alternating blocks of 100 in one run, one request at a time.
//  2. A million distinct names, each sent one request, at most `max_active` active at once: every
//     one must answer, and the most names ever active is sampled. Requests are kept `window` in
//     flight, as a front end with bounded concurrency would.
// Usage: activation_bench <components dir> [names=1000000] [max_active=10000] [window=4096]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <semaphore>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <capsule/component/component_runtime.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>
#include <capsule/wasm/component_shape.hpp>
#include <capsule/wasm/engine_sizing.hpp>

#include "../common/bench_process.hpp"
#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::or_die;
using bench::percentiles;
using bench::us;

constexpr int kLatencySamples = 2000;
constexpr int kBlock = 100;

ComponentId cart(const std::string& name) {
  return ComponentId{"shop", "cart", name};
}

double call_us(ComponentRuntime& runtime, const ComponentId& to) {
  const auto t0 = Clock::now();
  auto r = runtime.call(to, Payload::text("count"), std::chrono::seconds(30));
  const double took = us(Clock::now() - t0);
  if (!r || r->as_string() != "0") {
    std::fprintf(stderr, "%s answered wrong: %s\n", to.to_string().c_str(),
                 r ? r->as_string().c_str() : r.error().describe().c_str());
    std::exit(1);
  }
  return took;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <components dir> [names] [max_active] [window]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::uint64_t names = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  const auto max_active = static_cast<std::uint32_t>(argc > 3 ? std::stoul(argv[3]) : 10'000);
  const std::size_t window = argc > 4 ? std::stoul(argv[4]) : 4096;

  // Sized as `capsule run` sizes a host whose manifest has this component.
  const std::uint64_t memory = 1ULL << 20;
  const auto shape = or_die(wasm::read_component_shape(dir / "cart.wasm"), "read cart.wasm");
  const wasm::InstanceDemand demand{"shop/cart", max_active, memory, shape.memories};
  auto sizing = or_die(wasm::size_engine({&demand, 1}, wasm::HostCapacity::probe(), memory),
                       "size the engine");
  wasm::EngineConfig config;
  sizing.apply(config);
  config.default_limits.memory_bytes = memory;
  auto engine = or_die(wasm::WasmEngine::create(config), "engine");
  const auto db = std::filesystem::temp_directory_path() /
                  ("capsule_activation_bench_" + std::to_string(::getpid()) + ".db");
  RuntimeConfig rc;
  rc.storage = std::shared_ptr<storage::KvBackend>(
      or_die(storage::SqliteKvBackend::open(db), "open SQLite"));
  rt::ActorSystem system;
  auto runtime = std::make_unique<ComponentRuntime>(system, engine, rc);

  ComponentSpec spec;
  spec.ns = "shop";
  spec.name = "cart";
  spec.component = or_die(engine->load_file(dir / "cart.wasm"), "load cart.wasm");
  spec.limits.memory_bytes = memory;
  spec.on_demand = OnDemandActivation{std::chrono::minutes(10), max_active};
  static_cast<void>(or_die(runtime->start(spec), "start shop/cart on demand"));

  // 1. Cold and warm in alternating blocks, so both see the same machine. A warm request right
  //    after a cold one would also pay for waking the workers that parked while the cold one's
  //    init waited on SQLite (measured: ~34 us against ~3.6 us in steady state), so each block of
  //    warm requests goes to names activated by the block before.
  std::vector<double> cold;
  std::vector<double> warm;
  cold.reserve(kLatencySamples);
  warm.reserve(kLatencySamples);
  for (int block = 0; block < kLatencySamples / kBlock; ++block) {
    for (int i = 0; i < kBlock; ++i) {
      cold.push_back(call_us(*runtime, cart("latency-" + std::to_string(block * kBlock + i))));
    }
    for (int i = 0; i < kBlock; ++i) {
      warm.push_back(call_us(*runtime, cart("latency-" + std::to_string(block * kBlock + i))));
    }
  }
  const auto c = percentiles(cold);
  const auto w = percentiles(warm);

  // 2. A million names.
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> wrong{0};
  std::atomic<std::size_t> most_active{0};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      for (const auto& s : runtime->activation_stats()) {
        if (s.active > most_active.load()) most_active.store(s.active);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::counting_semaphore<> slots(static_cast<std::ptrdiff_t>(window));
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < names; ++i) {
    slots.acquire();
    auto sent = runtime->request(
        ComponentRuntime::privileged_caller(), cart("user-" + std::to_string(i)),
        Payload::text("count"), std::chrono::seconds(120), [&](CallbackResponse r) {
          if (r.reply && r.reply->as_string() == "0") {
            answered.fetch_add(1);
          } else {
            if (wrong.fetch_add(1) < 5) {
              std::fprintf(stderr, "wrong answer: %s\n",
                           r.error ? r.error->describe().c_str() : "unexpected reply");
            }
          }
          slots.release();
        });
    if (!sent) {
      std::fprintf(stderr, "request %llu refused: %s\n", static_cast<unsigned long long>(i),
                   sent.error().describe().c_str());
      return 1;
    }
    if (const std::uint64_t sent_so_far = i + 1; sent_so_far % 100'000 == 0) {
      std::fprintf(stderr, "%llu names sent, %.1f s\n",
                   static_cast<unsigned long long>(sent_so_far),
                   std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  for (std::size_t i = 0; i < window; ++i) slots.acquire();  // every outcome is in
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  sampling.store(false);
  sampler.join();
  const auto stats = runtime->activation_stats().front();
  const double rss = bench::rss_mib();

  bench::print_table_header();
  bench::print_table_row(
      {"on-demand cart: request to a name never seen (cold: spawn, instantiate, "
       "init reading SQLite, handler), p50",
       c.p50, "us", w.p50, "the same request to an active name", ""});
  bench::print_table_row({"on-demand cart: the same, p99", c.p99, "us", w.p99,
                          "warm request to an active name, p99", ""});
  const std::string what = std::to_string(names) + " distinct names, one request each, at most " +
                           std::to_string(max_active) + " active, " + std::to_string(window) +
                           " in flight: names per second (each an activation and a retirement)";
  bench::print_table_row(
      {what, static_cast<double>(names) / seconds, "names/s", std::nullopt, "", ""});
  std::printf(
      "\nanswered %llu of %llu, wrong %llu; most active at once %zu (max_active %u); "
      "activations %llu, evictions %llu, idle retirements %llu; %.1f s; RSS %.0f MiB\n",
      static_cast<unsigned long long>(answered.load()), static_cast<unsigned long long>(names),
      static_cast<unsigned long long>(wrong.load()), most_active.load(), max_active,
      static_cast<unsigned long long>(stats.activations),
      static_cast<unsigned long long>(stats.evictions),
      static_cast<unsigned long long>(stats.idle_retirements), seconds, rss);
  std::printf("engine: %s\n", sizing.summary.c_str());
  runtime.reset();
  std::filesystem::remove(db);
  return answered.load() == names && wrong.load() == 0 && most_active.load() <= max_active ? 0 : 1;
}

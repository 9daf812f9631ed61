// The host under a hostile flood: host RSS and a canary's request/reply latency while one
// hostile instance (guest/hostile/hostile.c) floods the host as fast as its quotas let it, next
// to the same canary on an idle host, in one run. Each flood runs continuously (the attack is
// asked again as soon as it answers) while the canary is pinged 2000 times, one at a time.
// Checks, audit (in memory) and SQLite storage are on, as on a CLI host; quotas are the
// defaults. Usage: flood_bench <components dir>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <capsule/component/component_runtime.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

#include "../common/bench_process.hpp"
#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::or_die;
using bench::percentiles;
using bench::rss_mib;
using bench::us;
using security::Action;

constexpr int kCanaryCalls = 2000;

struct Host {
  std::filesystem::path dir;
  std::shared_ptr<wasm::WasmEngine> engine = *wasm::WasmEngine::create();
  rt::ActorSystem system;
  std::shared_ptr<security::PolicyEngine> policy = std::make_shared<security::PolicyEngine>();
  std::unique_ptr<ComponentRuntime> runtime;
  std::atomic<std::uint64_t> log_lines{0};

  explicit Host(std::filesystem::path d) : dir(std::move(d)) {
    std::filesystem::create_directories(dir);
    RuntimeConfig config;
    config.policy = policy;
    config.audit = std::make_shared<security::MemoryAuditSink>();
    config.storage = or_die(storage::SqliteKvBackend::open(dir / "flood.db"), "storage");
    config.log_sink = [this](const ComponentId&, wasm::LogLevel, const std::string&,
                             const wasm::KeyValues&) { log_lines.fetch_add(1); };
    runtime = std::make_unique<ComponentRuntime>(system, engine, config);
  }
  ~Host() {
    runtime.reset();
    system.shutdown();
    std::filesystem::remove_all(dir);
  }

  ComponentId start(const std::string& name, const std::filesystem::path& wasm,
                    wasm::KeyValues config, const std::vector<security::Capability>& caps) {
    ComponentSpec s;
    s.ns = "test";
    s.name = name;
    s.component = or_die(engine->load_file(wasm), "load");
    s.config = std::move(config);
    s.permissions = {caps, caps, {}};
    s.supervision.max_restarts = 1'000'000;
    return or_die(runtime->start(s), "start").front();
  }
};

struct Row {
  std::string label;
  bench::Percentiles latency;
  double rss;
  std::uint64_t attack_rounds;
  std::uint64_t canary_refusals;  // pings refused by a full canary mailbox, then retried
};

Row measure(Host& host, const ComponentId& canary, const std::string& label,
            const ComponentId* attacker) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> rounds{0};
  std::jthread flood([&] {
    while (attacker != nullptr && !stop.load()) {
      static_cast<void>(
          host.runtime->call(*attacker, Payload::text("go"), std::chrono::seconds(30)));
      rounds.fetch_add(1);
      // The driver is host code, not the attack: without a pause it would be a third busy
      // thread on a 2-core machine (the guest's worker, the canary's caller, it), and the
      // canary's latency would measure the OS scheduler's time slices.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the flood is under way
  std::vector<double> lat;
  lat.reserve(kCanaryCalls);
  std::uint64_t refusals = 0;
  double peak_rss = rss_mib();
  for (int i = 0; i < kCanaryCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = host.runtime->call(canary, Payload::text("ping"), std::chrono::seconds(10));
    // A full canary mailbox refuses at once: the ping is retried, and its latency includes the
    // wait (what a client of the canary sees).
    while (!r && r.error().code == ErrorCode::kMailboxFull) {
      ++refusals;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      r = host.runtime->call(canary, Payload::text("ping"), std::chrono::seconds(10));
    }
    lat.push_back(us(Clock::now() - t0));
    if (!r) {
      std::fprintf(stderr, "canary failed during %s: %s\n", label.c_str(),
                   r.error().describe().c_str());
      std::exit(1);
    }
    if (i % 100 == 0) peak_rss = std::max(peak_rss, rss_mib());
  }
  stop.store(true);
  return {label, percentiles(std::move(lat)), peak_rss, rounds.load(), refusals};
}

}  // namespace

int main(int argc, char** argv) {
  auto dir = bench::components_dir(argc, argv);
  if (!dir) return 2;
  Host host(std::filesystem::temp_directory_path() /
            ("capsule_flood_bench_" + std::to_string(::getpid())));
  const ComponentId canary = host.start("canary", *dir / "echo.wasm", {}, {});
  std::vector<Row> rows;
  rows.push_back(measure(host, canary, "idle", nullptr));
  struct Attack {
    const char* name;
    std::vector<security::Capability> caps;
  };
  const std::vector<Attack> attacks{
      {"send-flood", {{Action::kSend, "test/canary/*", {}}}},
      {"publish-flood", {{Action::kPublish, "**", {}}}},
      {"request-flood", {{Action::kRequest, "test/hostile/*", {}}}},
      {"log-flood", {}},
      {"denied-flood", {}},
      {"storage-flood", {{Action::kStorageWrite, "**", {}}}},
      {"loop", {}},
  };
  for (const auto& a : attacks) {
    const ComponentId hostile =
        host.start("hostile", *dir / "hostile.wasm", {{"attack", a.name}}, a.caps);
    rows.push_back(measure(host, canary, a.name, &hostile));
    static_cast<void>(host.runtime->stop("test", "hostile"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  std::printf("canary request/reply during a hostile flood (2000 calls each, one at a time)\n");
  std::printf("%-16s %10s %10s %10s %10s %12s %10s\n", "flood", "p50 us", "p99 us", "p99/idle",
              "RSS MiB", "attack runs", "refused");
  const double idle_p99 = rows.front().latency.p99;
  for (const auto& r : rows) {
    std::printf("%-16s %10.1f %10.1f %9.2fx %10.1f %12llu %10llu\n", r.label.c_str(), r.latency.p50,
                r.latency.p99, r.latency.p99 / idle_p99, r.rss,
                static_cast<unsigned long long>(r.attack_rounds),
                static_cast<unsigned long long>(r.canary_refusals));
  }
  std::printf("guest log lines written: %llu\n",
              static_cast<unsigned long long>(host.log_lines.load()));
  return 0;
}

// One host of a cluster with many instances: the process's thread count and RSS with N echo
// instances started and announced, next to the same host before it started any (same run), and
// a cross-host request to the last instance. Each instance has its own NATS subscription; the
// delivery threads are a shared pool (BridgeConfig::delivery_threads).
// Usage: scale_bench <components dir> [instances=10000] [delivery_threads=2]
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <capsule/cluster/nats_bridge.hpp>

#include "../common/bench_process.hpp"
#include "../common/bench_util.hpp"
#include "cluster_host.hpp"
#include "nats_server.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::rss_mib;

int thread_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}

struct Host : bench::ClusterHost {
  Host(const std::string& name, const std::string& url, std::shared_ptr<wasm::WasmEngine> engine,
       int delivery_threads)
      : ClusterHost(config(name, url, delivery_threads), std::move(engine)) {}
  static cluster::BridgeConfig config(const std::string& name, const std::string& url,
                                      int delivery_threads) {
    auto c = bridge_config(name, url, "scale");
    c.heartbeat_interval = cluster::BridgeConfig{}.heartbeat_interval;  // the default, as before
    c.delivery_threads = delivery_threads;
    return c;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <components dir> [instances] [delivery_threads]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::uint32_t instances =
      argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 10000;
  const int delivery = argc > 3 ? std::stoi(argv[3]) : 2;
  cluster::testing::NatsServer server;
  if (!server.running()) {
    std::fprintf(stderr, "could not start nats-server\n");
    return 1;
  }
  wasm::EngineConfig ec;
  ec.pooling.total_component_instances = instances + 100;
  ec.pooling.total_memories = 2 * (instances + 100);
  ec.pooling.total_tables = 4 * (instances + 100);
  ec.pooling.max_memory_bytes = 4ULL << 20;
  ec.default_limits.memory_bytes = 4ULL << 20;
  auto engine = *wasm::WasmEngine::create(ec);
  auto echo = *engine->load_file(dir / "echo.wasm");
  Host big("big", server.url(), engine, delivery);
  Host peer("peer", server.url(), engine, delivery);
  const int threads_before = thread_count();
  const double rss_before = rss_mib();

  ComponentSpec spec;
  spec.ns = "scale";
  spec.name = "echo";
  spec.component = echo;
  spec.instances = instances;
  const auto t0 = bench::Clock::now();
  auto ids = big.runtime->start(spec);
  if (!ids) {
    std::fprintf(stderr, "start: %s\n", ids.error().describe().c_str());
    return 1;
  }
  static_cast<void>(big.bridge->announce());
  const double start_s = std::chrono::duration<double>(bench::Clock::now() - t0).count();
  const ComponentId last = ids->back();
  const bool seen = bench::wait_until([&] {
    for (const auto& h : peer.bridge->hosts()) {
      if (h.name == "big" && h.components >= instances) return true;
    }
    return false;
  });
  auto reply = peer.runtime->call(last, Payload::text("far"), std::chrono::seconds(10));
  std::printf(
      "one cluster host with %u echo instances (delivery_threads=%d, 2 hosts in this "
      "process)\n",
      instances, delivery);
  std::printf("%-44s %10d -> %d\n", "process threads (before -> after)", threads_before,
              thread_count());
  std::printf("%-44s %10.1f -> %.1f MiB\n", "process RSS (before -> after)", rss_before, rss_mib());
  std::printf("%-44s %10.2f s\n", "start + announce", start_s);
  std::printf("%-44s %10s\n", "peer sees all instances", seen ? "yes" : "NO");
  std::printf("%-44s %10s\n", "cross-host request to the last instance",
              reply && reply->as_string() == "far" ? "ok"
              : reply                              ? "wrong"
                                                   : "failed");
  return 0;
}

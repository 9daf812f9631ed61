// Virtual actors across hosts: the latency of a request to a name of an on-demand component
// (guest/examples/cart.c) whose owner is the other host, cold (its first message: the owner
// instantiates, runs init, which reads the name's storage) and warm (already active), next to
// the same requests to names this host owns, in the same run. Two hosts (runtime + actor system
// + NATS connection each) in this process over a nats-server it starts on loopback; storage is
// one SQLite file both hosts share (as JetStream KV would be shared between processes).
// Usage: remote_activation_bench <components dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

#include "../common/bench_util.hpp"
#include "cluster_host.hpp"
#include "nats_server.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::percentiles;
using bench::us;

constexpr int kNames = 300;  // per host and per kind (cold, warm)

// Both hosts share one storage backend, as hosts of a cluster share JetStream KV.
struct Host : bench::ClusterHost {
  Host(const std::string& name, const std::string& url, std::shared_ptr<wasm::WasmEngine> engine,
       std::shared_ptr<storage::KvBackend> kv)
      : ClusterHost(bridge_config(name, url), std::move(engine), with_storage(std::move(kv))) {}
  static RuntimeConfig with_storage(std::shared_ptr<storage::KvBackend> kv) {
    RuntimeConfig rc;
    rc.storage = std::move(kv);
    return rc;
  }
};

// One request's latency in microseconds (-1 if it failed).
double timed_call(Host& from, const ComponentId& to) {
  const auto t0 = Clock::now();
  auto r = from.runtime->call(to, Payload::text("count"), std::chrono::seconds(10));
  const double took = us(Clock::now() - t0);
  if (!r) std::fprintf(stderr, "%s: %s\n", to.to_string().c_str(), r.error().describe().c_str());
  return r ? took : -1;
}

void print(const char* what, const std::vector<double>& samples) {
  const auto p = percentiles(samples);
  std::printf("%-52s p50 %9.1f us   p99 %9.1f us   (n=%zu)\n", what, p.p50, p.p99, samples.size());
}

}  // namespace

int main(int argc, char** argv) {
  auto dir = bench::components_dir(argc, argv);
  if (!dir) return 2;
  cluster::testing::NatsServer server;
  if (!server.running()) {
    std::fprintf(stderr, "nats-server did not start\n");
    return 1;
  }
  wasm::EngineConfig ec;
  ec.pooling.total_component_instances = 4 * kNames + 16;
  ec.pooling.total_memories = 4 * kNames + 16;
  ec.pooling.total_tables = 4 * kNames + 16;
  auto engine = *wasm::WasmEngine::create(ec);
  const auto db = std::filesystem::temp_directory_path() /
                  ("capsule_remote_activation_bench_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(db);
  std::shared_ptr<storage::KvBackend> kv(std::move(*storage::SqliteKvBackend::open(db)));
  auto cart = engine->load_file(*dir / "cart.wasm");
  if (!cart) {
    std::fprintf(stderr, "cart.wasm: %s\n", cart.error().describe().c_str());
    return 1;
  }
  int status = 0;
  {
    Host alpha("alpha", server.url(), engine, kv);
    Host beta("beta", server.url(), engine, kv);
    for (Host* h : {&alpha, &beta}) {
      ComponentSpec spec;
      spec.ns = "shop";
      spec.name = "cart";
      spec.component = *cart;
      spec.on_demand = OnDemandActivation{std::chrono::minutes(10), 2 * kNames + 8};
      if (!h->runtime->start(spec)) return 1;
      static_cast<void>(h->bridge->announce());
    }
    // Names by owner, once both hosts see each other load the cart.
    std::vector<ComponentId> local, remote;
    const bool settled = bench::wait_until(
        [&] {
          local.clear();
          remote.clear();
          for (int i = 0; local.size() < kNames || remote.size() < kNames; ++i) {
            const ComponentId id{"shop", "cart", "u" + std::to_string(i)};
            const std::string owner = alpha.bridge->name_owner(id);
            if (owner != beta.bridge->name_owner(id) || owner.empty()) return false;
            auto& list = owner == "alpha" ? local : remote;
            if (list.size() < kNames) list.push_back(id);
          }
          return true;
        },
        std::chrono::seconds(10));
    if (!settled) {
      std::fprintf(stderr, "the hosts did not agree on the names' owners\n");
      return 1;
    }
    // Cold and warm alternate between local and remote names so both see the same machine.
    std::vector<double> local_cold, remote_cold, local_warm, remote_warm;
    for (int i = 0; i < kNames; ++i) {
      local_cold.push_back(timed_call(alpha, local[i]));
      remote_cold.push_back(timed_call(alpha, remote[i]));
    }
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < kNames; ++i) {
        local_warm.push_back(timed_call(alpha, local[i]));
        remote_warm.push_back(timed_call(alpha, remote[i]));
      }
    }
    for (const auto* v : {&local_cold, &remote_cold, &local_warm, &remote_warm}) {
      for (const double x : *v) status |= x < 0 ? 1 : 0;
    }
    std::printf(
        "virtual actors across two hosts, request \"count\" to shop/cart/<name> from alpha\n");
    print("local name, warm (alpha owns it, active)", local_warm);
    print("remote name, warm (beta owns it, active)", remote_warm);
    print("local name, cold (activation: instantiate+init+read)", local_cold);
    print("remote name, cold (beta activates it)", remote_cold);
    const auto lw = percentiles(local_warm), rw = percentiles(remote_warm);
    const auto rc = percentiles(remote_cold);
    std::printf("remote warm / local warm p50: %.1fx; remote cold - remote warm p50: %.1f us\n",
                rw.p50 / lw.p50, rc.p50 - rw.p50);
  }
  std::filesystem::remove(db);
  return status;
}

// Virtual actors across hosts: the latency of a request to a name of an on-demand component
// (guest/examples/cart.c) whose owner is the other host, cold (its first message: the owner
// instantiates, runs init, which reads the name's storage) and warm (already active), next to
// the same requests to names this host owns, in the same run. Two hosts (runtime + actor system
// + NATS connection each) in this process over a nats-server it starts on loopback; storage is
// one SQLite file both hosts share (as JetStream KV would be shared between processes).
// In the same run: with the names placed by the hosts' views alone, then with name claims
// (NameLeases in JetStream KV: a claim per activation, docs/cluster.md "Name claims"); then, with
// claims and the storage in JetStream KV on the same server, without and with the name fence
// (RuntimeConfig::fence_names: the claim's token written to the name's fence before init reads,
// every write of the activation checked against it), alternating passes. The fence is checked by
// the server only on nats-server >= 2.11: set CAPSULE_TEST_NATS_SERVER to the bootstrap's 2.14.9.
// Usage: remote_activation_bench <components dir>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <capsule/cluster/name_leases.hpp>
#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>
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

// What one pass runs on: the storage both hosts share, whether names are claimed, and whether
// the claims fence the names' storage.
struct Pass {
  std::shared_ptr<storage::KvBackend> kv;
  bool claims = false;
  bool fence = false;
  std::string prefix;  // of this pass's names and namespace: each pass activates fresh ones
};

// Both hosts share one storage backend, as hosts of a cluster share JetStream KV. With `claims`,
// names are claimed before they are activated (started and stopped as the daemon does).
struct Host : bench::ClusterHost {
  Host(const std::string& name, const std::string& url, std::shared_ptr<wasm::WasmEngine> engine,
       const Pass& pass, std::shared_ptr<cluster::NameLeases> claims)
      : ClusterHost(bridge_config(name, url), std::move(engine), with(pass, claims)),
        name_leases(std::move(claims)) {
    if (name_leases) name_leases->start([] {}, [] { return true; });
  }
  ~Host() {
    if (name_leases) name_leases->stop();
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  static RuntimeConfig with(const Pass& pass, std::shared_ptr<cluster::NameLeases> claims) {
    RuntimeConfig rc;
    rc.storage = pass.kv;
    rc.name_claimer = std::move(claims);
    rc.fence_names = pass.fence;
    return rc;
  }
  std::shared_ptr<cluster::NameLeases> name_leases;
};

std::shared_ptr<cluster::NameLeases> claims_for(const std::string& host, const std::string& url) {
  cluster::LeaseConfig lc;
  lc.url = url;
  lc.bucket = cluster::lease_bucket("bench");
  lc.host = host;
  auto c = cluster::NameLeases::connect(lc);
  if (!c) std::fprintf(stderr, "name claims: %s\n", c.error().describe().c_str());
  return c ? *c : nullptr;
}

struct Latencies {
  std::vector<double> local_cold, remote_cold, local_warm, remote_warm;
  std::vector<double> local_write;  // "add:<i>" to an active name alpha owns: one storage write
};

// One request's latency in microseconds (-1 if it failed).
double timed_call(Host& from, const ComponentId& to, const std::string& what = "count") {
  const auto t0 = Clock::now();
  auto r = from.runtime->call(to, Payload::text(what), std::chrono::seconds(10));
  const double took = us(Clock::now() - t0);
  if (!r) std::fprintf(stderr, "%s: %s\n", to.to_string().c_str(), r.error().describe().c_str());
  return r ? took : -1;
}

void print(const char* what, const std::vector<double>& samples) {
  const auto p = percentiles(samples);
  std::printf("%-52s p50 %9.1f us   p99 %9.1f us   (n=%zu)\n", what, p.p50, p.p99, samples.size());
}

// One pass: two hosts, the names each owns, cold then warm requests from alpha, then one write
// to each local name. Names are distinct per pass ("<prefix><i>"), so each activates fresh ones.
int measure(const std::string& url, const std::shared_ptr<wasm::WasmEngine>& engine,
            const std::shared_ptr<const wasm::CompiledComponent>& cart, const Pass& pass,
            Latencies& out) {
  const bool claims = pass.claims;
  const std::string& prefix = pass.prefix;
  // A storage space of its own per pass (shop<prefix>/cart): no pass finds another's keys or
  // fences, and none runs into the component's key quota.
  const std::string ns = "shop" + prefix;
  Host alpha("alpha", url, engine, pass, claims ? claims_for("alpha", url) : nullptr);
  Host beta("beta", url, engine, pass, claims ? claims_for("beta", url) : nullptr);
  if (claims && (!alpha.name_leases || !beta.name_leases)) return 1;
  for (Host* h : {&alpha, &beta}) {
    ComponentSpec spec;
    spec.ns = ns;
    spec.name = "cart";
    spec.component = cart;
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
          const ComponentId id{ns, "cart", prefix + std::to_string(i)};
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
  for (int i = 0; i < kNames; ++i) {
    out.local_cold.push_back(timed_call(alpha, local[i]));
    out.remote_cold.push_back(timed_call(alpha, remote[i]));
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kNames; ++i) {
      out.local_warm.push_back(timed_call(alpha, local[i]));
      out.remote_warm.push_back(timed_call(alpha, remote[i]));
    }
  }
  for (int i = 0; i < kNames; ++i) {
    out.local_write.push_back(timed_call(alpha, local[i], "add:" + std::to_string(i)));
  }
  int status = 0;
  for (const auto* v :
       {&out.local_cold, &out.remote_cold, &out.local_warm, &out.remote_warm, &out.local_write}) {
    for (const double x : *v) status |= x < 0 ? 1 : 0;
  }
  return status;
}

void report(const char* title, const Latencies& l) {
  std::printf("%s\n", title);
  print("local name, warm (alpha owns it, active)", l.local_warm);
  print("remote name, warm (beta owns it, active)", l.remote_warm);
  print("local name, cold (activation: instantiate+init+read)", l.local_cold);
  print("remote name, cold (beta activates it)", l.remote_cold);
  const auto lw = percentiles(l.local_warm), rw = percentiles(l.remote_warm);
  const auto rc = percentiles(l.remote_cold);
  std::printf("remote warm / local warm p50: %.1fx; remote cold - remote warm p50: %.1f us\n",
              rw.p50 / lw.p50, rc.p50 - rw.p50);
}

}  // namespace

int main(int argc, char** argv) {
  auto dir = bench::components_dir(argc, argv);
  if (!dir) return 2;
  cluster::testing::NatsServer server(cluster::testing::NatsServer::Mode::kJetStream);
  if (!server.running()) {
    std::fprintf(stderr, "nats-server did not start\n");
    return 1;
  }
  wasm::EngineConfig ec;
  ec.pooling.total_component_instances = 8 * kNames + 16;
  ec.pooling.total_memories = 8 * kNames + 16;
  ec.pooling.total_tables = 8 * kNames + 16;
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
  cluster::NatsKvBackend::Options kvo;
  kvo.url = server.url();
  auto nats_kv = cluster::NatsKvBackend::connect(kvo);
  if (!nats_kv) {
    std::fprintf(stderr, "NATS KV: %s\n", nats_kv.error().describe().c_str());
    return 1;
  }
  const bool server_fences = (*nats_kv)->server_fencing();
  const int api_level = (*nats_kv)->server_api_level();
  std::shared_ptr<storage::KvBackend> shared_kv(std::move(*nats_kv));
  Latencies plain, claimed, unfenced, fenced;
  int status = measure(server.url(), engine, *cart, {kv, false, false, "u"}, plain);
  status |= measure(server.url(), engine, *cart, {kv, true, false, "c"}, claimed);
  // Alternating passes, so both see the same (shared, noisy) machine.
  for (int round = 0; round < 2; ++round) {
    const std::string r = std::to_string(round);
    status |= measure(server.url(), engine, *cart, {shared_kv, true, false, "k" + r}, unfenced);
    status |= measure(server.url(), engine, *cart, {shared_kv, true, true, "f" + r}, fenced);
  }
  report("virtual actors across two hosts, request \"count\" to shop<pass>/cart/<name> from alpha",
         plain);
  report("the same with name claims (a claim in JetStream KV before each activation)", claimed);
  const auto pc = percentiles(plain.local_cold), cc = percentiles(claimed.local_cold);
  const auto pw = percentiles(plain.local_warm), cw = percentiles(claimed.local_warm);
  std::printf("with claims / without, local cold p50: %.2fx (+%.1f us); local warm p50: %.2fx\n",
              cc.p50 / pc.p50, cc.p50 - pc.p50, cw.p50 / pw.p50);
  std::printf("\nstorage in JetStream KV (%s, JetStream API level %d: the name fence is %s)\n",
              cluster::testing::NatsServer::binary(), api_level,
              server_fences ? "checked by the server" : "written, but checked by the host only");
  report("with claims, no name fence", unfenced);
  print("local name, warm write (add: one storage write)", unfenced.local_write);
  report("with claims and the name fence (claim token -> fence before init, writes checked)",
         fenced);
  print("local name, warm write (add: one storage write)", fenced.local_write);
  const auto ulc = percentiles(unfenced.local_cold), flc = percentiles(fenced.local_cold);
  const auto urc = percentiles(unfenced.remote_cold), frc = percentiles(fenced.remote_cold);
  const auto uw = percentiles(unfenced.local_write), fw = percentiles(fenced.local_write);
  std::printf(
      "name fence / no fence, local cold p50: %.2fx (+%.1f us); remote cold p50: %.2fx (+%.1f "
      "us); local warm write p50: %.2fx (+%.1f us)\n",
      flc.p50 / ulc.p50, flc.p50 - ulc.p50, frc.p50 / urc.p50, frc.p50 - urc.p50, fw.p50 / uw.p50,
      fw.p50 - uw.p50);
  std::filesystem::remove(db);
  return status;
}

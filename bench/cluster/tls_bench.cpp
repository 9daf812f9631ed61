// The price of TLS on the cluster's NATS connections, same run: two nats-servers with the same
// per-host users (`capsule cluster init`), one of them also requiring TLS with client
// certificates (`cluster init --tls`), each with two hosts in this process. Rows: cross-host
// host->component request/reply p50 and p99, and component->component messages/s unconfirmed
// (a relay on alpha bursting to four echo instances on beta), TLS against plain, measured
// alternately (median of 5 repetitions) so both see the same machine.
// Usage: tls_bench <components dir>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/cluster_pki.hpp>

#include "../common/bench_util.hpp"
#include "cluster_host.hpp"
#include "nats_server.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;

constexpr int kCalls = 3000;
constexpr int kBurst = 50000;
constexpr int kReps = 5;

// One cluster: its server, and alpha (the sender, unconfirmed sends) and beta (4 echo instances).
struct Cluster {
  Cluster(const cluster::ClusterAuth& auth, const cluster::TlsFiles& alpha_tls,
          const cluster::TlsFiles& beta_tls, const std::shared_ptr<wasm::WasmEngine>& engine)
      : server(cluster::testing::NatsServer::Mode::kCore, auth.server_config()),
        alpha(config(auth, "alpha", alpha_tls), engine),
        beta(config(auth, "beta", beta_tls), engine) {}

  cluster::BridgeConfig config(const cluster::ClusterAuth& auth, const std::string& name,
                               const cluster::TlsFiles& tls) const {
    auto c = bench::ClusterHost::bridge_config(name, server.url());
    for (const auto& h : auth.hosts) {
      if (h.host == name) {
        c.user = h.user;
        c.password = h.password;
      }
    }
    c.tls = tls;
    c.confirm_sends = false;
    // The default 1 s: a burst on this shared 2-core machine can delay 200 ms heartbeats enough
    // for a peer to be declared dead mid-run.
    c.heartbeat_interval = std::chrono::milliseconds(1000);
    return c;
  }

  bool start(const std::shared_ptr<const wasm::CompiledComponent>& echo,
             const std::shared_ptr<const wasm::CompiledComponent>& relay) {
    ComponentSpec far;
    far.ns = "bench";
    far.name = "far";
    far.component = echo;
    far.instances = 4;
    ComponentSpec burst;
    burst.ns = "bench";
    burst.name = "burst";
    burst.component = relay;
    burst.config = {{"mode", "burst"}, {"target", "bench/far"}, {"instances", "4"}};
    if (!beta.runtime->start(far) || !alpha.runtime->start(burst)) return false;
    static_cast<void>(beta.bridge->announce());
    return bench::wait_until(
        [&] {
          const auto hosts = alpha.bridge->hosts();
          return !hosts.empty() && hosts[0].components >= 4;
        },
        std::chrono::seconds(10));
  }

  [[nodiscard]] std::uint64_t processed() const {
    std::uint64_t n = 0;
    for (const auto& info : beta.runtime->list()) {
      if (info.id.name == "far") n += info.mailbox.processed;
    }
    return n;
  }

  // Sequential host->component requests to beta's echo; p50 and p99 in us (-1: a request failed).
  [[nodiscard]] bench::Percentiles request_reply() const {
    const Payload payload =
        Payload::text("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    std::vector<double> took;
    for (int i = 0; i < kCalls; ++i) {
      const auto t0 = Clock::now();
      auto r = alpha.runtime->ask({"bench", "far", "0"}, payload, std::chrono::seconds(10)).get();
      if (!r) return {-1, -1};
      took.push_back(bench::us(Clock::now() - t0));
    }
    return bench::percentiles(std::move(took));
  }

  // The relay's burst of kBurst sends, until beta processed them all; msg/s (-1: incomplete).
  [[nodiscard]] double burst_rate() const {
    const auto base = processed();
    const auto t0 = Clock::now();
    static_cast<void>(alpha.runtime->send(ComponentRuntime::privileged_caller(),
                                          {"bench", "burst", "0"},
                                          Payload::text(std::to_string(kBurst))));
    if (!bench::wait_until([&] { return processed() >= base + kBurst; })) return -1;
    return kBurst / std::chrono::duration<double>(Clock::now() - t0).count();
  }

  cluster::testing::NatsServer server;
  bench::ClusterHost alpha;
  bench::ClusterHost beta;
};

}  // namespace

int main(int argc, char** argv) {
  const auto components = bench::components_dir(argc, argv);
  if (!components) return 2;
  std::string dir = (std::filesystem::temp_directory_path() / "capsule-tls-bench-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  const std::filesystem::path pem_dir = dir;
  auto pki = cluster::make_cluster_pki("bench", {"alpha", "beta"}, {"127.0.0.1"});
  auto plain_auth = cluster::make_cluster_auth("bench", {"alpha", "beta"});
  if (!pki || !plain_auth) return 1;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(pem_dir / name) << text;
    return pem_dir / name;
  };
  cluster::ClusterAuth tls_auth = *plain_auth;
  tls_auth.server_tls = {write("ca.pem", pki->ca.certificate),
                         write("server.pem", pki->server.certificate),
                         write("server.key", pki->server.private_key)};
  std::vector<cluster::TlsFiles> host_tls;
  for (const auto& h : pki->hosts) {
    host_tls.push_back({pem_dir / "ca.pem", write(h.name + ".pem", h.client.certificate),
                        write(h.name + ".key", h.client.private_key)});
  }

  wasm::EngineConfig config;
  config.pooling.total_component_instances = 100;
  config.pooling.total_memories = 100;
  config.pooling.total_tables = 100;
  auto engine = *wasm::WasmEngine::create(config);
  auto echo = *engine->load_file(*components / "echo.wasm");
  auto relay = *engine->load_file(*components / "relay.wasm");
  int status = 0;
  {
    Cluster plain(*plain_auth, {}, {}, engine);
    Cluster tls(tls_auth, host_tls[0], host_tls[1], engine);
    if (!plain.start(echo, relay) || !tls.start(echo, relay)) {
      std::fprintf(stderr, "the hosts of a cluster never saw each other\n");
      status = 1;
    } else {
      std::vector<double> p50[2], p99[2], rate[2];
      for (int rep = 0; rep < kReps; ++rep) {
        for (int m = 0; m < 2; ++m) {
          Cluster& c = m == 0 ? tls : plain;
          const auto rr = c.request_reply();
          p50[m].push_back(rr.p50);
          p99[m].push_back(rr.p99);
          rate[m].push_back(c.burst_rate());
        }
      }
      const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      std::printf("%-56s %19s %19s %9s\n", "cluster TLS (median of 5, alternated)", "TLS",
                  "plain TCP", "ratio");
      bench::print_ratio_row(56, "cross-host request/reply p50 (64 B)", median(p50[0]),
                             median(p50[1]), "us");
      bench::print_ratio_row(56, "cross-host request/reply p99 (64 B)", median(p99[0]),
                             median(p99[1]), "us");
      bench::print_ratio_row(56, "c->c messages/s (1 -> 4), unconfirmed", median(rate[0]),
                             median(rate[1]), "msg/s");
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(pem_dir, ignored);
  return status;
}

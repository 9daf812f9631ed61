// What server-checked fencing costs a failover unit's storage write (docs/cluster.md, "Leases"):
// the same NatsKvBackend on the same nats-server, writes with a lease token (fenced: the newest
// revision of the space and the fence read first, every step conditional on the whole space)
// against writes without one (each step conditional on its own key), alternated in one run.
// The server must be nats-server >= 2.11 ($CAPSULE_TEST_NATS_SERVER, e.g. the 2.14.9 that
// scripts/bootstrap.sh builds); on an older one the fenced rows measure the client-side check
// only, and the bench says so. Rows: create (grows: usage reservation + value), overwrite of
// the same size (the value alone), update, from one thread; overwrites from 4 threads into one
// space (instances of one unit on its owner host) with the conflicts retried.
// Usage: kv_fence_bench [operations per row, default 1000]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <capsule/cluster/nats_kv_backend.hpp>

#include "../common/bench_util.hpp"
#include "nats_server.hpp"

namespace {

using namespace capsule;
using bench::Clock;
using bench::percentiles;
using bench::us;
using Permit = storage::KvBackend::WritePermit;

const security::StorageQuota kQuota{.max_bytes = std::uint64_t{1} << 30U, .max_keys = 1U << 20U};
constexpr std::uint64_t kToken = 7;

// `n` calls of `op(i)`, one after the other: per-call latencies in microseconds (empty if one
// failed).
std::vector<double> timed(int n, const std::function<Status(int)>& op) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (Status s = op(i); !s) {
      std::fprintf(stderr, "write failed: %s\n", s.error().describe().c_str());
      return {};
    }
    out.push_back(us(Clock::now() - t0));
  }
  return out;
}

// 4 threads overwriting their own keys in `space`: ops/s.
double four_writers(cluster::NatsKvBackend& kv, const std::string& space, const Permit& permit,
                    int n, std::atomic<int>& failures) {
  const storage::Bytes value(100, 'w');
  std::vector<std::thread> workers;
  workers.reserve(4);
  const auto t0 = Clock::now();
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < n; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i % 20);
        if (!kv.set_if(space, key, value, kQuota, permit)) failures.fetch_add(1);
      }
    });
  }
  for (auto& w : workers) w.join();
  return 4.0 * n / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int ops = argc > 1 ? std::atoi(argv[1]) : 1000;
  if (ops <= 0) {
    std::fprintf(stderr, "usage: %s [operations per row]\n", argv[0]);
    return 2;
  }
  cluster::testing::NatsServer server(cluster::testing::NatsServer::Mode::kJetStream);
  if (!server.running()) {
    std::fprintf(stderr, "could not start %s -js\n", cluster::testing::NatsServer::binary());
    return 1;
  }
  cluster::NatsKvBackend::Options options;
  options.url = server.url();
  auto connected = cluster::NatsKvBackend::connect(options);
  if (!connected) {
    std::fprintf(stderr, "NATS KV: %s\n", connected.error().describe().c_str());
    return 1;
  }
  cluster::NatsKvBackend& kv = **connected;
  std::printf("server %s, JetStream API level %d: fenced writes are checked by %s\n",
              cluster::testing::NatsServer::binary(), kv.server_api_level(),
              kv.server_fencing() ? "the server" : "the writer only (server < 2.11)");
  const Permit unfenced([] { return ok(); });
  const Permit fenced([] { return ok(); }, kToken);
  for (const char* space : {"bench/fenced", "bench/fenced4"}) {
    if (Status s = kv.fence(space, {}, kToken); !s) {
      std::fprintf(stderr, "fence: %s\n", s.error().describe().c_str());
      return 1;
    }
  }

  struct Row {
    const char* what;
    std::function<Status(const std::string& space, const Permit&, int i)> op;
  };
  const storage::Bytes value(100, 'v');
  const std::vector<Row> rows{
      {"create (usage + value)",
       [&](const std::string& space, const Permit& p, int i) {
         return kv.set_if(space, "new-" + std::to_string(i), value, kQuota, p);
       }},
      {"overwrite, same size (value only)",
       [&](const std::string& space, const Permit& p, int i) {
         return kv.set_if(space, "new-" + std::to_string(i), value, kQuota, p);
       }},
      {"update (read-modify-write)", [&](const std::string& space, const Permit& p, int i) {
         auto r = kv.update_if(
             space, "new-" + std::to_string(i),
             [](const std::optional<storage::Bytes>& v) -> Result<storage::Bytes> {
               return v ? *v : storage::Bytes{};
             },
             kQuota, p);
         return r ? ok() : Status(r.error());
       }}};
  std::printf("%-40s %19s %19s %9s\n", "benchmark (p50, 100 B values)", "fenced", "unfenced",
              "ratio");
  for (const auto& r : rows) {
    // Alternating halves, so both see the same (shared, noisy) machine.
    std::vector<double> lat[2];
    for (int half = 0; half < 2; ++half) {
      for (int which = 0; which < 2; ++which) {
        const std::string space = which == 0 ? "bench/fenced" : "bench/unfenced";
        const int base = half * (ops / 2);
        auto part = timed(
            ops / 2, [&](int i) { return r.op(space, which == 0 ? fenced : unfenced, base + i); });
        if (part.empty()) return 1;
        lat[which].insert(lat[which].end(), part.begin(), part.end());
      }
    }
    const auto f = percentiles(lat[0]), u = percentiles(lat[1]);
    bench::print_ratio_row(40, r.what, f.p50, u.p50, "us");
    const std::string p99 = std::string("  p99");
    bench::print_ratio_row(40, p99.c_str(), f.p99, u.p99, "us");
  }
  std::atomic<int> failures{0};
  const std::uint64_t c0 = kv.conflicts();
  const double u4 = four_writers(kv, "bench/unfenced4", unfenced, ops / 4, failures);
  const std::uint64_t c1 = kv.conflicts();
  const double f4 = four_writers(kv, "bench/fenced4", fenced, ops / 4, failures);
  const std::uint64_t c2 = kv.conflicts();
  bench::print_ratio_row(40, "overwrites/s, 4 threads, 1 space", f4, u4, "op/s");
  std::printf("\nconflicts retried in the 4-thread row: fenced %llu, unfenced %llu; %d failed\n",
              static_cast<unsigned long long>(c2 - c1), static_cast<unsigned long long>(c1 - c0),
              failures.load());
  return failures.load() == 0 ? 0 : 1;
}

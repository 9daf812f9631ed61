// Component storage on NATS JetStream KV (NatsKvBackend) against the single-host SQLite backend
// (SqliteKvBackend, default options: WAL, synchronous=FULL), in the same run. The bench starts its
// own nats-server with JetStream (-js, fresh store directory) on loopback; the SQLite file lives
// in a fresh temporary directory. Rows: set/get latency p50/p99 (100-byte values), set and get
// ops/s from one thread, set ops/s from 4 threads (4 spaces, then one contended space written
// through two NATS backends, as two hosts would), list-keys latency over 100 keys.
// Usage: kv_bench [operations per row, default 2000]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <capsule/cluster/nats_kv_backend.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

#include "../common/bench_util.hpp"
#include "nats_server.hpp"

namespace {

using namespace capsule;
using bench::Clock;
using bench::percentiles;
using bench::us;

void row(const char* what, double nats, double sqlite, const char* unit) {
  bench::print_ratio_row(40, what, nats, sqlite, unit);
}

const security::StorageQuota kQuota{.max_bytes = std::uint64_t{1} << 30U, .max_keys = 1U << 20U};

std::string key_of(int i) {
  return "key-" + std::to_string(i % 500);
}

// Runs `op(i)` n times, one after the other; returns per-call latencies in microseconds.
std::vector<double> timed(int n, const std::function<bool(int)>& op) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (!op(i)) return {};
    out.push_back(us(Clock::now() - t0));
  }
  return out;
}

double mean_rate(const std::vector<double>& latencies_us) {
  double total = 0;
  for (double v : latencies_us) total += v;
  return total > 0 ? static_cast<double>(latencies_us.size()) / (total / 1e6) : 0;
}

// `threads` threads, `n` sets each, thread t on backends[t % size] and space spaces(t): ops/s.
double parallel_sets(const std::vector<storage::KvBackend*>& backends, int threads, int n,
                     const std::function<std::string(int)>& space, std::atomic<int>& failures) {
  const storage::Bytes value(100, 'v');
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (int t = 0; t < threads; ++t) {
    storage::KvBackend* kv = backends[static_cast<std::size_t>(t) % backends.size()];
    workers.emplace_back([&, kv, t] {
      for (int i = 0; i < n; ++i) {
        if (!kv->set(space(t), "t" + std::to_string(t) + "-" + key_of(i), value, kQuota)) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  return threads * n / std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int ops = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (ops <= 0) {
    std::fprintf(stderr, "usage: %s [operations per row]\n", argv[0]);
    return 2;
  }
  cluster::testing::NatsServer server(cluster::testing::NatsServer::Mode::kJetStream);
  if (!server.running()) {
    std::fprintf(stderr, "could not start nats-server -js\n");
    return 1;
  }
  cluster::NatsKvBackend::Options options;
  options.url = server.url();
  auto nats_a = cluster::NatsKvBackend::connect(options);
  auto nats_b = cluster::NatsKvBackend::connect(options);
  if (!nats_a || !nats_b) {
    std::fprintf(stderr, "NATS KV: %s\n",
                 (nats_a ? nats_b.error() : nats_a.error()).describe().c_str());
    return 1;
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("capsule_kv_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto sqlite = storage::SqliteKvBackend::open(dir / "kv.db");
  if (!sqlite) {
    std::fprintf(stderr, "SQLite: %s\n", sqlite.error().describe().c_str());
    return 1;
  }
  storage::KvBackend* nats = nats_a->get();
  storage::KvBackend* lite = sqlite->get();

  std::printf("%-40s %19s %19s %9s\n", "benchmark", "NATS KV", "SQLite", "NATS/SQL");
  const storage::Bytes value(100, 'v');
  std::vector<double> set_lat[2], get_lat[2];
  int index = 0;
  for (storage::KvBackend* kv : {nats, lite}) {
    // The first 500 sets create keys, the rest overwrite them.
    set_lat[index] = timed(ops, [&](int i) {
      return static_cast<bool>(kv->set("bench/one", key_of(i), value, kQuota));
    });
    get_lat[index] = timed(ops, [&](int i) {
      auto v = kv->get("bench/one", key_of(i));
      return v && v->has_value();
    });
    if (set_lat[index].empty() || get_lat[index].empty()) {
      std::fprintf(stderr, "%s: an operation failed\n", index == 0 ? "NATS KV" : "SQLite");
      return 1;
    }
    ++index;
  }
  const auto ns = percentiles(set_lat[0]), ls = percentiles(set_lat[1]);
  const auto ng = percentiles(get_lat[0]), lg = percentiles(get_lat[1]);
  row("set p50 (100 B value)", ns.p50, ls.p50, "us");
  row("set p99", ns.p99, ls.p99, "us");
  row("get p50", ng.p50, lg.p50, "us");
  row("get p99", ng.p99, lg.p99, "us");
  row("set ops/s (1 thread)", mean_rate(set_lat[0]), mean_rate(set_lat[1]), "op/s");
  row("get ops/s (1 thread)", mean_rate(get_lat[0]), mean_rate(get_lat[1]), "op/s");

  std::atomic<int> failures{0};
  const int per_thread = std::max(1, ops / 4);
  auto own_space = [](int t) { return "bench/space" + std::to_string(t); };
  auto one_space = [](int) { return std::string("bench/shared"); };
  const double nats_spread =
      parallel_sets({nats, nats_b->get()}, 4, per_thread, own_space, failures);
  const double lite_spread = parallel_sets({lite}, 4, per_thread, own_space, failures);
  row("set ops/s (4 threads, 4 spaces)", nats_spread, lite_spread, "op/s");
  const std::uint64_t conflicts_before = (*nats_a)->conflicts() + (*nats_b)->conflicts();
  const double nats_shared =
      parallel_sets({nats, nats_b->get()}, 4, per_thread, one_space, failures);
  const double lite_shared = parallel_sets({lite}, 4, per_thread, one_space, failures);
  row("set ops/s (4 threads, 1 space)", nats_shared, lite_shared, "op/s");
  const std::uint64_t conflicts =
      (*nats_a)->conflicts() + (*nats_b)->conflicts() - conflicts_before;

  std::vector<double> list_lat[2];
  index = 0;
  for (storage::KvBackend* kv : {nats, lite}) {
    for (int i = 0; i < 100; ++i) {
      static_cast<void>(kv->set("bench/list", "item-" + std::to_string(i), value, kQuota));
    }
    list_lat[index++] = timed(std::max(1, ops / 20), [&](int) {
      auto keys = kv->list_keys("bench/list", "item-");
      return keys && keys->size() == 100;
    });
  }
  if (list_lat[0].empty() || list_lat[1].empty()) {
    std::fprintf(stderr, "list-keys failed\n");
    return 1;
  }
  row("list-keys p50 (100 keys)", percentiles(list_lat[0]).p50, percentiles(list_lat[1]).p50, "us");

  std::printf(
      "\nNATS KV: %llu write conflicts retried in the 1-space row; %d failed sets in all\n"
      "SQLite: synchronous=FULL (fsync per commit); JetStream file store: asynchronous fsync by "
      "default\n",
      static_cast<unsigned long long>(conflicts), failures.load());
  sqlite->reset();
  std::filesystem::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}

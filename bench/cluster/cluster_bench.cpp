// Cross-host messaging against the same operation on one host, in the same run: two hosts
// (runtime + actor system + NATS connection each) in this process over a nats-server it starts
// on loopback. Rows: host->component request/reply p50/p99, component->component round trip,
// component->component request throughput (fan-out), fire-and-forget throughput, confirmed sends
// from one sender in batches (capsule:core 0.1.2 send-batch); then against raw NATS; then the
// process's CPU time per operation for three of them and raw NATS (not inflated by waits for a
// core on a busy machine, unlike the times above).
// Usage: cluster_bench <components dir>
// CAPSULE_BENCH_ROWS=<sections> (comma-separated, of rr, rtt, fanout, burst, unconfirmed,
// batch, raw) runs only
// those sections (for profiling one of them); rows of the others print as 0.
// CAPSULE_BENCH_POOL=1 turns BridgeConfig::deliver_on_reader off on every host.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <sys/resource.h>
#include <thread>

#include <capsule/cluster/nats_bridge.hpp>

#include "../common/bench_util.hpp"
#include "cluster_host.hpp"
#include "nats_server.hpp"
#include "raw_nats.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::percentiles;
using bench::us;
using bench::wait_until;

// Whether section `name` runs (CAPSULE_BENCH_ROWS unset: all of them).
bool wanted(const char* name) {
  const char* rows = std::getenv("CAPSULE_BENCH_ROWS");
  if (rows == nullptr || *rows == 0) return true;
  const std::string list = std::string(",") + rows + ",";
  return list.find(std::string(",") + name + ",") != std::string::npos;
}

// CPU time used so far by this whole process (every thread: the hosts, their NATS clients, the
// raw clients), in us. Per operation it is what a busy machine's waits for a core do not
// inflate; nats-server's own CPU is not in it.
double process_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void row(const char* what, double remote, double local, const char* unit) {
  bench::print_ratio_row(56, what, remote, local, unit);
}

struct Host : bench::ClusterHost {
  Host(const std::string& name, const std::string& url, std::shared_ptr<wasm::WasmEngine> engine,
       bool confirm_sends = true)
      : ClusterHost(config(name, url, confirm_sends), std::move(engine), deep_mailboxes()) {}
  static cluster::BridgeConfig config(const std::string& name, const std::string& url,
                                      bool confirm_sends) {
    auto c = bridge_config(name, url);
    c.confirm_sends = confirm_sends;
    // CAPSULE_BENCH_POOL=1: every inbound message through cnats' delivery threads, as before
    // reader-thread delivery (for comparing the two in one build).
    const char* pool = std::getenv("CAPSULE_BENCH_POOL");
    c.deliver_on_reader = pool == nullptr || *pool == 0 || *pool == '0';
    return c;
  }
  static RuntimeConfig deep_mailboxes() {
    RuntimeConfig rc;
    rc.default_mailbox = rt::MailboxConfig::bounded(1 << 20, rt::BackpressurePolicy::kBlock);
    return rc;
  }

  bool start(const std::string& name, const std::shared_ptr<const wasm::CompiledComponent>& c,
             wasm::KeyValues config = {}, std::uint32_t instances = 1, ResourceLimits limits = {}) {
    ComponentSpec spec;
    spec.limits = limits;
    spec.ns = "bench";
    spec.name = name;
    spec.component = c;
    spec.instances = instances;
    spec.config = std::move(config);
    auto r = runtime->start(spec);
    if (!r) std::fprintf(stderr, "start %s: %s\n", name.c_str(), r.error().describe().c_str());
    static_cast<void>(bridge->announce());
    return static_cast<bool>(r);
  }
  std::uint64_t processed(const std::string& name) const {
    std::uint64_t n = 0;
    for (const auto& info : runtime->list()) {
      if (info.id.name == name) n += info.mailbox.processed;
    }
    return n;
  }
};

// Sends `text` to a relay on `host` and waits for the line it publishes on `topic` (into
// `report` when given).
double timed_relay_run(Host& host, const std::string& relay, const std::string& topic,
                       const std::string& text, std::string* report = nullptr) {
  std::promise<void> done;
  auto sub = *host.runtime->subscribe_host(topic, [&](const ComponentMessage& m) {
    if (report != nullptr) *report = m.payload.as_string();
    done.set_value();
  });
  const auto t0 = Clock::now();
  static_cast<void>(host.runtime->send(ComponentRuntime::privileged_caller(), {"bench", relay, "0"},
                                       Payload::text(text)));
  if (done.get_future().wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    return -1;
  }
  return us(Clock::now() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  const auto components = bench::components_dir(argc, argv);
  if (!components) return 2;
  const std::filesystem::path& dir = *components;
  cluster::testing::NatsServer server;
  if (!server.running()) {
    std::fprintf(stderr, "could not start nats-server\n");
    return 1;
  }
  wasm::EngineConfig config;
  config.pooling.total_component_instances = 100;
  config.pooling.total_memories = 100;
  config.pooling.total_tables = 100;
  auto engine = *wasm::WasmEngine::create(config);
  auto echo = *engine->load_file(dir / "echo.wasm");
  auto relay = *engine->load_file(dir / "relay.wasm");
  Host a("alpha", server.url(), engine);
  Host b("beta", server.url(), engine);
  // Four echo instances on alpha ("near") and four on beta ("far"): the same component either
  // on the requester's host or across NATS.
  if (!a.start("near", echo, {}, 4) || !b.start("far", echo, {}, 4)) return 1;
  if (!wait_until([&] { return !a.bridge->hosts().empty() && a.bridge->hosts()[0].components; },
                  std::chrono::seconds(10))) {
    std::fprintf(stderr, "alpha never saw beta\n");
    return 1;
  }
  std::printf("%-56s %19s %19s %9s\n", "benchmark", "cross-host", "same host", "ratio");

  // -- host -> component request/reply ---------------------------------------------------------
  const Payload payload =
      Payload::text("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  constexpr int kCalls = 3000;
  std::vector<double> near_calls, far_calls;
  double far_cpu = 0;  // process CPU per far call (us)
  for (auto [target, out] : {std::pair{"near", &near_calls}, std::pair{"far", &far_calls}}) {
    const double cpu0 = process_cpu_us();
    for (int i = 0; i < (wanted("rr") ? kCalls : 0); ++i) {
      const auto t0 = Clock::now();
      auto r = a.runtime->ask({"bench", target, "0"}, payload, std::chrono::seconds(10)).get();
      if (!r) {
        std::fprintf(stderr, "ask %s: %s\n", target, r.error().describe().c_str());
        return 1;
      }
      out->push_back(us(Clock::now() - t0));
    }
    if (out == &far_calls) far_cpu = (process_cpu_us() - cpu0) / kCalls;
  }
  if (near_calls.empty()) near_calls = far_calls = {0};
  const auto nc = percentiles(near_calls), fc = percentiles(far_calls);
  row("host->component request/reply p50 (64 B)", fc.p50, nc.p50, "us");
  row("host->component request/reply p99 (64 B)", fc.p99, nc.p99, "us");

  // -- component -> component round trip -------------------------------------------------------
  constexpr int kRoundTrips = 3000;
  double rtt[2] = {0, 0};
  for (int i = 0; i < (wanted("rtt") ? 2 : 0); ++i) {
    const std::string name = i == 0 ? "ping_near" : "ping_far";
    const std::string target = i == 0 ? "bench/near/1" : "bench/far/1";
    if (!a.start(name, relay,
                 {{"mode", "pinger"},
                  {"target", target},
                  {"timeout_ms", "10000"},
                  {"done_topic", name + ".done"}})) {
      return 1;
    }
    rtt[i] = timed_relay_run(a, name, name + ".done", std::to_string(kRoundTrips)) / kRoundTrips;
  }
  row("component->component round trip (mean)", rtt[1], rtt[0], "us");

  // -- component -> component request throughput ----------------------------------------------
  constexpr int kFanout = 20000;
  double rate[2] = {0, 0};
  double fanout_cpu = 0;  // process CPU per cross-host request (us)
  for (int i = 0; i < (wanted("fanout") ? 2 : 0); ++i) {
    const std::string name = i == 0 ? "fan_near" : "fan_far";
    if (!a.start(name, relay,
                 {{"mode", "fanout"},
                  {"target", i == 0 ? "bench/near" : "bench/far"},
                  {"instances", "4"},
                  {"timeout_ms", "30000"},
                  {"done_topic", name + ".done"}})) {
      return 1;
    }
    const double cpu0 = process_cpu_us();
    rate[i] = kFanout / (timed_relay_run(a, name, name + ".done", std::to_string(kFanout)) / 1e6);
    if (i == 1) fanout_cpu = (process_cpu_us() - cpu0) / kFanout;
  }
  row("component->component requests/s (1 -> 4)", rate[1], rate[0], "req/s");

  // -- fire-and-forget throughput --------------------------------------------------------------
  // Row 1: alpha confirms every send (the default: ok means "in the remote mailbox"); row 2:
  // gamma does not (ok means "handed to NATS"). Same sink on beta, same local baseline.
  // A confirmed send waits one round trip, so its burst is smaller (the sending guest's 5 s
  // wall-time budget covers the whole burst, which runs in one handle-message call).
  constexpr int kBursts[3] = {50000, 5000, 50000};
  Host c("gamma", server.url(), engine, false);
  if (!wait_until(
          [&] {
            const auto hosts = c.bridge->hosts();
            return std::any_of(hosts.begin(), hosts.end(),
                               [](const auto& h) { return h.name == "beta" && h.components > 0; });
          },
          std::chrono::seconds(10))) {
    std::fprintf(stderr, "gamma never saw beta\n");
    return 1;
  }
  double sends[3] = {0, 0, 0};
  double sender_done[3] = {0, 0, 0};  // when the sender's host had put the burst on NATS (s)
  double unconfirmed_cpu = 0;         // process CPU per unconfirmed cross-host message (us)
  for (int i = 0; i < 3; ++i) {
    if (!wanted("burst") && !(i == 2 && wanted("unconfirmed"))) continue;
    const std::string name = i == 0 ? "burst_near" : i == 1 ? "burst_far" : "burst_far_unconfirmed";
    Host& sender = i == 2 ? c : a;
    Host& sink_host = i == 0 ? a : b;
    const std::string sink = i == 0 ? "near" : "far";
    if (!sender.start(name, relay,
                      {{"mode", "burst"}, {"target", "bench/" + sink}, {"instances", "4"}})) {
      return 1;
    }
    const int burst = kBursts[i];
    const auto base = sink_host.processed(sink);
    // Sends on the wire: one NATS message each, or coalesced (then `sent` counts envelopes).
    const auto base_stats = sender.bridge->stats();
    const auto on_wire = [&] {
      const auto s = sender.bridge->stats();
      return std::max(s.sent - base_stats.sent, s.coalesced - base_stats.coalesced);
    };
    const double cpu0 = process_cpu_us();
    const auto t0 = Clock::now();
    static_cast<void>(sender.runtime->send(ComponentRuntime::privileged_caller(),
                                           {"bench", name, "0"},
                                           Payload::text(std::to_string(burst))));
    if (!wait_until([&] {
          if (i == 2 && sender_done[i] == 0 && on_wire() >= static_cast<std::uint64_t>(burst)) {
            sender_done[i] = std::chrono::duration<double>(Clock::now() - t0).count();
          }
          return sink_host.processed(sink) >= base + burst;
        })) {
      std::fprintf(stderr, "%s: only %llu of %d processed\n", name.c_str(),
                   static_cast<unsigned long long>(sink_host.processed(sink) - base), burst);
      return 1;
    }
    sends[i] = burst / std::chrono::duration<double>(Clock::now() - t0).count();
    if (i == 2) unconfirmed_cpu = (process_cpu_us() - cpu0) / burst;
  }
  row("component->component messages/s (1 -> 4), confirmed", sends[1], sends[0], "msg/s");
  row("component->component messages/s (1 -> 4), unconfirmed", sends[2], sends[0], "msg/s");
  std::printf(
      "  (unconfirmed burst: the sender's host had published it after %.0f ms of %.0f ms)\n",
      sender_done[2] * 1e3, sends[2] > 0 ? kBursts[2] / sends[2] * 1e3 : 0.0);

  // -- confirmed sends from one sender, in batches (send-batch)
  // ------------------------------------ One relay sends kBatched messages of 64 B, kBatch per
  // call, to the four sinks in turn, and reports when every outcome is known: each ok means "in the
  // remote mailbox", as for the one-by-one confirmed row above. Timed from the trigger to that
  // report.
  constexpr int kBatched = 100000;
  constexpr int kBatch = 256;
  double batched[2] = {0, 0};
  for (int i = 0; i < (wanted("batch") ? 2 : 0); ++i) {
    const std::string name = i == 0 ? "batch_near" : "batch_far";
    const std::string sink = i == 0 ? "bench/near/" : "bench/far/";
    std::string targets;
    for (int k = 0; k < 4; ++k) targets += (k == 0 ? "" : ",") + sink + std::to_string(k);
    if (!a.start(name, relay,
                 {{"mode", "batch"},
                  {"targets", targets},
                  {"batch", std::to_string(kBatch)},
                  {"done_topic", name + ".done"}},
                 1, ResourceLimits{0, 1ULL << 62, std::chrono::seconds(60)})) {
      return 1;
    }
    std::string report;
    const double took = timed_relay_run(a, name, name + ".done", std::to_string(kBatched), &report);
    if (report != "ok=" + std::to_string(kBatched) + " err=0") {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), report.c_str());
      return 1;
    }
    batched[i] = kBatched / (took / 1e6);
  }
  row("confirmed sends from one sender (batch of 256), msg/s", batched[1], batched[0], "msg/s");

  // -- the same against raw NATS (two plain cnats clients, same server, same run) -----------------
  constexpr int kRawMessages = 200000;
  const double raw_cpu0 = process_cpu_us();
  const auto raw_rr = wanted("raw") ? percentiles(bench::raw::request_reply(server.url(), kCalls))
                                    : bench::Percentiles{0, 0};
  const double raw_cpu1 = process_cpu_us();
  const double raw_rate = wanted("raw") ? bench::raw::pub_sub_rate(server.url(), kRawMessages) : 0;
  const double raw_rr_cpu = (raw_cpu1 - raw_cpu0) / kCalls;
  const double raw_msg_cpu = (process_cpu_us() - raw_cpu1) / kRawMessages;
  std::printf("\n%-56s %19s %19s %9s\n", "against raw NATS", "capsule", "raw cnats", "ratio");
  bench::print_ratio_row(56, "cross-host request/reply p50 (64 B)", fc.p50, raw_rr.p50, "us");
  bench::print_ratio_row(56, "cross-host c->c msgs/s unconfirmed vs pub->sub (64 B)", sends[2],
                         raw_rate, "msg/s");
  bench::print_ratio_row(56, "cross-host c->c msgs/s confirmed vs pub->sub (64 B)", sends[1],
                         raw_rate, "msg/s");
  bench::print_ratio_row(56, "confirmed sends, one sender, batch of 256 vs pub->sub", batched[1],
                         raw_rate, "msg/s");
  bench::print_ratio_row(56, "cross-host c->c requests/s vs pub->sub (64 B)", rate[1], raw_rate,
                         "req/s");

  std::printf("\n%-56s %19s %19s %9s\n", "process CPU per operation (all its threads)", "capsule",
              "raw cnats", "ratio");
  bench::print_ratio_row(56, "cross-host request/reply (host -> component)", far_cpu, raw_rr_cpu,
                         "us");
  bench::print_ratio_row(56, "cross-host request, 1 -> 4 in flight, vs raw req/reply", fanout_cpu,
                         raw_rr_cpu, "us");
  bench::print_ratio_row(56, "cross-host c->c message, unconfirmed, vs pub->sub", unconfirmed_cpu,
                         raw_msg_cpu, "us");

  const auto stats = a.runtime->correlation_stats();
  const auto bridge = a.bridge->stats();
  std::printf(
      "\nalpha: %llu replied, %llu timed out, %llu failed, %llu late; %llu NATS messages "
      "out, %llu in\n",
      static_cast<unsigned long long>(stats.replied),
      static_cast<unsigned long long>(stats.timed_out),
      static_cast<unsigned long long>(stats.failed),
      static_cast<unsigned long long>(stats.late_replies),
      static_cast<unsigned long long>(bridge.sent),
      static_cast<unsigned long long>(bridge.received));
  return 0;
}

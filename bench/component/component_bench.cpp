// Component layer benchmarks. Every row is next to a baseline measured in the same run and
// process, statistic against the same statistic (p50 vs p50, mean vs mean, rate vs rate):
//   spawn (instantiate + init, as an actor under a supervisor) vs the engine alone,
//   host -> component request/reply vs the engine call alone and vs a raw rt actor request/reply,
//   component -> component round trip vs a raw rt actor -> actor request/reply round trip,
//   component -> component fire-and-forget throughput vs engine calls in a loop,
//   correlation tracker begin + resolve vs the map it is built on.
// Prints Markdown table rows (bench/common/bench_util.hpp). Usage: component_bench <components dir>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/flag_wait.hpp>

#include "../common/bench_util.hpp"

namespace {

using namespace capsule;
using namespace capsule::component;
using bench::Clock;
using bench::percentiles;
using bench::print_table_row;
using bench::us;
using bench::wait_until;

// -- raw rt baselines: the same exchanges between plain actors, no engine, no component layer ----

struct RawRequest {
  Payload payload;
  rt::Replier<Payload> replier;
};

// Answers with a copy of the payload, as the echo component does.
class RawEcho final : public rt::Actor<RawRequest> {
 public:
  capsule::Status handle(RawRequest& msg, rt::ActorContext<RawRequest>& /*ctx*/) override {
    msg.replier.reply(msg.payload);
    return capsule::ok();
  }
};

// Like the relay component in pinger mode: `n` sequential requests, each answer delivered back
// into this actor's mailbox (as a component's callback is), then the next request.
using PingerMsg = std::variant<int /*start: n*/, Result<Payload> /*an answer*/>;
class RawPinger final : public rt::Actor<PingerMsg> {
 public:
  RawPinger(rt::ActorSystem* system, rt::ActorRef<RawRequest> echo, Payload payload,
            std::promise<void>* done)
      : system_(system), echo_(std::move(echo)), payload_(std::move(payload)), done_(done) {}
  capsule::Status handle(PingerMsg& msg, rt::ActorContext<PingerMsg>& ctx) override {
    if (const int* n = std::get_if<int>(&msg)) {
      left_ = *n;
    } else if (!std::get<Result<Payload>>(msg) || --left_ == 0) {
      done_->set_value();
      return capsule::ok();
    }
    rt::ask<Payload>(
        *system_, echo_,
        [this](rt::Replier<Payload> r) { return RawRequest{payload_, std::move(r)}; },
        std::chrono::seconds(10),
        [self = ctx.self()](Result<Payload> r) { self.tell(PingerMsg{std::move(r)}); });
    return capsule::ok();
  }

 private:
  rt::ActorSystem* system_;
  rt::ActorRef<RawRequest> echo_;
  Payload payload_;
  std::promise<void>* done_;
  int left_ = 0;
};

// The least a request/reply through the runtime costs: a message to an actor that copies the
// payload into the caller's slot and flips its flag (no correlation, no deadline timer). The
// caller waits as ComponentRuntime::call() does when a worker answers (rt::wait_for_flag).
struct ReplySlot {
  std::atomic<bool> done{false};
  Payload reply;
};
struct FlagRequest {
  Payload payload;
  std::shared_ptr<ReplySlot> slot;
};
class RawFlagEcho final : public rt::Actor<FlagRequest> {
 public:
  capsule::Status handle(FlagRequest& msg, rt::ActorContext<FlagRequest>& /*ctx*/) override {
    msg.slot->reply = msg.payload;
    msg.slot->done.store(true, std::memory_order_release);
    msg.slot->done.notify_one();
    return capsule::ok();
  }
};

bool raw_call(const rt::ActorRef<FlagRequest>& echo, const Payload& payload) {
  auto slot = std::make_shared<ReplySlot>();
  if (!echo.send(FlagRequest{payload, slot})) return false;
  rt::wait_for_flag(slot->done);
  return slot->reply == payload;
}

// rt's own request/reply (rt::ask: a reply state and an Asio deadline timer per request), waiting
// on a std::future as ComponentRuntime::ask().get() does.
bool raw_ask_future(rt::ActorSystem& system, const rt::ActorRef<RawRequest>& echo,
                    const Payload& payload) {
  auto promise = std::make_shared<std::promise<Result<Payload>>>();
  auto future = promise->get_future();
  rt::ask<Payload>(
      system, echo, [&](rt::Replier<Payload> r) { return RawRequest{payload, std::move(r)}; },
      std::chrono::seconds(10), [promise](Result<Payload> r) { promise->set_value(std::move(r)); });
  return future.get().has_value();
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

  bench::print_table_header();

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
  print_table_row({"component spawn p50 (instantiate + init + actor under a supervisor)", as.p50,
                   "us", es.p50, "engine instantiate + init p50",
                   "< 50 us (issue), < 5 ms (seed)"});
  print_table_row(
      {"component spawn p99", as.p99, "us", es.p99, "engine instantiate + init p99", ""});
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
  auto raw_echo = *system.spawn<RawEcho>({});
  auto raw_flag_echo = *system.spawn<RawFlagEcho>({});
  const ComponentMessage msg{
      ComponentRuntime::privileged_caller(),
      Payload::text("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
      std::nullopt, std::nullopt};
  constexpr int kCalls = 20000;
  std::vector<double> direct_calls, raw_calls, raw_asks, host_calls, host_asks;
  const auto direct_t0 = Clock::now();
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    if (!direct.handle_message(msg)) return 1;
    direct_calls.push_back(us(Clock::now() - t0));
  }
  // Engine calls back to back, one caller: the rate the throughput row is compared with.
  const double direct_rate =
      kCalls / std::chrono::duration<double>(Clock::now() - direct_t0).count();
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    if (!raw_call(raw_flag_echo, msg.payload)) return 1;
    raw_calls.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = runtime.call(echo_ids[0], msg.payload, std::chrono::seconds(10));
    if (!r) return 1;
    host_calls.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    if (!raw_ask_future(system, raw_echo, msg.payload)) return 1;
    raw_asks.push_back(us(Clock::now() - t0));
  }
  for (int i = 0; i < kCalls; ++i) {
    const auto t0 = Clock::now();
    auto r = runtime.ask(echo_ids[0], msg.payload, std::chrono::seconds(10)).get();
    if (!r) return 1;
    host_asks.push_back(us(Clock::now() - t0));
  }
  const auto dc = percentiles(direct_calls), rc = percentiles(raw_calls),
             ra = percentiles(raw_asks), hc = percentiles(host_calls), ha = percentiles(host_asks);
  print_table_row({"host -> component call() p50, 64 B", hc.p50, "us", dc.p50,
                   "engine handle-message p50, no actor", "< 3 us (issue 11)"});
  print_table_row({"host -> component call() p99, 64 B", hc.p99, "us", dc.p99,
                   "engine handle-message p99, no actor", ""});
  print_table_row({"host -> component call() p50, 64 B", hc.p50, "us", rc.p50,
                   "raw rt send to a worker, actor flips the caller's flag, call()'s wait, p50",
                   ""});
  print_table_row({"host -> component call() p99, 64 B", hc.p99, "us", rc.p99,
                   "raw rt send to a worker, actor flips the caller's flag, call()'s wait, p99",
                   ""});
  print_table_row({"host -> component ask().get() p50, 64 B", ha.p50, "us", ra.p50,
                   "rt::ask to an actor + std::future, p50", ""});

  // -- deferred reply (capsule:core 0.1.1)
  // --------------------------------------------------------- The aggregator defers the host's
  // request, asks echo, and answers through messaging.reply from its callback turn: two
  // request/reply exchanges in a row. The baseline is the same two exchanges made by the host, one
  // after the other (two ask().get() to echo).
  {
    ComponentSpec agg;
    agg.ns = "bench";
    agg.name = "aggregator";
    agg.component = *engine->load_file(dir / "aggregator.wasm");
    agg.config = {{"targets", "bench/echo/1"}, {"timeout_ms", "10000"}};
    if (auto r = runtime.start(agg); !r) {
      std::fprintf(stderr, "start aggregator: %s\n", r.error().describe().c_str());
      return 1;
    }
    constexpr int kDeferred = 10000;
    std::vector<double> deferred, two_asks;
    for (int i = 0; i < kDeferred; ++i) {
      auto t = Clock::now();
      auto r =
          runtime.ask({"bench", "aggregator", "0"}, msg.payload, std::chrono::seconds(10)).get();
      if (!r) return 1;
      deferred.push_back(us(Clock::now() - t));
      t = Clock::now();
      for (int k = 0; k < 2; ++k) {
        if (!runtime.ask(echo_ids[1], msg.payload, std::chrono::seconds(10)).get()) return 1;
      }
      two_asks.push_back(us(Clock::now() - t));
    }
    const auto d = percentiles(deferred), t2 = percentiles(two_asks);
    print_table_row(
        {"host ask() -> aggregator, answered by messaging.reply after its own request "
         "to echo, p50",
         d.p50, "us", t2.p50, "two host ask().get() to echo back to back, p50", ""});
  }

  // -- component -> component round trip ----------------------------------------------------------
  constexpr int kRoundTrips = 20000;
  double raw_rtt = 0;
  {
    std::promise<void> raw_done;
    auto raw_pinger = *system.spawn<RawPinger>({}, &system, raw_echo, msg.payload, &raw_done);
    const auto t0 = Clock::now();
    raw_pinger.tell(PingerMsg{kRoundTrips});
    raw_done.get_future().wait();
    raw_rtt = us(Clock::now() - t0) / kRoundTrips;
  }
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
  auto t0 = Clock::now();
  static_cast<void>(runtime.send(ComponentRuntime::privileged_caller(), {"bench", "pinger", "0"},
                                 Payload::text(std::to_string(kRoundTrips))));
  pinged.get_future().wait();
  const double rtt = us(Clock::now() - t0) / kRoundTrips;
  print_table_row({"component -> component request/reply round trip, mean of 20,000 sequential",
                   rtt, "us", raw_rtt, "raw rt actor -> actor ask, mean of 20,000 sequential",
                   "< 10 us (issue)"});

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
  static_cast<void>(runtime.send(ComponentRuntime::privileged_caller(), {"bench", "burst", "0"},
                                 Payload::text(std::to_string(kBurst))));
  if (!wait_until([&] { return processed() >= base + kBurst; })) {
    std::fprintf(stderr, "burst: only %llu of %d processed\n",
                 static_cast<unsigned long long>(processed() - base), kBurst);
    return 1;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  print_table_row({"component -> component messages/s, 1 sender -> 2 receivers, 64 B",
                   kBurst / seconds, "msg/s", direct_rate,
                   "engine handle-message calls back to back, 1 thread", "> 500k/s (issue)"});

  // -- correlation tracker -----------------------------------------------------------------------
  // Baseline: the data structure one tracker shard is, a mutex and an unordered_map, doing the
  // same insert + erase of the same entry type.
  constexpr int kOps = 1'000'000;
  auto tracker_ns = [&] {
    CorrelationTracker tracker;
    const auto start = Clock::now();
    for (int i = 0; i < kOps; ++i) {
      auto id = tracker.begin(
          {ComponentRuntime::privileged_caller(), echo_ids[0], {}, [](const CallbackResponse&) {}});
      tracker.resolve(id, CallbackResponse{}, RequestOutcome::kReplied);
    }
    return us(Clock::now() - start) * 1000 / kOps;
  };
  auto map_ns = [&] {
    std::mutex mutex;
    std::unordered_map<CorrelationId, PendingRequest> entries;
    std::optional<PendingRequest> taken;
    const auto start = Clock::now();
    for (int i = 0; i < kOps; ++i) {
      const auto id = static_cast<CorrelationId>(i) + 1;
      {
        std::lock_guard lock(mutex);
        entries.emplace(id, PendingRequest{ComponentRuntime::privileged_caller(),
                                           echo_ids[0],
                                           {},
                                           [](const CallbackResponse&) {}});
      }
      std::lock_guard lock(mutex);
      auto it = entries.find(id);
      taken = std::move(it->second);
      entries.erase(it);
    }
    return us(Clock::now() - start) * 1000 / kOps;
  };
  std::vector<double> tracker_runs, map_runs;
  for (int i = 0; i < 3; ++i) {  // alternated, median of 3
    tracker_runs.push_back(tracker_ns());
    map_runs.push_back(map_ns());
  }
  std::sort(tracker_runs.begin(), tracker_runs.end());
  std::sort(map_runs.begin(), map_runs.end());
  print_table_row({"CorrelationTracker begin + resolve, 1 thread (median of 3)", tracker_runs[1],
                   "ns", map_runs[1], "mutex + unordered_map insert + find + erase",
                   "< 50 ns "
                   "lookup (seed)"});

  std::printf("\ncorrelations: %llu replied, %llu timed out, %llu late\n",
              static_cast<unsigned long long>(runtime.correlation_stats().replied),
              static_cast<unsigned long long>(runtime.correlation_stats().timed_out),
              static_cast<unsigned long long>(runtime.correlation_stats().late_replies));
  return 0;
}

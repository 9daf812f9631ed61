// Micro-benchmarks of the actor runtime. Every number includes the scheduler: a message counts
// only once the receiving actor has processed it.
#include <atomic>
#include <benchmark/benchmark.h>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "bench_common.hpp"

namespace rt = capsule::rt;

namespace {

// Counts to a target, then opens the latch.
class Sink final : public rt::Actor<int> {
 public:
  Sink(std::atomic<long>* count, long target, savina::Latch* done)
      : count_(count), target_(target), done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    if (++seen_ == target_) {
      seen_ = 0;
      done_->arrive();
    }
    if (count_ != nullptr) count_->fetch_add(1, std::memory_order_relaxed);
    return capsule::ok();
  }

 private:
  std::atomic<long>* count_;
  long target_;
  long seen_ = 0;
  savina::Latch* done_;
};

class OneShot final : public rt::Actor<int> {
 public:
  explicit OneShot(savina::Latch* done) : done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& ctx) override {
    done_->arrive();
    ctx.stop();
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
};

// Spawn (incl. pre_start, table insert) + first message processed + stop, per actor.
void BM_SpawnAndFirstMessage(benchmark::State& state) {
  rt::ActorSystem system;
  savina::Latch done;
  constexpr int kBatch = 10000;
  for (auto _ : state) {
    done.reset(kBatch);
    for (int i = 0; i < kBatch; ++i) system.spawn<OneShot>({}, &done)->tell(i);
    done.wait();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["ns_per_actor"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SpawnAndFirstMessage)->Unit(benchmark::kMillisecond)->UseRealTime();

// Spawn alone (the actor stays idle), per actor.
class Idle final : public rt::Actor<int> {
 public:
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    return capsule::ok();
  }
};

void BM_Spawn(benchmark::State& state) {
  constexpr int kBatch = 10000;
  for (auto _ : state) {
    state.PauseTiming();
    auto system = std::make_unique<rt::ActorSystem>();
    std::vector<rt::ActorRef<int>> refs;
    refs.reserve(kBatch);
    state.ResumeTiming();
    for (int i = 0; i < kBatch; ++i) refs.push_back(*system->spawn<Idle>({}));
    state.PauseTiming();
    refs.clear();
    system.reset();
    state.ResumeTiming();
  }
  state.counters["ns_per_spawn"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBatch),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Spawn)->Unit(benchmark::kMillisecond)->UseRealTime();

// Round trip between two actors.
struct Ball {
  int left;
};
class Player final : public rt::Actor<Ball> {
 public:
  Player(savina::Latch* done, std::shared_ptr<rt::ActorRef<Ball>> peer)
      : done_(done), peer_(std::move(peer)) {}
  capsule::Status handle(Ball& ball, rt::ActorContext<Ball>& /*ctx*/) override {
    if (ball.left == 0) {
      done_->arrive();
    } else {
      peer_->tell(Ball{ball.left - 1});
    }
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
  std::shared_ptr<rt::ActorRef<Ball>> peer_;  // filled in before the first message
};

void BM_PingPongRoundTrip(benchmark::State& state) {
  rt::ActorSystem system;
  savina::Latch done;
  auto a_slot = std::make_shared<rt::ActorRef<Ball>>();
  auto b_slot = std::make_shared<rt::ActorRef<Ball>>();
  auto a = *system.spawn<Player>({}, &done, b_slot);
  auto b = *system.spawn<Player>({}, &done, a_slot);
  *a_slot = a;
  *b_slot = b;
  constexpr int kRoundTrips = 20000;
  for (auto _ : state) {
    done.reset(1);
    a.tell(Ball{2 * kRoundTrips});
    done.wait();
  }
  state.counters["ns_per_roundtrip"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kRoundTrips),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PingPongRoundTrip)->Unit(benchmark::kMillisecond)->UseRealTime();

// Broker: publish to 1/10/100 subscribers, until every subscriber processed every message.
void BM_BrokerPublish(benchmark::State& state) {
  const auto subscribers = static_cast<int>(state.range(0));
  constexpr int kMessages = 10000;
  rt::ActorSystem system;
  rt::MessageBroker<int> broker(system);
  savina::Latch done;
  for (int i = 0; i < subscribers; ++i) {
    auto sub = system.spawn<Sink>({}, nullptr, kMessages, &done);
    static_cast<void>(broker.subscribe("bench", *sub));
  }
  auto topic = broker.topic("bench");
  for (auto _ : state) {
    done.reset(subscribers);
    for (int m = 0; m < kMessages; ++m) broker.publish(topic, m);
    done.wait();
  }
  const double deliveries = static_cast<double>(state.iterations()) * kMessages * subscribers;
  state.counters["ns_per_delivery"] =
      benchmark::Counter(deliveries, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["ns_per_publish"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kMessages,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_BrokerPublish)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Routing alone: publish by name into a subscriber whose mailbox is not drained meanwhile.
void BM_BrokerRoutingByName(benchmark::State& state) {
  rt::ActorSystem system;
  rt::MessageBroker<int> broker(system);
  savina::Latch done;
  constexpr int kMessages = 100000;
  auto sub = system.spawn<Sink>({}, nullptr, kMessages, &done);
  static_cast<void>(broker.subscribe("bench.topic", *sub));
  for (auto _ : state) {
    done.reset(1);
    for (int m = 0; m < kMessages; ++m) broker.publish("bench.topic", m);
    done.wait();
  }
  state.counters["ns_per_msg"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kMessages,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_BrokerRoutingByName)->Unit(benchmark::kMillisecond)->UseRealTime();

// Sustained throughput: `senders` actors each send kMessages/senders to one receiver.
class Blaster final : public rt::Actor<int> {
 public:
  explicit Blaster(rt::ActorRef<int> target) : target_(std::move(target)) {}
  capsule::Status handle(int& n, rt::ActorContext<int>& /*ctx*/) override {
    for (int i = 0; i < n; ++i) target_.tell(i);
    return capsule::ok();
  }

 private:
  rt::ActorRef<int> target_;
};

void BM_Throughput(benchmark::State& state) {
  const auto senders = static_cast<int>(state.range(0));
  constexpr int kMessages = 2000000;
  rt::ActorSystem system;
  savina::Latch done;
  auto sink = *system.spawn<Sink>({}, nullptr, kMessages, &done);
  std::vector<rt::ActorRef<int>> blasters;
  for (int i = 0; i < senders; ++i) blasters.push_back(*system.spawn<Blaster>({}, sink));
  for (auto _ : state) {
    done.reset(1);
    for (auto& b : blasters) b.tell(kMessages / senders);
    done.wait();
  }
  state.counters["msgs_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMessages, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Throughput)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

// Memory: RSS delta over 100k idle actors (each has processed one message).
void BM_IdleActorMemory(benchmark::State& state) {
  constexpr int kActors = 100000;
  double per_actor = 0;
  for (auto _ : state) {
    rt::ActorSystem system;
    std::vector<rt::ActorRef<int>> refs;
    refs.reserve(kActors);
    const long before = rss_bytes();
    for (int i = 0; i < kActors; ++i) refs.push_back(*system.spawn<Idle>({}));
    for (auto& r : refs) r.tell(1);
    while (system.actor_count() != kActors) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    per_actor = static_cast<double>(rss_bytes() - before) / kActors;
  }
  state.counters["bytes_per_actor"] = per_actor;
}
BENCHMARK(BM_IdleActorMemory)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

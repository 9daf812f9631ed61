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
  Sink(long target, savina::Latch* done) : target_(target), done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    if (++seen_ == target_) {
      seen_ = 0;
      done_->arrive();
    }
    return capsule::ok();
  }

 private:
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
  state.SetLabel("spawn from the benchmark thread + 1 message processed + stop, per actor");
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
  state.SetLabel("spawn of an idle actor (pre_start, table insert), no message, per actor");
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
  state.SetLabel("2 actors on workers: one round trip = 2 messages processed");
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
    auto sub = system.spawn<Sink>({}, kMessages, &done);
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
  state.SetLabel(
      "publish via topic handle from the benchmark thread, until every subscriber "
      "processed every message");
}
BENCHMARK(BM_BrokerPublish)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Publish by topic name (the name lookup on every publish) from the benchmark thread to one
// subscriber, which processes the messages on a worker meanwhile; counted once it processed all.
void BM_BrokerRoutingByName(benchmark::State& state) {
  rt::ActorSystem system;
  rt::MessageBroker<int> broker(system);
  savina::Latch done;
  constexpr int kMessages = 100000;
  auto sub = system.spawn<Sink>({}, kMessages, &done);
  static_cast<void>(broker.subscribe("bench.topic", *sub));
  for (auto _ : state) {
    done.reset(1);
    for (int m = 0; m < kMessages; ++m) broker.publish("bench.topic", m);
    done.wait();
  }
  state.counters["ns_per_msg"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kMessages,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel("publish by topic name to 1 subscriber, until it processed every message");
}
BENCHMARK(BM_BrokerRoutingByName)->Unit(benchmark::kMillisecond)->UseRealTime();

// Sustained throughput, N senders -> 1 sink, counted once the sink processed every message. Every
// row reports `consumed_while_sending`: the share of the messages the sink had processed when the
// last sender finished sending. Near 0 means the row measured filling the sink's mailbox and then
// draining it (the sink did not run while the senders sent), near 1 that both ran concurrently.
// The sink publishes its progress with one relaxed store per message (it is the only writer), the
// same in every row.
class CountingSink final : public rt::Actor<int> {
 public:
  CountingSink(std::atomic<long>* progress, long target, savina::Latch* done)
      : progress_(progress), target_(target), done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    progress_->store(++seen_, std::memory_order_relaxed);
    if (seen_ % target_ == 0) done_->arrive();
    return capsule::ok();
  }

 private:
  std::atomic<long>* progress_;
  long target_;
  long seen_ = 0;
  savina::Latch* done_;
};

// Where the sink was when the last sender finished: each sender notes the sink's progress after
// its last send; the last one to finish leaves its note.
struct SendProgress {
  std::atomic<long>* sink_progress = nullptr;
  std::atomic<int> senders_left{0};
  std::atomic<long> consumed_at_end{0};
  void sender_finished() {
    const long seen = sink_progress->load(std::memory_order_relaxed);
    if (senders_left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      consumed_at_end.store(seen, std::memory_order_relaxed);
    }
  }
};

class Blaster final : public rt::Actor<int> {
 public:
  Blaster(rt::ActorRef<int> target, SendProgress* progress)
      : target_(std::move(target)), progress_(progress) {}
  capsule::Status handle(int& n, rt::ActorContext<int>& /*ctx*/) override {
    for (int i = 0; i < n; ++i) target_.tell(i);
    progress_->sender_finished();
    return capsule::ok();
  }

 private:
  rt::ActorRef<int> target_;
  SendProgress* progress_;
};

constexpr int kThroughputMessages = 2000000;

void report_throughput(benchmark::State& state, long consumed_while_sending_total) {
  const double total = static_cast<double>(state.iterations()) * kThroughputMessages;
  state.counters["msgs_per_s"] = benchmark::Counter(total, benchmark::Counter::kIsRate);
  state.counters["consumed_while_sending"] =
      static_cast<double>(consumed_while_sending_total) / total;
}

// Senders are actors: each gets one message and sends its share from inside its handler. The
// sink is woken from a worker, so it is queued on that worker (its run-next slot) and runs
// concurrently only if another worker takes it from there.
void BM_ThroughputActorSenders(benchmark::State& state) {
  const auto senders = static_cast<int>(state.range(0));
  rt::ActorSystem system;
  savina::Latch done;
  std::atomic<long> sink_progress{0};
  SendProgress progress;
  progress.sink_progress = &sink_progress;
  auto sink = *system.spawn<CountingSink>({}, &sink_progress, kThroughputMessages, &done);
  std::vector<rt::ActorRef<int>> blasters;
  blasters.reserve(static_cast<std::size_t>(senders));
  for (int i = 0; i < senders; ++i) blasters.push_back(*system.spawn<Blaster>({}, sink, &progress));
  long consumed_while_sending = 0;
  for (auto _ : state) {
    done.reset(1);
    const long before = sink_progress.load(std::memory_order_relaxed);
    progress.senders_left.store(senders);
    for (auto& b : blasters) b.tell(kThroughputMessages / senders);
    done.wait();
    consumed_while_sending += progress.consumed_at_end.load() - before;
  }
  report_throughput(state, consumed_while_sending);
  state.SetLabel(std::to_string(senders) +
                 " sender actor(s) -> 1 sink actor, senders woken on workers");
}
BENCHMARK(BM_ThroughputActorSenders)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Senders are plain threads (the benchmark thread and, for 2, one more): not workers, so the sink
// is scheduled on a worker queue and, once woken, runs on that worker while they keep sending.
void BM_ThroughputExternalSenders(benchmark::State& state) {
  const auto senders = static_cast<int>(state.range(0));
  rt::ActorSystem system;
  savina::Latch done;
  std::atomic<long> sink_progress{0};
  SendProgress progress;
  progress.sink_progress = &sink_progress;
  auto sink = *system.spawn<CountingSink>({}, &sink_progress, kThroughputMessages, &done);
  const int share = kThroughputMessages / senders;
  auto send_share = [&] {
    for (int i = 0; i < share; ++i) sink.tell(i);
    progress.sender_finished();
  };
  long consumed_while_sending = 0;
  for (auto _ : state) {
    done.reset(1);
    const long before = sink_progress.load(std::memory_order_relaxed);
    progress.senders_left.store(senders);
    std::vector<std::thread> others;
    for (int i = 1; i < senders; ++i) others.emplace_back(send_share);
    send_share();
    for (auto& t : others) t.join();
    done.wait();
    consumed_while_sending += progress.consumed_at_end.load() - before;
  }
  report_throughput(state, consumed_while_sending);
  state.SetLabel(std::to_string(senders) + " external thread(s) -> 1 sink actor on a worker");
}
BENCHMARK(BM_ThroughputExternalSenders)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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
  state.SetLabel("RSS delta over 100k idle actors that each processed 1 message, incl. refs");
}
BENCHMARK(BM_IdleActorMemory)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

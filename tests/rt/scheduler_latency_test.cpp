// Queue latency while workers are parked: actors woken inside long handlers, external producers
// feeding many actors, and bursts spreading over the parked workers. The long handlers stand in
// for component handlers, which may run up to their wall-time budget. Every timing gate is gross
// (waited behind a whole handler, or a burst ran on one or two workers): a shared, loaded
// machine stays far below them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Collected;
using testing::eventually;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

double to_ms(std::int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

// Every idle worker parks after a few microseconds of searching; this leaves a wide margin.
void let_workers_park() {
  std::this_thread::sleep_for(50ms);
}

// Records how long each message (which carries its send time) waited before its handler ran.
class Recorder final : public Actor<std::int64_t> {
 public:
  explicit Recorder(Collected<std::int64_t>* waits) : waits_(waits) {}
  Status handle(std::int64_t& sent_at, ActorContext<std::int64_t>& /*ctx*/) override {
    waits_->push_back(now_ns() - sent_at);
    return ok();
  }

 private:
  Collected<std::int64_t>* waits_;
};

// On each message: keeps the worker busy for `length`, and wakes `peer` `wakes` times, evenly
// spread from the start (a send from inside the handler, so the peer lands in this worker's
// run-next slot).
class LongHandler final : public Actor<int> {
 public:
  LongHandler(ActorRef<std::int64_t> peer, std::chrono::milliseconds length, int wakes,
              std::atomic<int>* finished)
      : peer_(std::move(peer)), length_(length), wakes_(wakes), finished_(finished) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    const auto start = Clock::now();
    for (int i = 0; i < wakes_; ++i) {
      busy_until(start + length_ * i / wakes_);
      static_cast<void>(peer_.send(now_ns()));
    }
    busy_until(start + length_);
    finished_->fetch_add(1);
    return ok();
  }

 private:
  // Spins (a component handler burns CPU until its budget).
  static void busy_until(Clock::time_point end) {
    while (Clock::now() < end) {
    }
  }

  ActorRef<std::int64_t> peer_;
  std::chrono::milliseconds length_;
  int wakes_;
  std::atomic<int>* finished_;
};

std::int64_t percentile(std::vector<std::int64_t> values, double p) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[rank];
}

void report(const char* what, const std::vector<std::int64_t>& waits) {
  const double p50 = to_ms(percentile(waits, 0.50));
  const double p99 = to_ms(percentile(waits, 0.99));
  const double max = to_ms(percentile(waits, 1.0));
  std::printf("[ latency  ] %s: n=%zu p50=%.3f ms p99=%.3f ms max=%.3f ms\n", what, waits.size(),
              p50, p99, max);
  ::testing::Test::RecordProperty(std::string(what) + "_p50_us", static_cast<int>(p50 * 1000));
  ::testing::Test::RecordProperty(std::string(what) + "_p99_us", static_cast<int>(p99 * 1000));
}

// Long enough that an actor waiting for the handler to end cannot pass for a slow machine.
constexpr auto kLongHandler = 400ms;
// A woken actor must run within this while the handler still runs. Normal is about a millisecond;
// waiting behind the handler is at least kLongHandler. 150 ms was once exceeded (162 ms) under
// TSan at load 11 by an external producer's message, with no handler in the way: the gate sits
// halfway between that and a whole handler, so only waiting behind one can cross it.
constexpr auto kGrossWait = 300ms;

// Issue 15: a handler's send put the receiver in the worker's run-next slot, where it waited for
// the whole handler although three workers were idle (parked).
TEST(SchedulerLatency, ActorWokenInsideALongHandlerRunsOnAnIdleWorker) {
  Collected<std::int64_t> waits;  // outlives the system, whose actors write to it
  std::atomic<int> finished{0};
  SystemConfig config;
  config.scheduler.workers = 4;
  ActorSystem system(config);
  auto woken = system.spawn<Recorder>({}, &waits);
  ASSERT_TRUE(woken);
  auto busy = system.spawn<LongHandler>({}, *woken, kLongHandler, 1, &finished);
  ASSERT_TRUE(busy);
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    let_workers_park();
    busy->tell(round);
    ASSERT_TRUE(eventually([&] {
      return finished.load() == round + 1 && waits.size() == static_cast<std::size_t>(round + 1);
    }));
  }
  report("woken_in_long_handler", waits.items());
  for (const std::int64_t wait : waits.items()) {
    EXPECT_LT(wait, std::chrono::nanoseconds(kGrossWait).count())
        << "the woken actor waited " << to_ms(wait) << " ms behind a "
        << std::chrono::milliseconds(kLongHandler).count() << " ms handler";
  }
}

// The same actor woken again and again by one long handler (a stream of small messages, each
// handled before the next arrives) runs each time, not once the handler ends.
TEST(SchedulerLatency, ActorWokenRepeatedlyByOneLongHandlerRunsEachTime) {
  Collected<std::int64_t> waits;  // outlives the system, whose actors write to it
  std::atomic<int> finished{0};
  SystemConfig config;
  config.scheduler.workers = 4;
  ActorSystem system(config);
  auto woken = system.spawn<Recorder>({}, &waits);
  ASSERT_TRUE(woken);
  constexpr int kWakes = 6;
  auto busy = system.spawn<LongHandler>({}, *woken, kLongHandler, kWakes, &finished);
  ASSERT_TRUE(busy);
  let_workers_park();
  busy->tell(0);
  ASSERT_TRUE(eventually(
      [&] { return finished.load() == 1 && waits.size() == static_cast<std::size_t>(kWakes); }));
  report("woken_repeatedly_in_long_handler", waits.items());
  for (const std::int64_t wait : waits.items()) {
    EXPECT_LT(wait, std::chrono::nanoseconds(kGrossWait).count())
        << "the woken actor waited " << to_ms(wait) << " ms inside a "
        << std::chrono::milliseconds(kLongHandler).count() << " ms handler";
  }
}

// External producers (threads outside the runtime) send bursts to many actors; between bursts the
// workers park. Meanwhile one actor runs long handlers that wake another actor. Every message
// must be handled; the latencies are reported, and only the gross case is gated.
TEST(SchedulerLatency, ExternalProducersToManyActorsWhileWorkersPark) {
  constexpr int kActors = 64;
  constexpr int kProducers = 4;
  constexpr int kBursts = 40;
  Collected<std::int64_t> external_waits;  // these outlive the system, whose actors write to them
  Collected<std::int64_t> woken_waits;
  std::atomic<int> finished{0};
  SystemConfig config;
  config.scheduler.workers = 4;
  ActorSystem system(config);
  std::vector<ActorRef<std::int64_t>> actors;
  for (int i = 0; i < kActors; ++i) {
    auto actor = system.spawn<Recorder>({}, &external_waits);
    ASSERT_TRUE(actor);
    actors.push_back(*actor);
  }
  auto woken = system.spawn<Recorder>({}, &woken_waits);
  ASSERT_TRUE(woken);
  auto busy = system.spawn<LongHandler>({}, *woken, kLongHandler, 1, &finished);
  ASSERT_TRUE(busy);

  let_workers_park();
  std::atomic<int> refused{0};
  std::vector<std::jthread> producers;  // joined even when an assertion returns early
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int burst = 0; burst < kBursts; ++burst) {
        // Long enough for the workers to finish the previous burst and park again.
        std::this_thread::sleep_for(std::chrono::milliseconds(2 + (burst + p) % 4));
        for (int i = p; i < kActors; i += kProducers) {
          if (!actors[static_cast<std::size_t>(i)].send(now_ns())) refused.fetch_add(1);
        }
      }
    });
  }
  constexpr int kLongRounds = 2;
  for (int round = 0; round < kLongRounds; ++round) {
    busy->tell(round);
    ASSERT_TRUE(eventually([&] {
      return finished.load() == round + 1 &&
             woken_waits.size() == static_cast<std::size_t>(round + 1);
    }));
  }
  for (auto& producer : producers) producer.join();

  EXPECT_EQ(refused.load(), 0);
  const auto expected = static_cast<std::size_t>(kActors) * kBursts;
  ASSERT_TRUE(eventually([&] { return external_waits.size() == expected; }))
      << external_waits.size() << " of " << expected << " messages handled";
  report("external_producers", external_waits.items());
  report("woken_in_long_handler_under_load", woken_waits.items());
  const auto gross = std::chrono::nanoseconds(kGrossWait).count();
  EXPECT_LT(percentile(external_waits.items(), 1.0), gross);
  EXPECT_LT(percentile(woken_waits.items(), 1.0), gross);
}

// Sleeps (a handler waiting on I/O or a timer), so the burst's speed-up does not depend on cores.
class Sleeper final : public Actor<int> {
 public:
  explicit Sleeper(std::atomic<int>* done) : done_(done) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    std::this_thread::sleep_for(50ms);
    done_->fetch_add(1);
    return ok();
  }

 private:
  std::atomic<int>* done_;
};

// A burst sent while every worker is parked spreads over the workers: the 8 handlers of 50 ms
// finish in about 100 ms on 4 workers, 400 ms if one worker ran them all.
TEST(SchedulerLatency, BurstSpreadsOverParkedWorkers) {
  constexpr int kActors = 8;
  std::atomic<int> done{0};
  SystemConfig config;
  config.scheduler.workers = 4;
  ActorSystem system(config);
  std::vector<ActorRef<int>> actors;
  for (int i = 0; i < kActors; ++i) {
    auto actor = system.spawn<Sleeper>({}, &done);
    ASSERT_TRUE(actor);
    actors.push_back(*actor);
  }
  let_workers_park();
  const auto start = Clock::now();
  for (auto& actor : actors) actor.tell(1);
  ASSERT_TRUE(eventually([&] { return done.load() == kActors; }));
  const auto took = Clock::now() - start;
  std::printf("[ latency  ] burst of %d x 50 ms handlers on 4 workers: %.1f ms\n", kActors,
              std::chrono::duration<double, std::milli>(took).count());
  EXPECT_LT(took, 300ms);
}

// Sends one message to each of `targets`, then blocks its worker for `length` (a long handler).
class Fanner final : public Actor<int> {
 public:
  Fanner(std::vector<ActorRef<int>> targets, std::chrono::milliseconds length)
      : targets_(std::move(targets)), length_(length) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    for (auto& target : targets_) target.tell(1);
    std::this_thread::sleep_for(length_);
    return ok();
  }

 private:
  std::vector<ActorRef<int>> targets_;
  std::chrono::milliseconds length_;
};

// A burst sent from inside a long handler: one parked worker is woken for it, and each worker that
// finds work wakes the next (the searcher rule), so the 28 handlers of 50 ms take about 200 ms on
// the 7 idle workers. Without the rule two workers run them (700 ms).
TEST(SchedulerLatency, BurstFromALongHandlerSpreadsOverParkedWorkers) {
  constexpr int kActors = 28;
  std::atomic<int> done{0};
  SystemConfig config;
  config.scheduler.workers = 8;
  ActorSystem system(config);
  std::vector<ActorRef<int>> actors;
  for (int i = 0; i < kActors; ++i) {
    auto actor = system.spawn<Sleeper>({}, &done);
    ASSERT_TRUE(actor);
    actors.push_back(*actor);
  }
  auto fanner = system.spawn<Fanner>({}, actors, 500ms);
  ASSERT_TRUE(fanner);
  let_workers_park();
  const auto start = Clock::now();
  fanner->tell(1);
  ASSERT_TRUE(eventually([&] { return done.load() == kActors; }));
  const auto took = Clock::now() - start;
  std::printf(
      "[ latency  ] burst of %d x 50 ms handlers from a 500 ms handler, 8 workers: %.1f ms\n",
      kActors, std::chrono::duration<double, std::milli>(took).count());
  EXPECT_LT(took, 400ms);
}

}  // namespace
}  // namespace capsule::rt

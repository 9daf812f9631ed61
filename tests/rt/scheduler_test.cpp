#include <atomic>
#include <chrono>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Gate;

// Fairness: with one worker and a budget of 8, an actor with a long queue yields after 8
// messages, so another runnable actor gets its turn long before the queue is drained.
class Flooded final : public Actor<int> {
 public:
  Flooded(Gate* gate, std::atomic<int>* processed) : gate_(gate), processed_(processed) {}
  Status handle(int& msg, ActorContext<int>& /*ctx*/) override {
    if (msg == 0) gate_->wait();
    processed_->fetch_add(1);
    return ok();
  }

 private:
  Gate* gate_;
  std::atomic<int>* processed_;
};

class Observer final : public Actor<int> {
 public:
  Observer(std::atomic<int>* flooded_processed, std::atomic<int>* seen_at)
      : flooded_processed_(flooded_processed), seen_at_(seen_at) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    seen_at_->store(flooded_processed_->load());
    return ok();
  }

 private:
  std::atomic<int>* flooded_processed_;
  std::atomic<int>* seen_at_;
};

TEST(Scheduler, BudgetBoundsATurn) {
  SystemConfig config;
  config.scheduler = SchedulerConfig{1, 8, 16};
  ActorSystem system(config);
  Gate gate;
  std::atomic<int> processed{0};
  std::atomic<int> seen_at{-1};
  auto flooded = system.spawn<Flooded>({}, &gate, &processed);
  auto observer = system.spawn<Observer>({}, &processed, &seen_at);
  ASSERT_TRUE(flooded && observer);
  flooded->tell(0);
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  for (int i = 1; i <= 1000; ++i) flooded->tell(i);
  observer->tell(1);  // queued behind the busy worker's current turn
  gate.open();
  ASSERT_TRUE(eventually([&] { return seen_at.load() >= 0; }));
  EXPECT_LE(seen_at.load(), 8);
  EXPECT_TRUE(eventually([&] { return processed.load() == 1001; }));
}

// Lingering (SchedulerConfig::linger_polls): a worker whose actor ran dry keeps polling its
// mailbox only while it has nothing else to run. An actor streamed to from another thread must
// not hold the worker against an actor queued behind it, nor against a stop.
class Counter final : public Actor<int> {
 public:
  explicit Counter(std::atomic<int>* processed) : processed_(processed) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    processed_->fetch_add(1);
    return ok();
  }

 private:
  std::atomic<int>* processed_;
};

// Sends to `target` from its own thread until `until` holds (or 10 s passed).
class Stream {
 public:
  Stream(ActorRef<int> target, std::function<bool()> until)
      : thread_([target = std::move(target), until = std::move(until)] {
          const auto deadline = std::chrono::steady_clock::now() + 10s;
          for (int i = 0; !until() && std::chrono::steady_clock::now() < deadline; ++i) {
            target.tell(i);
            if (i % 16 == 0) std::this_thread::yield();  // the worker keeps catching up
          }
        }) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { thread_.join(); }

 private:
  std::thread thread_;
};

TEST(Scheduler, LingeringLeavesTheWorkerToAnotherActor) {
  SystemConfig config;
  config.scheduler = SchedulerConfig{1, 8, 16, 1u << 20};  // lingers as long as it may
  ActorSystem system(config);
  std::atomic<int> streamed{0};
  std::atomic<int> observed_at{-1};
  auto streamed_to = system.spawn<Counter>({}, &streamed);
  auto observer = system.spawn<Observer>({}, &streamed, &observed_at);
  ASSERT_TRUE(streamed_to && observer);
  // The stream goes on until the observer ran: it must run while its worker is being fed.
  Stream stream(*streamed_to, [&] { return observed_at.load() >= 0; });
  ASSERT_TRUE(eventually([&] { return streamed.load() > 1000; }));
  observer->tell(1);
  EXPECT_TRUE(eventually([&] { return observed_at.load() >= 0; }));
}

TEST(Scheduler, LingeringActorStopsWhenAsked) {
  SystemConfig config;
  config.scheduler = SchedulerConfig{1, 64, 16, 1u << 20};
  ActorSystem system(config);
  std::atomic<int> streamed{0};
  auto streamed_to = system.spawn<Counter>({}, &streamed);
  ASSERT_TRUE(streamed_to);
  const ActorAddress address = streamed_to->address();
  Stream stream(*streamed_to, [&] { return !address.alive(); });
  ASSERT_TRUE(eventually([&] { return streamed.load() > 1000; }));
  system.stop(address, StopMode::kImmediate);
  EXPECT_TRUE(eventually([&] { return !address.alive(); }));
}

// Different actors run in parallel: each handler waits until the other is inside its own.
class Rendezvous final : public Actor<int> {
 public:
  Rendezvous(std::atomic<bool>* mine, std::atomic<bool>* theirs, std::atomic<int>* met)
      : mine_(mine), theirs_(theirs), met_(met) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    mine_->store(true);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!theirs_->load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    if (theirs_->load()) met_->fetch_add(1);
    return ok();
  }

 private:
  std::atomic<bool>* mine_;
  std::atomic<bool>* theirs_;
  std::atomic<int>* met_;
};

TEST(Scheduler, DifferentActorsRunInParallel) {
  SystemConfig config;
  config.scheduler.workers = 2;
  ActorSystem system(config);
  std::atomic<bool> a_in{false};
  std::atomic<bool> b_in{false};
  std::atomic<int> met{0};
  auto a = system.spawn<Rendezvous>({}, &a_in, &b_in, &met);
  auto b = system.spawn<Rendezvous>({}, &b_in, &a_in, &met);
  ASSERT_TRUE(a && b);
  a->tell(1);
  b->tell(1);
  ASSERT_TRUE(eventually([&] { return met.load() == 2; }, 20000ms));
}

// One actor never runs on two threads at once, however many threads send to it.
class Exclusive final : public Actor<int> {
 public:
  Exclusive(std::atomic<bool>* inside, std::atomic<int>* overlaps, std::atomic<int>* count)
      : inside_(inside), overlaps_(overlaps), count_(count) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    if (inside_->exchange(true)) overlaps_->fetch_add(1);
    unsynchronized_ += 1;  // plain state: TSan would flag concurrent turns
    inside_->store(false);
    count_->fetch_add(1);
    return ok();
  }

 private:
  std::atomic<bool>* inside_;
  std::atomic<int>* overlaps_;
  std::atomic<int>* count_;
  long unsynchronized_ = 0;
};

TEST(Scheduler, AnActorNeverRunsOnTwoThreadsAtOnce) {
  ActorSystem system;
  std::atomic<bool> inside{false};
  std::atomic<int> overlaps{0};
  std::atomic<int> count{0};
  auto target = system.spawn<Exclusive>({}, &inside, &overlaps, &count);
  ASSERT_TRUE(target);
  std::vector<std::thread> senders;
  senders.reserve(4);
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) target->tell(i);
    });
  }
  for (auto& t : senders) t.join();
  ASSERT_TRUE(eventually([&] { return count.load() == 20000; }));
  EXPECT_EQ(overlaps.load(), 0);
}

}  // namespace
}  // namespace capsule::rt

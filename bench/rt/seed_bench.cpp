// Figures the design seeds quote for the actor runtime that nothing else measures, each next to
// the seed's number and, where there is one, a baseline of the same operation without capsule::rt
// measured in the same run:
//   registry lookup, timer accuracy, timeout scheduling cost, memory per 1,000 pending asks,
//   scaling from 1 worker to all (throughput per worker).
// Prints Markdown table rows (bench/common/bench_util.hpp). Usage: rt_seed_bench
#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <malloc.h>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "../common/bench_util.hpp"
#include "bench_common.hpp"

namespace {

namespace rt = capsule::rt;
using capsule::bench::Clock;
using capsule::bench::print_table_row;

volatile std::uint64_t g_checksum = 0;  // keeps measured lookups from being optimised away

double ns_per(Clock::duration d, double count) {
  return std::chrono::duration<double, std::nano>(d).count() / count;
}

// Median of `reps` runs of `one` (each returns its own figure): the machine is shared and noisy.
template <typename F>
double median_of(int reps, F&& one) {
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) v.push_back(one());
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class Idle final : public rt::Actor<int> {
 public:
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    return capsule::ok();
  }
};

// -- registry lookup -----------------------------------------------------------------------------
void registry_lookup() {
  constexpr int kNames = 10000;
  constexpr int kLookups = 2'000'000;
  rt::ActorSystem system;
  auto idle = *system.spawn<Idle>({});
  std::vector<std::string> names;
  std::unordered_map<std::string, rt::ActorAddress> plain;
  for (int i = 0; i < kNames; ++i) {
    names.push_back("service.instance-" + std::to_string(i));
    if (!system.registry().bind(names.back(), idle.address())) std::abort();
    plain.emplace(names.back(), idle.address());
  }
  // Random order, the same for both: a lookup does not find its bucket in cache by accident.
  std::vector<const std::string*> order;
  order.reserve(kLookups);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, kNames - 1);
  for (int i = 0; i < kLookups; ++i) order.push_back(&names[static_cast<std::size_t>(pick(rng))]);

  auto ours = [&] {
    std::uint64_t sum = 0;
    const auto t0 = Clock::now();
    for (const std::string* name : order) sum += system.registry().lookup(*name)->id();
    const auto elapsed = Clock::now() - t0;
    g_checksum = g_checksum + sum;
    return ns_per(elapsed, kLookups);
  };
  auto baseline = [&] {
    std::uint64_t sum = 0;
    const auto t0 = Clock::now();
    for (const std::string* name : order) sum += plain.find(*name)->second.id();
    const auto elapsed = Clock::now() - t0;
    g_checksum = g_checksum + sum;
    return ns_per(elapsed, kLookups);
  };
  const auto [a, b] = capsule::bench::alternate_medians(5, ours, baseline);
  print_table_row({"rt registry lookup by name, 10k names, random order, 1 thread (median of 5)", a,
                   "ns", b, "std::unordered_map<string, address> find, same keys",
                   "~30 ns (seed)"});
}

// -- timer accuracy ------------------------------------------------------------------------------
using TimePoint = Clock::time_point;

// Records how late each timed message arrived (its payload is when it was due).
class Stamp final : public rt::Actor<TimePoint> {
 public:
  Stamp(std::vector<double>* lateness_us, savina::Latch* done)
      : lateness_us_(lateness_us), done_(done) {}
  capsule::Status handle(TimePoint& due, rt::ActorContext<TimePoint>& /*ctx*/) override {
    lateness_us_->push_back(capsule::bench::us(Clock::now() - due));
    done_->arrive();
    return capsule::ok();
  }

 private:
  std::vector<double>* lateness_us_;
  savina::Latch* done_;
};

void timer_accuracy() {
  // 500 timers armed at once, due 1 ms .. 100 ms from now: lateness = handled - due.
  constexpr int kTimers = 500;
  auto delay_of = [](int i) { return std::chrono::microseconds(1000 + i * 198); };

  std::vector<double> ours;
  {
    rt::ActorSystem system;
    savina::Latch done;
    ours.reserve(kTimers);
    auto stamp = *system.spawn<Stamp>({}, &ours, &done);
    done.reset(kTimers);
    const auto now = Clock::now();
    for (int i = 0; i < kTimers; ++i) system.send_after(stamp, delay_of(i), now + delay_of(i));
    done.wait();
  }
  // Baseline: the same timers on a bare Asio steady_timer and io_context thread (what send_after
  // is built on), the callback itself taking the time: no actor, no scheduler, no wake-up.
  std::vector<double> raw;
  {
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    std::thread io_thread([&] { io.run(); });
    savina::Latch done;
    done.reset(kTimers);
    std::vector<std::unique_ptr<asio::steady_timer>> timers;
    raw.reserve(kTimers);
    const auto now = Clock::now();
    for (int i = 0; i < kTimers; ++i) {
      timers.push_back(std::make_unique<asio::steady_timer>(io));
      const auto due = now + delay_of(i);
      timers.back()->expires_at(due);
      timers.back()->async_wait([&raw, &done, due](const asio::error_code&) {
        raw.push_back(capsule::bench::us(Clock::now() - due));
        done.arrive();
      });
    }
    done.wait();
    guard.reset();
    io_thread.join();
  }
  const auto o = capsule::bench::percentiles(ours);
  const auto r = capsule::bench::percentiles(raw);
  print_table_row({"rt send_after lateness p50 (500 timers due in 1-100 ms, handled by an actor)",
                   o.p50, "us", r.p50, "bare Asio steady_timer callback", "1-5 ms (seed)"});
  print_table_row({"rt send_after lateness p99", o.p99, "us", r.p99,
                   "bare Asio steady_timer callback", "1-5 ms (seed)"});
}

// -- timeout scheduling cost ---------------------------------------------------------------------
void timeout_scheduling() {
  constexpr int kTimeouts = 100000;
  const auto far = std::chrono::hours(1);
  rt::ActorSystem system;
  // What every ask() does for its deadline: run_after (a shared timer state, an Asio timer armed
  // from this thread), and when the reply comes, cancel (posted to the timer thread).
  std::vector<rt::TimerHandle> handles;
  handles.reserve(kTimeouts);
  auto schedule = [&] {
    handles.clear();
    const auto t0 = Clock::now();
    for (int i = 0; i < kTimeouts; ++i) handles.push_back(system.run_after(far, [] {}));
    const double ns = ns_per(Clock::now() - t0, kTimeouts);
    for (auto& h : handles) h.cancel();
    return ns;
  };
  auto schedule_cancel = [&] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kTimeouts; ++i) system.run_after(far, [] {}).cancel();
    return ns_per(Clock::now() - t0, kTimeouts);
  };
  // Baseline: a bare Asio steady_timer per timeout on a running io_context, armed from this
  // thread, then cancelled.
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  timers.reserve(kTimeouts);
  auto raw_schedule = [&] {
    timers.clear();
    const auto t0 = Clock::now();
    for (int i = 0; i < kTimeouts; ++i) {
      timers.push_back(std::make_unique<asio::steady_timer>(io, far));
      timers.back()->async_wait([](const asio::error_code&) {});
    }
    const double ns = ns_per(Clock::now() - t0, kTimeouts);
    for (auto& t : timers) t->cancel();
    return ns;
  };
  auto raw_schedule_cancel = [&] {
    const auto t0 = Clock::now();
    for (int i = 0; i < kTimeouts; ++i) {
      asio::steady_timer t(io, far);
      t.async_wait([](const asio::error_code&) {});
      t.cancel();
    }
    return ns_per(Clock::now() - t0, kTimeouts);
  };
  const auto [s, rs] = capsule::bench::alternate_medians(3, schedule, raw_schedule);
  const auto [sc, rsc] = capsule::bench::alternate_medians(3, schedule_cancel, raw_schedule_cancel);
  print_table_row({"rt run_after (a request deadline), 100k pending, per call (median of 3)", s,
                   "ns", rs, "bare Asio steady_timer + async_wait", "~1 us (seed)"});
  print_table_row({"rt run_after + cancel (deadline of a request that was answered)", sc, "ns", rsc,
                   "bare Asio steady_timer async_wait + cancel", "~1 us (seed)"});
  timers.clear();
  guard.reset();
  io.stop();
  io_thread.join();
}

// -- memory per 1,000 pending requests -----------------------------------------------------------
struct Request {
  rt::Replier<int> replier;
};

// Takes requests and never answers them: each stays pending until its deadline.
class Silent final : public rt::Actor<Request> {
 public:
  explicit Silent(std::atomic<long>* seen) : seen_(seen) {}
  capsule::Status handle(Request& /*msg*/, rt::ActorContext<Request>& /*ctx*/) override {
    seen_->fetch_add(1, std::memory_order_relaxed);
    return capsule::ok();
  }

 private:
  std::atomic<long>* seen_;
};

std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();  // every arena, plus mmapped blocks
  return m.uordblks + m.hblkhd;
}

void pending_request_memory() {
  constexpr int kPending = 100000;
  rt::ActorSystem system;
  std::atomic<long> seen{0};
  auto silent = *system.spawn<Silent>({}, &seen);
  std::atomic<long> completed{0};
  // Warm-up: the first requests grow the Asio timer queue and the allocator's arenas.
  for (int i = 0; i < 1000; ++i) {
    rt::ask<int>(
        system, silent, [](rt::Replier<int> r) { return Request{std::move(r)}; },
        std::chrono::hours(1), [&completed](const capsule::Result<int>&) { ++completed; });
  }
  while (seen.load() < 1000) std::this_thread::yield();
  const std::size_t before = heap_in_use();
  for (int i = 0; i < kPending; ++i) {
    rt::ask<int>(
        system, silent, [](rt::Replier<int> r) { return Request{std::move(r)}; },
        std::chrono::hours(1), [&completed](const capsule::Result<int>&) { ++completed; });
  }
  // Delivered and dropped by the target: what remains is the pending state alone.
  while (seen.load() < 1000 + kPending) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double per_1000 = static_cast<double>(heap_in_use() - before) / kPending * 1000 / 1024;
  if (completed.load() != 0) std::abort();
  print_table_row(
      {"rt ask() pending state (reply state + deadline timer), per 1,000 pending, "
       "heap bytes in use (mallinfo2)",
       per_1000, "KiB", std::nullopt, "", "~170 KB (seed)"});
}

// -- scaling from 1 worker to all ----------------------------------------------------------------
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

// 32 independent ping-pong pairs, 20,000 messages each: the same work for every worker count.
double pairs_throughput(unsigned workers) {
  constexpr int kPairs = 32;
  constexpr int kMessages = 20000;
  rt::SystemConfig config;
  config.scheduler.workers = workers;
  rt::ActorSystem system(config);
  savina::Latch done;
  std::vector<rt::ActorRef<Ball>> firsts;
  for (int p = 0; p < kPairs; ++p) {
    auto a_slot = std::make_shared<rt::ActorRef<Ball>>();
    auto b_slot = std::make_shared<rt::ActorRef<Ball>>();
    *a_slot = *system.spawn<Player>({}, &done, b_slot);
    *b_slot = *system.spawn<Player>({}, &done, a_slot);
    firsts.push_back(*a_slot);
  }
  auto one = [&] {
    done.reset(kPairs);
    const auto t0 = Clock::now();
    for (auto& a : firsts) a.tell(Ball{kMessages});
    done.wait();
    return static_cast<double>(kPairs) * (kMessages + 1) /
           std::chrono::duration<double>(Clock::now() - t0).count();
  };
  one();  // warm-up
  return median_of(5, one);
}

void scaling() {
  const unsigned all = std::max(1U, std::thread::hardware_concurrency());
  const double one_worker = pairs_throughput(1);
  for (unsigned w = 1; w <= all; ++w) {
    const double rate = w == 1 ? one_worker : pairs_throughput(w);
    print_table_row({"rt messages/s per worker, " + std::to_string(w) + " of " +
                         std::to_string(all) + " workers, 32 ping-pong pairs (median of 5)",
                     rate / w, "msg/s", one_worker, "1 worker, same run", "linear (seed)"});
  }
}

}  // namespace

int main() {
  registry_lookup();
  timer_accuracy();
  timeout_scheduling();
  pending_request_memory();
  scaling();
  return 0;
}

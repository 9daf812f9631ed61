#include <gtest/gtest.h>
#include <thread>

#include <capsule/component/correlation_tracker.hpp>
#include <capsule/component/timeout_handler.hpp>

namespace capsule::component {
namespace {

const ComponentId kA{"t", "a", "0"};
const ComponentId kB{"t", "b", "0"};

TEST(CorrelationTracker, RacingOutcomesDeliverExactlyOnce) {
  CorrelationTracker tracker;
  constexpr int kRequests = 2000;
  std::vector<std::atomic<int>> delivered(kRequests);
  std::vector<CorrelationId> ids;
  for (int i = 0; i < kRequests; ++i) {
    ids.push_back(
        tracker.begin({kA, kB, std::chrono::milliseconds{10}, [&delivered, i](CallbackResponse) {
                         delivered[static_cast<std::size_t>(i)]++;
                       }}));
  }
  // Reply, timeout and cancel race for every request on three threads.
  std::thread replier([&] {
    for (auto id : ids)
      tracker.resolve(id, CallbackResponse{0, kB, Payload::text("r"), std::nullopt},
                      RequestOutcome::kReplied);
  });
  std::thread expirer([&] {
    for (auto id : ids) tracker.expire(id);
  });
  std::thread canceller([&] {
    for (auto id : ids) static_cast<void>(tracker.cancel(id, kA));
  });
  replier.join();
  expirer.join();
  canceller.join();
  for (auto& d : delivered) EXPECT_EQ(d.load(), 1);
  const auto s = tracker.stats();
  EXPECT_EQ(s.replied + s.timed_out + s.cancelled, static_cast<std::uint64_t>(kRequests));
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.late_replies, static_cast<std::uint64_t>(kRequests) - s.replied);
}

TEST(CorrelationTracker, AbandonLeavesNoTrace) {
  CorrelationTracker tracker;
  int calls = 0;
  auto id = tracker.begin({kA, kB, {}, [&](CallbackResponse) { ++calls; }});
  tracker.abandon(id);
  EXPECT_FALSE(tracker.is_pending(id));
  EXPECT_FALSE(tracker.expire(id));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(tracker.stats().started, 0u);
}

TEST(TimeoutHandler, FiresInDeadlineOrderAndSkipsEndedRequests) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  std::mutex m;
  std::vector<CorrelationId> fired;
  std::set<CorrelationId> ended{2};
  {
    TimeoutHandler handler(
        io,
        [&](CorrelationId id) {
          std::lock_guard lock(m);
          if (!ended.count(id)) fired.push_back(id);
        },
        [&](CorrelationId id) { return !ended.count(id); });
    const auto now = std::chrono::steady_clock::now();
    handler.schedule(1, now + std::chrono::milliseconds(60));
    handler.schedule(2, now + std::chrono::milliseconds(10));
    handler.schedule(3, now + std::chrono::milliseconds(30));
    handler.schedule(4, now + std::chrono::milliseconds(5));  // earlier than anything armed
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(m);
        if (fired.size() == 3) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  guard.reset();
  io.stop();
  io_thread.join();
  EXPECT_EQ(fired, (std::vector<CorrelationId>{4, 3, 1}));
}

}  // namespace
}  // namespace capsule::component

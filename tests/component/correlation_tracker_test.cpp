#include <chrono>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <vector>

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
  ids.reserve(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    ids.push_back(tracker.begin(
        {kA, kB, std::chrono::milliseconds{10},
         [&delivered, i](const CallbackResponse&) { delivered[static_cast<std::size_t>(i)]++; }}));
  }
  // Reply, timeout and cancel race for every request on three threads.
  std::thread replier([&] {
    for (auto id : ids) {
      tracker.resolve(id, CallbackResponse{0, kB, Payload::text("r"), std::nullopt},
                      RequestOutcome::kReplied);
    }
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
  auto id = tracker.begin({kA, kB, {}, [&](const CallbackResponse&) { ++calls; }});
  tracker.abandon(id);
  EXPECT_FALSE(tracker.is_pending(id));
  EXPECT_FALSE(tracker.expire(id));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(tracker.stats().started, 0u);
}

// An Asio io_context on its own thread, as the runtime's timer thread.
class IoThread {
 public:
  IoThread() : thread_([this] { io.run(); }) {}
  ~IoThread() {
    guard_.reset();
    io.stop();
    thread_.join();
  }
  asio::io_context io;

 private:
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io);
  std::thread thread_;
};

// Polls `done` every 2 ms for up to 5 s (a failure bound, not a timing assertion).
template <typename F>
bool eventually(F&& done) {
  for (int i = 0; i < 2500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

TEST(TimeoutHandler, FiresEveryDueIdInDeadlineOrder) {
  IoThread io;
  std::mutex m;
  std::vector<CorrelationId> fired;
  {
    // Records every expiry it is handed: the handler decides order, nothing here filters.
    TimeoutHandler handler(
        io.io,
        [&](CorrelationId id) {
          std::lock_guard lock(m);
          fired.push_back(id);
        },
        [](CorrelationId) { return true; });
    const auto now = std::chrono::steady_clock::now();
    handler.schedule(1, now + std::chrono::milliseconds(60));
    handler.schedule(2, now + std::chrono::milliseconds(10));
    handler.schedule(3, now + std::chrono::milliseconds(30));
    handler.schedule(4, now + std::chrono::milliseconds(5));  // earlier than anything armed
    EXPECT_TRUE(eventually([&] {
      std::lock_guard lock(m);
      return fired.size() == 4;
    }));
  }
  std::lock_guard lock(m);
  EXPECT_EQ(fired, (std::vector<CorrelationId>{4, 2, 3, 1}));
}

// Wired as ComponentRuntime wires them (expiry -> tracker.expire, liveness -> is_pending): a
// request answered before its deadline gets its reply and nothing else when the deadline passes;
// the unanswered one times out. Nothing in the test filters outcomes.
TEST(TimeoutHandler, WithTheTrackerSkipsEndedRequests) {
  IoThread io;
  CorrelationTracker tracker;
  TimeoutHandler handler(
      io.io, [&](CorrelationId id) { tracker.expire(id); },
      [&](CorrelationId id) { return tracker.is_pending(id); });
  std::mutex m;
  std::vector<CallbackResponse> answered_outcomes, unanswered_outcomes;
  const auto answered =
      tracker.begin({kA, kB, std::chrono::milliseconds(5), [&](CallbackResponse r) {
                       std::lock_guard lock(m);
                       answered_outcomes.push_back(std::move(r));
                     }});
  const auto unanswered =
      tracker.begin({kA, kB, std::chrono::milliseconds(20), [&](CallbackResponse r) {
                       std::lock_guard lock(m);
                       unanswered_outcomes.push_back(std::move(r));
                     }});
  const auto now = std::chrono::steady_clock::now();
  // The answered deadline is the earlier one: its expiry has run by the time the other fires
  // (one timer thread, deadline order).
  handler.schedule(answered, now + std::chrono::milliseconds(5));
  handler.schedule(unanswered, now + std::chrono::milliseconds(20));
  ASSERT_TRUE(tracker.resolve(answered, CallbackResponse{0, kB, Payload::text("r"), std::nullopt},
                              RequestOutcome::kReplied));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return !unanswered_outcomes.empty();
  }));
  EXPECT_EQ(handler.queued(), 0u);  // both deadlines were handed to the tracker
  std::lock_guard lock(m);
  ASSERT_EQ(answered_outcomes.size(), 1u);
  EXPECT_TRUE(answered_outcomes[0].reply.has_value());
  ASSERT_EQ(unanswered_outcomes.size(), 1u);
  EXPECT_FALSE(unanswered_outcomes[0].reply.has_value());
  ASSERT_TRUE(unanswered_outcomes[0].error.has_value());
  EXPECT_EQ(unanswered_outcomes[0].error->code, ErrorCode::kTimeout);
  const auto stats = tracker.stats();
  EXPECT_EQ(stats.replied, 1u);
  EXPECT_EQ(stats.timed_out, 1u);
  EXPECT_EQ(stats.pending, 0u);
}

// The handler's own half: entries of requests that ended do not stay in its heap. Once the heap
// outgrows the live requests (past 4096 entries), the next schedule drops the ended ones.
TEST(TimeoutHandler, DropsEndedRequestsFromItsQueue) {
  IoThread io;
  constexpr CorrelationId kScheduled = 4097;
  constexpr CorrelationId kEnded = 3999;  // ids 1..3999 were answered, 4000.. still pending
  TimeoutHandler handler(
      io.io, [](CorrelationId) {}, [&](CorrelationId id) { return id > kEnded; });
  const auto later = std::chrono::steady_clock::now() + std::chrono::hours(1);
  for (CorrelationId id = 1; id <= kScheduled; ++id) handler.schedule(id, later);
  EXPECT_EQ(handler.queued(), kScheduled);
  handler.schedule(kScheduled + 1, later);
  EXPECT_EQ(handler.queued(), kScheduled - kEnded + 1);
}

}  // namespace
}  // namespace capsule::component

// ComponentRuntime::call(): an idle target's turn runs on the calling host thread
// (rt::ActorRef::send_run_here), a busy one's on a worker. Either way each caller gets its own
// reply or its callee's failure, and the wall-time limit still ends a call that waits.
// Real components: guest/examples/echo.c, trap.c, sleeper.c.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace std::chrono_literals;
using testing::RuntimeFixture;

// Several host threads call the same two instances at once: some calls run inline, others find
// the instance busy (another thread's inline turn, or a worker's) and queue. Every caller must
// get exactly its own payload back.
TEST_F(RuntimeFixture, ConcurrentCallersEachGetTheirOwnReply) {
  const auto ids = start(spec("echo", "echo", 2));
  ASSERT_EQ(ids.size(), 2u);
  constexpr int kThreads = 6;
  constexpr int kCalls = 300;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> callers;
  callers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int k = 0; k < kCalls; ++k) {
        const std::string text = "caller " + std::to_string(t) + " call " + std::to_string(k);
        auto r = runtime->call(ids[static_cast<std::size_t>(k % 2)], Payload::text(text), 20s);
        if (!r) {
          failed.fetch_add(1);
        } else if (r->as_string() != text) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(runtime->correlation_stats().replied, static_cast<std::uint64_t>(kThreads) * kCalls);
}

// The callee traps during the caller's own (inline) turn: the caller gets the trap as its
// answer, the supervisor restarts the instance, and the next call is answered again.
TEST_F(RuntimeFixture, CallerOfATrappingCalleeGetsTheError) {
  auto trap = spec("trap", "trap");
  trap.supervision.max_restarts = 10;
  trap.supervision.window = 30s;
  const auto ids = start(std::move(trap));
  ASSERT_EQ(ids.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    auto r = runtime->call(ids[0], Payload::text("boom"), 5s);
    ASSERT_FALSE(r) << "a trapping handler answered";
    // kUnavailable while the supervisor is restarting the instance after the previous trap.
    EXPECT_TRUE(r.error().code == ErrorCode::kTrap || r.error().code == ErrorCode::kUnavailable)
        << r.error().describe();
  }
  EXPECT_TRUE(recorder->wait_for_count(rt::EventKind::kChildRestarted, 1, 10s));
  const auto echo = start(spec("echo", "echo"));
  auto r = runtime->call(echo[0], Payload::text("still serving"), 5s);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "still serving");
}

// A call whose handler waits (WASI sleep) suspends the inline turn and gives the thread back to
// the wait; the wall-time limit, not the sleep, ends it, and the instance serves again after
// its restart.
TEST_F(RuntimeFixture, CallThatSleepsPastItsLimitFailsAtTheLimit) {
  auto sleepers = spec("sleeper", "sleeper");
  sleepers.limits.wall_time_per_call = 200ms;
  const auto ids = start(std::move(sleepers));
  ASSERT_EQ(ids.size(), 1u);
  auto r = runtime->call(ids[0], Payload::text("3600000"), 30s);
  ASSERT_FALSE(r) << "a sleeper under a 200 ms limit answered an hour-long sleep";
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  EXPECT_NE(r.error().message.find("wall-time limit of 200 ms"), std::string::npos)
      << r.error().describe();
  Result<Payload> again = make_error(ErrorCode::kUnavailable, "not asked yet");
  for (int i = 0; i < 100 && !again; ++i) {
    again = runtime->call(ids[0], Payload::text("5"), 5s);
    if (!again) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->as_string(), "slept 5");
}

}  // namespace
}  // namespace capsule::component

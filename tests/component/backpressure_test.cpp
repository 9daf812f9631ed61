// Backpressure that reaches the sender: a guest sending to a full `block` mailbox is suspended
// until there is room (its worker free meanwhile), bounded by its wall-time limit. Real guests:
// pump.c sends in a tight loop, echo.c and sleeper.c receive.
#include <chrono>
#include <future>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

std::uint64_t processed_by(ComponentRuntime& runtime, const ComponentId& id) {
  for (const auto& info : runtime.list()) {
    if (info.id == id) return info.mailbox.processed;
  }
  return 0;
}

// Thousands of sends into a mailbox of 8: none is refused or lost, the pump simply slows down
// to the receiver's pace.
TEST_F(RuntimeFixture, AGuestSendingIntoAFullBlockMailboxWaitsInsteadOfLosingMessages) {
  auto sink = spec("sink", "echo");
  sink.mailbox = rt::MailboxConfig::bounded(8, rt::BackpressurePolicy::kBlock);
  const auto sink_id = start(std::move(sink))[0];
  auto pump = spec("pump", "pump");
  pump.limits.wall_time_per_call = 30s;
  const auto pump_id = start(std::move(pump))[0];
  constexpr int kMessages = 5000;
  auto r = ask(pump_id, "send 64 " + std::to_string(kMessages), 60s);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "ok " + std::to_string(kMessages));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (processed_by(*runtime, sink_id) < kMessages &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(processed_by(*runtime, sink_id), static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(system.dead_letter_count(), 0u);
}

// A receiver that never drains: the blocked sender is stopped by its own wall-time limit, the
// canary keeps answering meanwhile, and the sender is restarted.
TEST_F(RuntimeFixture, ASenderBlockedOnAStuckReceiverFailsAtItsWallTimeLimit) {
  auto stuck = spec("sink", "sleeper");  // pump.c always sends to test/sink/0
  stuck.mailbox = rt::MailboxConfig::bounded(1, rt::BackpressurePolicy::kBlock);
  stuck.limits.wall_time_per_call = 60s;
  const auto stuck_id = start(std::move(stuck))[0];
  auto pump = spec("pump", "pump");
  pump.limits.wall_time_per_call = 400ms;
  const auto pump_id = start(std::move(pump))[0];
  const auto canary = start(spec("echo", "echo"))[0];
  // pump.c sends 64 bytes of 'Z': the sleeper reads no number there and sleeps an hour.
  auto blocked = runtime->ask(pump_id, Payload::text("send 64 10"), 30s);
  for (int i = 0; i < 10; ++i) {
    auto r = ask(canary, "alive", 1s);
    ASSERT_TRUE(r) << r.error().describe();
  }
  auto r = blocked.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  EXPECT_NE(r.error().message.find("test/pump/0"), std::string::npos);
  static_cast<void>(stuck_id);
}

}  // namespace
}  // namespace capsule::component

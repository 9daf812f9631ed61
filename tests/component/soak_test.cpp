// A bounded soak: a two-stage pipeline of real components under sustained load, with `block`
// mailboxes everywhere and a slow last stage. Backpressure must carry from the slow stage back
// through the guests to the host's sends: nothing is lost, and memory stays flat because every
// queue is bounded. host -> transform (uppercases, guest send) -> sleeper (1 ms per message).
#include <chrono>
#include <fstream>
#include <unistd.h>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t processed_by(ComponentRuntime& runtime, const std::string& name) {
  std::uint64_t n = 0;
  for (const auto& info : runtime.list()) {
    if (info.id.name == name) n += info.mailbox.processed;
  }
  return n;
}

TEST_F(RuntimeFixture, APipelineUnderSustainedLoadLosesNothingAndStaysFlat) {
  constexpr int kMessages = 2000;
  auto slow = spec("slow", "sleeper");
  slow.mailbox = rt::MailboxConfig::bounded(32, rt::BackpressurePolicy::kBlock);
  start(std::move(slow));
  auto transform = spec("transform", "transform");
  transform.config = {{"next", "test/slow/0"}};
  transform.mailbox = rt::MailboxConfig::bounded(32, rt::BackpressurePolicy::kBlock);
  transform.limits.wall_time_per_call = 30s;  // a send may wait for the slow stage
  const auto first = start(std::move(transform))[0];

  std::size_t rss_early = 0;
  int refused_then_retried = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    // The host's choice at a full `block` mailbox: wait (here: retry until accepted).
    while (true) {
      Status s = runtime->send(ComponentRuntime::privileged_caller(), first, Payload::text("1"));
      if (s) break;
      ASSERT_EQ(s.error().code, ErrorCode::kMailboxFull) << s.error().describe();
      ++refused_then_retried;
    }
    if (i == kMessages / 4) rss_early = rss_bytes();
    ASSERT_LT(std::chrono::steady_clock::now() - started, 60s) << "soak exceeded its time bound";
  }
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (processed_by(*runtime, "slow") < kMessages &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(processed_by(*runtime, "slow"), static_cast<std::uint64_t>(kMessages))
      << "messages were lost between the stages";
  EXPECT_EQ(processed_by(*runtime, "transform"), static_cast<std::uint64_t>(kMessages));
  EXPECT_EQ(system.dead_letter_count(), 0u);
  EXPECT_EQ(recorder->count(rt::EventKind::kChildRestarted), 0u);
  const std::size_t rss_late = rss_bytes();
#ifdef __SANITIZE_ADDRESS__
  constexpr std::size_t kRssSlack = std::size_t{128}
                                    << 20;  // ASan's quarantine keeps frees resident
#else
  constexpr std::size_t kRssSlack = std::size_t{16} << 20;
#endif
  EXPECT_LT(rss_late, rss_early + kRssSlack)
      << "RSS grew from " << rss_early << " to " << rss_late << " with bounded queues";
  std::printf("soak: %d messages in %.2f s, host waited %d times\n", kMessages,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
              refused_then_retried);
}

}  // namespace
}  // namespace capsule::component

// Guest stdout/stderr in the host log (issue 16), with the C guest `printer` (guest/examples):
// tagged with the writing instance, a line over the engine's cap cut and saying so, a flood
// held to the component's log quota. The Python side (tracebacks) is tests/e2e/python_guests.
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using testing::RuntimeFixture;

struct LogLine {
  ComponentId who;
  wasm::LogLevel level;
  std::string message;
};

class GuestOutput : public RuntimeFixture {
 protected:
  void SetUp() override {
    RuntimeConfig config;
    config.log_sink = [this](const ComponentId& who, wasm::LogLevel level,
                             const std::string& message, const wasm::KeyValues&) {
      const std::lock_guard lock(mutex_);
      lines_.push_back({who, level, message});
    };
    reconfigure(config);
  }

  std::vector<LogLine> lines() {
    const std::lock_guard lock(mutex_);
    return lines_;
  }

  std::vector<LogLine> starting_with(const std::string& prefix) {
    std::vector<LogLine> found;
    for (auto& l : lines()) {
      if (l.message.starts_with(prefix)) found.push_back(std::move(l));
    }
    return found;
  }

  // Output reaches the sink inside the guest's call, before its reply.
  void print(const ComponentId& to, const std::string& text) {
    auto reply = ask(to, text);
    ASSERT_TRUE(reply) << reply.error().describe();
    EXPECT_EQ(reply->as_string(), "printed");
  }

 private:
  std::mutex mutex_;
  std::vector<LogLine> lines_;
};

TEST_F(GuestOutput, PrintfReachesTheLogTaggedWithTheInstance) {
  auto ids = start(spec("printer", "printer", 2));
  print(ids[1], "hello from one");
  print(ids[0], "hello from zero");
  const auto one = starting_with("guest stdout: printer got: hello from one");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].who, ids[1]);
  EXPECT_EQ(one[0].level, wasm::LogLevel::kInfo);
  const auto zero = starting_with("guest stdout: printer got: hello from zero");
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_EQ(zero[0].who, ids[0]);
}

TEST_F(GuestOutput, ALineOverTheCapIsCutAndSaysSo) {
  auto ids = start(spec("printer", "printer"));
  print(ids[0], "long 10000");
  print(ids[0], "after the long line");
  const auto cut = starting_with("guest stdout: xxx");
  ASSERT_EQ(cut.size(), 1u) << "one line, not one per 4 KiB";
  EXPECT_EQ(cut[0].message, "guest stdout: " + std::string(wasm::kMaxGuestOutputLine, 'x') +
                                " ... (line cut at 4096 bytes)");
  EXPECT_EQ(starting_with("guest stdout: printer got: after the long line").size(), 1u)
      << "the line after a cut one is whole";
}

TEST_F(GuestOutput, AFloodIsHeldToTheLogQuota) {
  auto s = spec("printer", "printer");
  s.limits.quotas.log_lines_per_second = 50;
  auto ids = start(std::move(s));
  const auto began = std::chrono::steady_clock::now();
  print(ids[0], "flood 5000");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const auto written = starting_with("guest stdout: printer flood line ");
  EXPECT_GT(written.size(), 0u);
  // The saved-up second plus what the rate allowed while the call ran.
  EXPECT_LE(static_cast<double>(written.size()), 50 * (1 + took) + 1);
  const auto notice = starting_with("test/printer reached its log rate limit (50 lines/s");
  EXPECT_FALSE(notice.empty());
  EXPECT_EQ(notice.at(0).who, ComponentRuntime::privileged_caller());
  // The next line after the bucket refilled reports how many were dropped in all.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  print(ids[0], "after the flood");
  std::size_t dropped = 0;
  for (const auto& l : starting_with("test/printer: ")) {
    dropped += std::stoul(l.message.substr(std::string("test/printer: ").size()));
  }
  EXPECT_EQ(dropped + written.size(), 5000u) << "every line written or counted as dropped";
}

}  // namespace
}  // namespace capsule::component

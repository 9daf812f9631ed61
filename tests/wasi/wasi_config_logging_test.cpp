// wasi:config serves the manifest config (what init receives); wasi:logging writes to the host
// log under the component's log quota. A real component (guest/examples/wasi_kv.c) next to a
// canary (HostileFixture).
#include <string>

#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

class WasiConfigLogging : public HostileFixture {
 protected:
  std::string run(const ComponentId& id, const std::string& command) {
    auto r = runtime->call(id, Payload::text(command), 30s);
    return r ? r->as_string() : "call failed: " + r.error().describe();
  }

  std::size_t lines_with(const std::string& text) {
    std::size_t n = 0;
    for (const auto& line : log_lines()) n += line.find(text) != std::string::npos ? 1 : 0;
    return n;
  }
};

TEST_F(WasiConfigLogging, ConfigIsTheManifestConfig) {
  auto id =
      start_component("kv", "wasi_kv", {}, {}, {{"greeting", "hello world"}, {"mode", "fast"}});
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_EQ(run(*id, "config greeting"), "hello world");
  EXPECT_EQ(run(*id, "config mode"), "fast");
  EXPECT_EQ(run(*id, "config missing"), "none");
  EXPECT_EQ(run(*id, "config-all"), "greeting=hello world;mode=fast");
  expect_canary_answers();
}

TEST_F(WasiConfigLogging, NoConfigIsAnEmptyList) {
  auto id = start_component("kv", "wasi_kv", {}, {});
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_EQ(run(*id, "config-all"), "");
  EXPECT_EQ(run(*id, "config greeting"), "none");
}

TEST_F(WasiConfigLogging, LogLinesReachTheHostLogWithTheirContext) {
  auto id = start_component("kv", "wasi_kv", {}, {});
  ASSERT_TRUE(id) << id.error().describe();
  EXPECT_EQ(run(*id, "log 2 checkout"), "logged=2");
  std::string first;
  std::string second;
  for (const auto& line : log_lines()) {
    if (line.find("wasi-logging line 0") != std::string::npos) first = line;
    if (line.find("wasi-logging line 1") != std::string::npos) second = line;
  }
  // critical has no capsule level of its own: error, and said so in a field.
  EXPECT_NE(first.find("[test/kv/0] error:"), std::string::npos) << first;
  EXPECT_NE(first.find("context=checkout"), std::string::npos) << first;
  EXPECT_NE(first.find("wasi-level=critical"), std::string::npos) << first;
  EXPECT_NE(second.find("[test/kv/0] info:"), std::string::npos) << second;
  EXPECT_EQ(second.find("wasi-level"), std::string::npos) << second;
}

TEST_F(WasiConfigLogging, LogFloodIsHeldToTheComponentsLogQuota) {
  ResourceLimits limits;
  limits.quotas.log_lines_per_second = 50;
  auto id = start_component("kv", "wasi_kv", {}, limits);
  ASSERT_TRUE(id) << id.error().describe();
  std::string r;
  std::thread flood([&] { r = run(*id, "log 20000 flood"); });
  // The canary keeps answering while the flood runs, and after.
  for (int i = 0; i < 20; ++i) {
    expect_canary_answers();
    std::this_thread::sleep_for(5ms);
  }
  flood.join();
  EXPECT_EQ(r, "logged=20000");
  const std::size_t written = lines_with("wasi-logging line");
  EXPECT_GE(written, 1U);
  // 50 lines/s: far fewer than were sent, however slowly this machine ran the 20000 calls.
  EXPECT_LT(written, 10000U) << "the quota did not hold";
  EXPECT_GE(lines_with("log rate limit"), 1U) << "the host says lines are being dropped";
  expect_canary_answers();
  EXPECT_EQ(starts_of(canary), 1U);
}

}  // namespace
}  // namespace capsule::hostile

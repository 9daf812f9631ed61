// Payload limits: every payload a component hands the host (send, request, publish, broadcast,
// reply, storage value) and every payload the host sends is checked against a limit, and an
// oversize one is refused with invalid-argument naming the size and the limit. Real guests.
#include <string>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

ComponentSpec limited(ComponentSpec s, std::uint64_t max_payload) {
  s.limits.max_payload_bytes = max_payload;
  return s;
}

TEST_F(RuntimeFixture, AnOversizeGuestSendIsRefusedNamingSizeAndLimit) {
  start(spec("sink", "echo"));
  const auto canary = start(spec("canary", "echo"))[0];
  const auto pump = start(limited(spec("pump", "pump"), 1024))[0];
  auto fits = ask(pump, "send 1024 3");
  ASSERT_TRUE(fits) << fits.error().describe();
  EXPECT_EQ(fits->as_string(), "ok 3");
  auto big = ask(pump, "send 1025 1");
  ASSERT_TRUE(big) << big.error().describe();
  EXPECT_EQ(big->as_string(),
            "error 0: payload of 1025 bytes from test/pump/0 exceeds the limit of 1024 bytes "
            "(max_payload)");
  // The refusal cost the host nothing: the pump itself and a canary keep answering.
  auto again = ask(pump, "send 8 1");
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->as_string(), "ok 1");
  auto alive = ask(canary, "still here", std::chrono::seconds(1));
  ASSERT_TRUE(alive) << alive.error().describe();
  EXPECT_EQ(alive->as_string(), "still here");
}

TEST_F(RuntimeFixture, AnOversizeStorageValueIsRefusedBeforeStorage) {
  const auto pump = start(limited(spec("pump", "pump"), 100))[0];
  auto r = ask(pump, "set 101 1");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(),
            "error 0: payload of 101 bytes from test/pump/0 exceeds the limit of 100 bytes "
            "(max_payload)");
}

TEST_F(RuntimeFixture, AnOversizeReplyReachesTheRequesterAsAnError) {
  const auto echo = start(limited(spec("echo", "echo"), 16))[0];
  auto small = ask(echo, "sixteen bytes ok");
  ASSERT_TRUE(small) << small.error().describe();
  auto r = ask(echo, "seventeen bytes!!");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("reply payload of 17 bytes from test/echo/0 exceeds the "
                                   "limit of 16 bytes"),
            std::string::npos)
      << r.error().describe();
  // A refused reply is the guest's problem, not a failure of the instance.
  EXPECT_TRUE(ask(echo, "still fine"));
}

TEST_F(RuntimeFixture, TheHostsOwnSendsHaveALimitToo) {
  const auto echo = start(spec("echo", "echo"))[0];
  Payload huge{multicodec::kRaw, std::vector<std::uint8_t>((4U << 20) + 1, 1)};
  auto s = runtime->send(ComponentRuntime::privileged_caller(), echo, huge);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("exceeds the limit of 4194304 bytes"), std::string::npos);
  auto r = runtime->call(echo, huge, std::chrono::seconds(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace capsule::component

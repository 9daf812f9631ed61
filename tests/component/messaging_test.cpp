// Component <-> component and host <-> component messaging with real components.
#include <future>
#include <set>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;

TEST_F(RuntimeFixture, HostRequestsEchoAndGetsTheReply) {
  auto ids = start(spec("echo", "echo", 2));
  ASSERT_EQ(ids.size(), 2u);
  for (const auto& id : ids) {
    auto r = ask(id, "hello " + id.instance);
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "hello " + id.instance);
  }
  const auto stats = runtime->correlation_stats();
  EXPECT_EQ(stats.replied, 2u);
  EXPECT_EQ(stats.pending, 0u);
  const auto listed = runtime->list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0].alive);
  ASSERT_TRUE(listed[0].metadata.has_value());
  EXPECT_EQ(listed[0].metadata->name, "echo");
}

TEST_F(RuntimeFixture, UnknownTargetIsAnImmediateError) {
  auto r = ask(ComponentId{"test", "ghost", "0"}, "anyone?");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("test/ghost/0"), std::string::npos);
  EXPECT_EQ(runtime->correlation_stats().pending, 0u);
}

TEST_F(RuntimeFixture, PipelineOfThreeComponents) {
  auto c = spec("c", "relay");
  c.config = {{"mode", "forward"}, {"topic", "pipeline.out"}, {"tag", "c"}};
  auto b = spec("b", "relay");
  b.config = {{"mode", "forward"}, {"next", "test/c/0"}, {"tag", "b"}};
  auto a = spec("a", "relay");
  a.config = {{"mode", "forward"}, {"next", "test/b/0"}, {"tag", "a"}};
  start(std::move(c));
  start(std::move(b));
  start(std::move(a));
  TopicInbox inbox;
  auto sub =
      runtime->subscribe_host("pipeline.out", [&](const ComponentMessage& m) { inbox.push(m); });
  ASSERT_TRUE(sub);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(runtime->send(ComponentRuntime::privileged_caller(), {"test", "a", "0"},
                              Payload::text("in" + std::to_string(i))));
  }
  ASSERT_TRUE(inbox.wait_for(5));
  // One sender per hop: per-sender order is preserved end to end.
  EXPECT_EQ(inbox.messages(), (std::vector<std::string>{"in0|a|b|c", "in1|a|b|c", "in2|a|b|c",
                                                        "in3|a|b|c", "in4|a|b|c"}));
}

TEST_F(RuntimeFixture, HostFansOutAThousandRequests) {
  auto ids = start(spec("echo", "echo", 4));
  std::vector<std::future<Result<Payload>>> futures;
  for (int i = 0; i < 1000; ++i) {
    futures.push_back(runtime->ask(ids[static_cast<std::size_t>(i) % ids.size()],
                                   Payload::text("req-" + std::to_string(i)),
                                   std::chrono::seconds(20)));
  }
  for (int i = 0; i < 1000; ++i) {
    auto r = futures[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "req-" + std::to_string(i));
  }
  const auto stats = runtime->correlation_stats();
  EXPECT_EQ(stats.replied, 1000u);
  EXPECT_EQ(stats.timed_out + stats.failed + stats.late_replies, 0u);
}

TEST_F(RuntimeFixture, ComponentFansOutAndInAThousandRequests) {
  start(spec("echo", "echo", 4));
  auto fan = spec("fan", "relay");
  fan.config = {{"mode", "fanout"},
                {"target", "test/echo"},
                {"instances", "4"},
                {"timeout_ms", "20000"},
                {"done_topic", "fan.done"}};
  start(std::move(fan));
  TopicInbox inbox;
  auto sub = runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { inbox.push(m); });
  ASSERT_TRUE(runtime->send(ComponentRuntime::privileged_caller(), {"test", "fan", "0"},
                            Payload::text("1000")));
  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_EQ(inbox.messages()[0], "ok=1000 err=0 timeout=0");
}

TEST_F(RuntimeFixture, RequestToATargetThatNeverRepliesTimesOutOnce) {
  auto spin = spec("spin", "spin");
  spin.limits = ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{400}};
  start(std::move(spin));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ask({"test", "spin", "0"}, "hang", std::chrono::milliseconds{60});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_NE(r.error().message.find("no reply from test/spin/0 within 60 ms"), std::string::npos)
      << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{400})
      << "the timeout, not the spin's wall-time limit, ended the request";
  // Later the spin is interrupted; that failure is a late reply, dropped and counted.
  ASSERT_TRUE(
      recorder->wait_for_count(rt::EventKind::kChildRestarted, 1, std::chrono::seconds(10)));
  for (int i = 0; i < 200 && runtime->correlation_stats().late_replies == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto stats = runtime->correlation_stats();
  EXPECT_EQ(stats.timed_out, 1u);
  EXPECT_EQ(stats.late_replies, 1u);
  EXPECT_EQ(stats.replied + stats.failed, 0u);
}

TEST_F(RuntimeFixture, ComponentRequestsTimeOutIntoItsCallback) {
  auto spin = spec("spin", "spin");
  spin.limits = ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{300}};
  start(std::move(spin));
  auto fan = spec("fan", "relay");
  fan.config = {{"mode", "fanout"},
                {"target", "test/spin"},
                {"instances", "1"},
                {"timeout_ms", "50"},
                {"done_topic", "fan.done"}};
  start(std::move(fan));
  TopicInbox inbox;
  auto sub = runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { inbox.push(m); });
  ASSERT_TRUE(runtime->send(ComponentRuntime::privileged_caller(), {"test", "fan", "0"},
                            Payload::text("3")));
  ASSERT_TRUE(inbox.wait_for(1));
  EXPECT_EQ(inbox.messages()[0], "ok=0 err=0 timeout=3");
}

TEST_F(RuntimeFixture, CancelDeliversExactlyOneOutcome) {
  auto spin = spec("spin", "spin");
  spin.limits = ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{300}};
  start(std::move(spin));
  std::atomic<int> outcomes{0};
  std::promise<CallbackResponse> got;
  auto id = runtime->request(ComponentRuntime::privileged_caller(), {"test", "spin", "0"},
                             Payload::text("x"), std::chrono::seconds(30), [&](CallbackResponse r) {
                               if (outcomes.fetch_add(1) == 0) got.set_value(std::move(r));
                             });
  ASSERT_TRUE(id);
  auto wrong_owner = runtime->cancel(*id, ComponentId{"test", "other", "0"});
  EXPECT_FALSE(wrong_owner) << "only the requester may cancel";
  ASSERT_TRUE(runtime->cancel(*id, ComponentRuntime::privileged_caller()));
  auto response = got.get_future().get();
  ASSERT_TRUE(response.error.has_value());
  EXPECT_EQ(response.error->code, ErrorCode::kCancelled);
  EXPECT_EQ(response.correlation, *id);
  auto again = runtime->cancel(*id, ComponentRuntime::privileged_caller());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(
      recorder->wait_for_count(rt::EventKind::kChildRestarted, 1, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(outcomes.load(), 1) << "the spin's late failure must not reach the requester";
}

TEST_F(RuntimeFixture, BroadcastAndTopics) {
  auto ids = start(spec("echo", "echo", 3));
  auto n = runtime->broadcast(ComponentRuntime::privileged_caller(),
                              {ids[0], ids[1], ids[2], ComponentId{"test", "ghost", "0"}},
                              Payload::text("all"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3u) << "three live targets accepted it, the unknown one did not";
  ASSERT_TRUE(runtime->subscribe("news", ids[0]));
  ASSERT_TRUE(runtime->subscribe("news", ids[1]));
  EXPECT_FALSE(runtime->subscribe("news", ids[1])) << "double subscription is refused";
  auto reached =
      runtime->publish(ComponentRuntime::privileged_caller(), "news", Payload::text("extra"));
  ASSERT_TRUE(reached);
  EXPECT_EQ(*reached, 2u);
  ASSERT_TRUE(runtime->unsubscribe("news", ids[1]));
  EXPECT_EQ(*runtime->publish(ComponentRuntime::privileged_caller(), "news", Payload::text("x")),
            1u);
  EXPECT_FALSE(runtime->publish(ComponentRuntime::privileged_caller(), "", Payload::text("x")));
}

}  // namespace
}  // namespace capsule::component

// Deferred replies (capsule:core 0.1.1): a request answered from a later turn, through
// messaging.reply, by the real aggregator component (guest/examples/aggregator.c). Exactly one
// outcome per request still holds whatever the guest does.
#include <future>
#include <string>
#include <vector>

#include "deferred_replies.hpp"
#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

// The WIT error tags the aggregator reports for refusals (wit/types.wit, variant order).
constexpr int kInvalidArgument = 0;
constexpr int kNotFound = 1;
constexpr int kQuotaExceeded = 3;
constexpr int kTimeout = 4;

class DeferredReplies : public RuntimeFixture {
 protected:
  ComponentId aggregator_over_two_echoes() {
    start(spec("echo", "echo", 2));
    auto a = spec("aggregator", "aggregator");
    a.config = {{"targets", "test/echo/0,test/echo/1"}};
    // The bound test queues more than the default 4,096 messages at once.
    a.mailbox = rt::MailboxConfig::unbounded();
    return start(std::move(a)).at(0);
  }

  std::string text(const ComponentId& to, std::string_view payload) {
    auto r = ask(to, payload);
    EXPECT_TRUE(r) << payload << ": " << r.error().describe();
    return r ? r->as_string() : "";
  }
};

TEST_F(DeferredReplies, AggregatorAnswersAfterAskingEveryTarget) {
  const ComponentId agg = aggregator_over_two_echoes();
  EXPECT_EQ(text(agg, "hi"), "hi+hi");
  // Many at once: each request has its own deferral and its own answer.
  std::vector<std::future<Result<Payload>>> futures;
  futures.reserve(40);
  for (int i = 0; i < 40; ++i) {
    futures.push_back(runtime->ask(agg, Payload::text("r" + std::to_string(i)), 10s));
  }
  for (int i = 0; i < 40; ++i) {
    auto r = futures[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r) << r.error().describe();
    const std::string part = "r" + std::to_string(i);
    std::string twice = part;
    twice += "+";
    twice += part;
    EXPECT_EQ(r->as_string(), twice);
  }
  const auto stats = runtime->correlation_stats();
  EXPECT_EQ(stats.timed_out + stats.failed + stats.late_replies, 0u);
  EXPECT_EQ(stats.pending, 0u);
}

TEST_F(DeferredReplies, InstanceKeepsServingWhileARequestIsDeferred) {
  const ComponentId agg = aggregator_over_two_echoes();
  auto held = runtime->ask(agg, Payload::text("hold"), 20s);
  // The held request's handler has returned: later messages are handled meanwhile.
  EXPECT_EQ(text(agg, "last"), "last=-1");
  EXPECT_EQ(held.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(text(agg, "release"), "released=1 refused=0 last=-1");
  auto r = held.get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "released");
}

TEST_F(DeferredReplies, TimeoutStillFiresAndALateReplyIsRefusedToTheGuest) {
  const ComponentId agg = aggregator_over_two_echoes();
  auto r = ask(agg, "hold", 200ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  // The guest's reply after the timeout is refused (timeout), not delivered to anyone.
  EXPECT_EQ(text(agg, "release"), "released=0 refused=1 last=" + std::to_string(kTimeout));
  EXPECT_EQ(runtime->correlation_stats().timed_out, 1u);
}

TEST_F(DeferredReplies, SecondReplyIsRefused) {
  const ComponentId agg = aggregator_over_two_echoes();
  EXPECT_EQ(text(agg, "twice"), "first");
  EXPECT_EQ(text(agg, "last"), "last=" + std::to_string(kNotFound));
  EXPECT_EQ(runtime->correlation_stats().late_replies, 0u);  // never reached the tracker
}

TEST_F(DeferredReplies, OnlyTheRequestBeingHandledCanBeDeferred) {
  const ComponentId agg = aggregator_over_two_echoes();
  EXPECT_EQ(text(agg, "wrong"), "wrong=" + std::to_string(kInvalidArgument));
  // A plain send has no correlation: nothing to defer.
  ASSERT_TRUE(runtime->send(ComponentRuntime::privileged_caller(), agg, Payload::text("defer")));
  EXPECT_EQ(text(agg, "last"), "last=" + std::to_string(kInvalidArgument));
}

TEST_F(DeferredReplies, AnErrorAfterDeferringFailsTheRequestAtOnce) {
  const ComponentId agg = aggregator_over_two_echoes();
  const auto started = std::chrono::steady_clock::now();
  auto r = ask(agg, "fail", 20s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("failed after deferring"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // not its timeout
}

TEST_F(DeferredReplies, AReturnedReplyAfterDeferringIsIgnored) {
  const ComponentId agg = aggregator_over_two_echoes();
  EXPECT_EQ(text(agg, "return"), "deferred");
}

TEST_F(DeferredReplies, ATrapAfterDeferringFailsTheRequestAndTheInstanceRestarts) {
  const ComponentId agg = aggregator_over_two_echoes();
  auto r = ask(agg, "trap", 20s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().code, ErrorCode::kTimeout) << r.error().describe();
  EXPECT_EQ(text(agg, "hi"), "hi+hi");  // the canary: restarted and serving
}

TEST_F(DeferredReplies, ARestartFailsEveryRequestStillDeferred) {
  const ComponentId agg = aggregator_over_two_echoes();
  auto first = runtime->ask(agg, Payload::text("hold"), 60s);
  auto second = runtime->ask(agg, Payload::text("hold"), 60s);
  EXPECT_EQ(text(agg, "last"), "last=-1");  // both are deferred now
  auto crash = ask(agg, "crash", 20s);
  ASSERT_FALSE(crash);
  for (auto* f : {&first, &second}) {
    ASSERT_EQ(f->wait_for(20s), std::future_status::ready) << "a deferred request was lost";
    auto r = f->get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
    EXPECT_NE(r.error().message.find("test/aggregator/0 stopped before answering request"),
              std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(text(agg, "hi"), "hi+hi");
  EXPECT_EQ(runtime->correlation_stats().pending, 0u);
}

TEST_F(DeferredReplies, DeferralsPerInstanceAreBoundedAndEndedOnesAreForgotten) {
  const ComponentId agg = aggregator_over_two_echoes();
  const std::size_t limit = component::DeferredReplies::kMaxDeferred;
  std::vector<std::future<Result<Payload>>> held;
  held.reserve(limit);
  for (std::size_t i = 0; i < limit; ++i) {
    held.push_back(runtime->ask(agg, Payload::text("hold"), 3s));
  }
  // One more: its defer-reply is refused, so the guest's empty return answers it.
  auto over = ask(agg, "hold");
  ASSERT_TRUE(over) << over.error().describe();
  EXPECT_EQ(over->as_string(), "");
  EXPECT_EQ(text(agg, "last"), "last=" + std::to_string(kQuotaExceeded));
  for (auto& f : held) {
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  }
  // They ended (timed out): the next deferral forgets them and is taken.
  auto again = runtime->ask(agg, Payload::text("hold"), 20s);
  EXPECT_EQ(text(agg, "release"),
            "released=1 refused=" + std::to_string(limit) + " last=" + std::to_string(kNotFound));
  auto r = again.get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "released");
}

TEST_F(DeferredReplies, AComponentBuiltForTheOlderContractStillRuns) {
  // echo.c compiled against guest/compat/wit-0.1.0: imports and exports @0.1.0.
  auto old = spec("old", "echo_v0_1_0");
  const ComponentId id = start(std::move(old)).at(0);
  EXPECT_EQ(text(id, "from 0.1.0"), "from 0.1.0");
  // And a 0.1.1 component's deferred reply can wait on it.
  auto a = spec("aggregator", "aggregator");
  a.config = {{"targets", "test/old/0"}};
  const ComponentId agg = start(std::move(a)).at(0);
  EXPECT_EQ(text(agg, "x"), "x");
  // aggregator.c compiled against guest/compat/wit-0.1.1 (before 0.1.2 added send-batch): its
  // @0.1.1 imports, defer-reply and reply included, link to this host's @0.1.3.
  auto b = spec("aggregator011", "aggregator_v0_1_1");
  b.config = {{"targets", "test/old/0"}};
  const ComponentId agg011 = start(std::move(b)).at(0);
  EXPECT_EQ(text(agg011, "y"), "y");
}

}  // namespace
}  // namespace capsule::component

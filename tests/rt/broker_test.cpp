#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <variant>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

struct Question {
  int value;
  Replier<int> reply;
};
using Event = std::variant<std::string, Question>;

// Answers questions with value * 2; "silent" questions (value < 0) are never answered.
class Listener final : public Actor<Event> {
 public:
  explicit Listener(std::shared_ptr<testing::Collected<std::string>> seen)
      : seen_(std::move(seen)) {}
  Status handle(Event& msg, ActorContext<Event>& /*ctx*/) override {
    if (auto* text = std::get_if<std::string>(&msg)) {
      seen_->push_back(*text);
    } else if (auto& q = std::get<Question>(msg); q.value >= 0) {
      q.reply.reply(q.value * 2);
    }
    return ok();
  }

 private:
  std::shared_ptr<testing::Collected<std::string>> seen_;
};

struct BrokerFixture : ::testing::Test {
  std::shared_ptr<InMemoryRecorder> recorder = std::make_shared<InMemoryRecorder>();
  ActorSystem system{SystemConfig{{}, recorder, 5000ms}};
  MessageBroker<Event> broker{system};

  std::pair<ActorRef<Event>, std::shared_ptr<testing::Collected<std::string>>> listener() {
    auto seen = std::make_shared<testing::Collected<std::string>>();
    auto ref = system.spawn<Listener>({}, seen);
    EXPECT_TRUE(ref);
    return {*ref, seen};
  }
};

TEST_F(BrokerFixture, PublishReachesEverySubscriberOfTheTopic) {
  auto [a, seen_a] = listener();
  auto [b, seen_b] = listener();
  ASSERT_TRUE(broker.subscribe("news", a));
  ASSERT_TRUE(broker.subscribe("news", b));
  ASSERT_TRUE(broker.subscribe("sports", b));
  EXPECT_FALSE(broker.subscribe("news", a));  // no double subscription
  EXPECT_EQ(broker.publish("news", Event{std::string("n1")}), 2U);
  EXPECT_EQ(broker.publish("sports", Event{std::string("s1")}), 1U);
  ASSERT_TRUE(eventually([&] { return seen_a->size() == 1 && seen_b->size() == 2; }));
  EXPECT_TRUE(broker.unsubscribe("news", a));
  EXPECT_EQ(broker.publish("news", Event{std::string("n2")}), 1U);
  ASSERT_TRUE(eventually([&] { return seen_b->size() == 3; }));
  EXPECT_EQ(seen_a->size(), 1U);
}

TEST_F(BrokerFixture, TopicWithoutSubscribersProducesADeadLetter) {
  std::atomic<int> sink{0};
  system.subscribe_dead_letters([&](const DeadLetter& letter) {
    if (letter.reason == DeadLetterReason::kNoSubscribers) sink.fetch_add(1);
  });
  EXPECT_EQ(broker.publish("void", Event{std::string("x")}), 0U);
  EXPECT_EQ(sink.load(), 1);
  EXPECT_EQ(recorder->count(EventKind::kDeadLetter), 1U);
}

TEST_F(BrokerFixture, DeadLetterSinksMayThemselvesProduceDeadLetters) {
  std::atomic<int> letters{0};
  system.subscribe_dead_letters([&](const DeadLetter& letter) {
    letters.fetch_add(1);
    if (letter.target_name == "void") broker.publish("also-void", Event{});
  });
  broker.publish("void", Event{std::string("x")});
  EXPECT_EQ(letters.load(), 2);
}

TEST_F(BrokerFixture, TerminatedSubscribersArePruned) {
  auto [a, seen_a] = listener();
  ASSERT_TRUE(broker.subscribe("t", a));
  system.stop(a.address());
  ASSERT_TRUE(eventually([&] { return !a.alive(); }));
  EXPECT_EQ(broker.publish("t", Event{std::string("x")}), 0U);
  EXPECT_EQ(broker.topic("t")->subscriber_count(), 0U);
}

TEST_F(BrokerFixture, RequestGetsAReplyOrTimesOut) {
  auto [a, seen_a] = listener();
  ASSERT_TRUE(broker.subscribe("math", a));
  std::atomic<int> answer{0};
  broker.request<int>(
      "math", [](Replier<int> r) { return Event{Question{21, std::move(r)}}; }, 5000ms,
      [&](Result<int> r) { answer.store(r ? *r : -1); });
  ASSERT_TRUE(eventually([&] { return answer.load() != 0; }));
  EXPECT_EQ(answer.load(), 42);

  std::atomic<int> code{-1};
  broker.request<int>(
      "math", [](Replier<int> r) { return Event{Question{-1, std::move(r)}}; }, 10ms,
      [&](Result<int> r) { code.store(r ? 0 : static_cast<int>(r.error().code)); });
  ASSERT_TRUE(eventually([&] { return code.load() >= 0; }));
  EXPECT_EQ(code.load(), static_cast<int>(ErrorCode::kTimeout));

  std::atomic<int> none{-1};
  broker.request<int>(
      "nobody", [](Replier<int> r) { return Event{Question{1, std::move(r)}}; }, 10ms,
      [&](Result<int> r) { none.store(r ? 0 : static_cast<int>(r.error().code)); });
  EXPECT_EQ(none.load(), static_cast<int>(ErrorCode::kNotFound));
}

// ---- system-level: shutdown report and monitoring ------------------------------------------

class Parked final : public Actor<int> {
 public:
  explicit Parked(testing::Gate* gate) : gate_(gate) {}
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override {
    gate_->wait();
    return ok();
  }

 private:
  testing::Gate* gate_;
};

TEST(System, ShutdownDrainsGracefullyAndReportsWhatItCouldNot) {
  testing::Gate gate;
  ActorSystem system;
  auto ref = system.spawn<Parked>({}, &gate);
  ASSERT_TRUE(ref);
  for (int i = 0; i < 10; ++i) ref->tell(i);
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  gate.open();  // everything queued can be drained in time
  auto report = system.shutdown(5000ms);
  EXPECT_FALSE(report.timed_out);
  EXPECT_EQ(report.actors_killed, 0U);
  EXPECT_EQ(report.undelivered_messages, 0U);
  EXPECT_EQ(ref->mailbox_stats().processed, 10U);
  auto late = ref->send(1);  // after shutdown: refused and reported
  EXPECT_FALSE(late);
  EXPECT_EQ(system.dead_letter_count(), 1U);
  auto spawn_late = system.spawn<Parked>({}, &gate);
  EXPECT_FALSE(spawn_late);
}

TEST(System, MonitoringSeesTheLifecycle) {
  auto recorder = std::make_shared<InMemoryRecorder>();
  testing::Gate gate;
  gate.open();
  {
    ActorSystem system(SystemConfig{{}, recorder, 5000ms});
    auto ref = system.spawn<Parked>(SpawnOptions::named("p"), &gate);
    ASSERT_TRUE(ref);
    ref->tell(1);
  }
  EXPECT_EQ(recorder->count(EventKind::kActorStarted), 1U);
  EXPECT_EQ(recorder->count(EventKind::kActorStopped), 1U);
  const auto events = recorder->events();
  EXPECT_EQ(events.back().detail, "shutdown");
}

}  // namespace
}  // namespace capsule::rt

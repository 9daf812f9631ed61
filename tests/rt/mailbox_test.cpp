#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::Gate;

// Parks in its first message until the test opens the gate, so later messages pile up.
class Slow final : public Actor<int> {
 public:
  Slow(Gate* gate, std::shared_ptr<testing::Collected<int>> got)
      : gate_(gate), got_(std::move(got)) {}
  Status handle(int& msg, ActorContext<int>& /*ctx*/) override {
    if (msg == 0) gate_->wait();
    got_->push_back(msg);
    return ok();
  }

 private:
  Gate* gate_;
  std::shared_ptr<testing::Collected<int>> got_;
};

struct BoundedFixture : ::testing::Test {
  std::shared_ptr<InMemoryRecorder> recorder = std::make_shared<InMemoryRecorder>();
  std::unique_ptr<ActorSystem> system =
      std::make_unique<ActorSystem>(SystemConfig{{}, recorder, std::chrono::milliseconds{5000}});
  Gate gate;
  std::shared_ptr<testing::Collected<int>> got = std::make_shared<testing::Collected<int>>();

  ActorRef<int> spawn_blocked(BackpressurePolicy policy, std::size_t capacity = 3) {
    auto ref = system->spawn<Slow>(
        SpawnOptions{}.with_mailbox(MailboxConfig::bounded(capacity, policy, 30ms)), &gate, got);
    EXPECT_TRUE(ref);
    ref->tell(0);
    EXPECT_TRUE(eventually([&] { return gate.entered(); }));
    return *ref;
  }
  void finish(const ActorRef<int>& ref, std::size_t expected) {
    gate.open();
    ASSERT_TRUE(eventually([&] { return ref.mailbox_stats().depth() == 0; }));
    ASSERT_TRUE(eventually([&] { return got->size() == expected; }));
    system->shutdown();
  }
};

TEST_F(BoundedFixture, ErrorPolicyRefusesWhenFull) {
  auto ref = spawn_blocked(BackpressurePolicy::kError);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ref.send(i));
  auto refused = ref.send(4);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kMailboxFull);
  EXPECT_EQ(recorder->count(EventKind::kMailboxBackpressure), 1U);
  EXPECT_LE(ref.mailbox_stats().high_water_mark, 3U);
  finish(ref, 4);
  EXPECT_EQ(got->items(), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(BoundedFixture, DropNewestKeepsTheOldMessages) {
  auto ref = spawn_blocked(BackpressurePolicy::kDropNewest);
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(ref.send(i));
  const auto stats = ref.mailbox_stats();
  EXPECT_EQ(stats.dropped, 3U);
  EXPECT_EQ(recorder->count(EventKind::kMessageDropped), 3U);
  EXPECT_EQ(system->dead_letter_count(), 3U);
  finish(ref, 4);
  EXPECT_EQ(got->items(), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(BoundedFixture, DropOldestKeepsTheNewMessages) {
  auto ref = spawn_blocked(BackpressurePolicy::kDropOldest);
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(ref.send(i));
  EXPECT_EQ(ref.mailbox_stats().dropped, 3U);
  EXPECT_LE(ref.mailbox_stats().high_water_mark, 3U);
  finish(ref, 4);
  EXPECT_EQ(got->items(), (std::vector<int>{0, 4, 5, 6}));
}

// The data lane is full; control messages still get in, more data cannot push them out, and
// they are taken before the data queued ahead of them.
void expect_control_lane_holds(BoundedFixture& f, BackpressurePolicy policy) {
  auto ref = f.spawn_blocked(policy);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(ref.send(i));
  ASSERT_TRUE(ref.send_control(100));
  ASSERT_TRUE(ref.send_control(101));
  for (int i = 4; i <= 6; ++i) static_cast<void>(ref.send(i));
  f.gate.open();
  ASSERT_TRUE(eventually([&] { return ref.mailbox_stats().depth() == 0; }));
  ASSERT_TRUE(eventually([&] { return f.got->size() >= 6; }));
  const auto items = f.got->items();
  EXPECT_EQ(items[1], 100);
  EXPECT_EQ(items[2], 101);
}

TEST_F(BoundedFixture, ControlLaneHoldsUnderTheErrorPolicy) {
  expect_control_lane_holds(*this, BackpressurePolicy::kError);
}
TEST_F(BoundedFixture, ControlLaneHoldsUnderDropNewest) {
  expect_control_lane_holds(*this, BackpressurePolicy::kDropNewest);
}
TEST_F(BoundedFixture, ControlLaneHoldsUnderDropOldest) {
  expect_control_lane_holds(*this, BackpressurePolicy::kDropOldest);
}

TEST_F(BoundedFixture, BlockWaitsForRoomThenTimesOut) {
  auto ref = spawn_blocked(BackpressurePolicy::kBlock, 2);
  ASSERT_TRUE(ref.send(1));
  ASSERT_TRUE(ref.send(2));
  const auto before = std::chrono::steady_clock::now();
  auto timed_out = ref.send(3);  // nobody drains: waits block_timeout, then gives up
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().code, ErrorCode::kMailboxFull);
  EXPECT_GE(std::chrono::steady_clock::now() - before, 30ms);
  // A blocked sender proceeds as soon as the actor makes room.
  std::thread opener([&] {
    std::this_thread::sleep_for(5ms);
    gate.open();
  });
  for (int i = 3; i <= 20; ++i) {
    auto sent = ref.send(i);
    while (!sent) sent = ref.send(i);  // 30 ms timeouts may expire on a loaded machine
  }
  opener.join();
  finish(ref, 21);
  for (int i = 0; i <= 20; ++i) EXPECT_EQ((*got)[static_cast<std::size_t>(i)], i);
}

// Senders on scheduler threads never block (the worker might be the one that must drain).
class Flooder final : public Actor<int> {
 public:
  explicit Flooder(ActorRef<int> target, std::shared_ptr<std::atomic<int>> refused)
      : target_(std::move(target)), refused_(std::move(refused)) {}
  Status handle(int& n, ActorContext<int>& /*ctx*/) override {
    for (int i = 1; i <= n; ++i) {
      if (!target_.send(i)) refused_->fetch_add(1);
    }
    return ok();
  }

 private:
  ActorRef<int> target_;
  std::shared_ptr<std::atomic<int>> refused_;
};

TEST_F(BoundedFixture, BlockPolicyNeverBlocksAWorker) {
  auto ref = spawn_blocked(BackpressurePolicy::kBlock, 2);
  auto refused = std::make_shared<std::atomic<int>>(0);
  auto flooder = system->spawn<Flooder>({}, ref, refused);
  ASSERT_TRUE(flooder);
  flooder->tell(5);
  ASSERT_TRUE(eventually([&] { return refused->load() == 3; }));
  finish(ref, 3);
}

TEST(Mailbox, UnboundedMetricsCountEverything) {
  Mailbox<int> mailbox(MailboxConfig::unbounded());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(mailbox.enqueue(int{i}, false), EnqueueOutcome::kAccepted);
  mailbox.sample_depth();  // what the owning actor does at the start of each turn
  for (int i = 0; i < 4; ++i) EXPECT_EQ(mailbox.try_dequeue(), i);
  const auto stats = mailbox.stats();
  EXPECT_EQ(stats.enqueued, 10U);
  EXPECT_EQ(stats.processed, 4U);
  EXPECT_EQ(stats.high_water_mark, 10U);
  EXPECT_EQ(stats.depth(), 6U);
}

// A message that weighs its length in bytes against MailboxConfig::max_bytes.
struct Blob {
  std::string bytes;
};
std::size_t mailbox_bytes(const Blob& b) {
  return b.bytes.size();
}

MailboxConfig by_bytes(std::size_t max_bytes, BackpressurePolicy policy) {
  MailboxConfig c = MailboxConfig::bounded(0, policy, 30ms);
  c.max_bytes = max_bytes;
  return c;
}

TEST(Mailbox, ByteBoundRefusesWhatWouldOverflowItUnderTheErrorPolicy) {
  Mailbox<Blob> mailbox(by_bytes(100, BackpressurePolicy::kError));
  ASSERT_TRUE(mailbox.is_bounded()) << "a byte bound alone bounds the mailbox";
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(60, 'a')}, false), EnqueueOutcome::kAccepted);
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(50, 'b')}, false), EnqueueOutcome::kFull);
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(40, 'c')}, false), EnqueueOutcome::kAccepted);
  EXPECT_EQ(mailbox.enqueue(Blob{"d"}, false), EnqueueOutcome::kFull) << "exactly 100 held";
  ASSERT_EQ(mailbox.try_dequeue()->bytes.size(), 60u);
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(60, 'e')}, false), EnqueueOutcome::kAccepted)
      << "taking a message frees its bytes";
}

TEST(Mailbox, AnEmptyMailboxTakesOneMessageHeavierThanItsByteBound) {
  Mailbox<Blob> mailbox(by_bytes(100, BackpressurePolicy::kError));
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(500, 'a')}, false), EnqueueOutcome::kAccepted);
  EXPECT_EQ(mailbox.enqueue(Blob{"b"}, false), EnqueueOutcome::kFull);
}

TEST(Mailbox, DropOldestEvictsUntilTheNewMessageFitsByBytes) {
  Mailbox<Blob> mailbox(by_bytes(100, BackpressurePolicy::kDropOldest));
  for (const char c : {'a', 'b', 'c', 'd'}) {
    EXPECT_EQ(mailbox.enqueue(Blob{std::string(25, c)}, false), EnqueueOutcome::kAccepted);
  }
  EXPECT_EQ(mailbox.enqueue(Blob{std::string(60, 'e')}, false),
            EnqueueOutcome::kAcceptedDroppedOldest);
  EXPECT_EQ(mailbox.stats().dropped, 3u) << "a, b and c had to go for 60 bytes";
  EXPECT_EQ(mailbox.try_dequeue()->bytes[0], 'd');
  EXPECT_EQ(mailbox.try_dequeue()->bytes[0], 'e');
}

TEST(Mailbox, DropNewestAndBlockApplyToTheByteBoundToo) {
  Mailbox<Blob> newest(by_bytes(10, BackpressurePolicy::kDropNewest));
  EXPECT_EQ(newest.enqueue(Blob{std::string(8, 'a')}, false), EnqueueOutcome::kAccepted);
  EXPECT_EQ(newest.enqueue(Blob{std::string(8, 'b')}, false), EnqueueOutcome::kDroppedNewest);
  Mailbox<Blob> block(by_bytes(10, BackpressurePolicy::kBlock));
  EXPECT_EQ(block.enqueue(Blob{std::string(8, 'a')}, false), EnqueueOutcome::kAccepted);
  EXPECT_EQ(block.enqueue(Blob{std::string(8, 'b')}, false), EnqueueOutcome::kWouldBlock);
  std::thread consumer([&] {
    std::this_thread::sleep_for(5ms);
    static_cast<void>(block.try_dequeue());
  });
  EXPECT_EQ(block.enqueue(Blob{std::string(8, 'b')}, true), EnqueueOutcome::kAccepted)
      << "a sender that may wait gets in once bytes are freed";
  consumer.join();
}

TEST(Mailbox, MpscQueueSurvivesConcurrentProducers) {
  detail::MpscQueue<int> queue;
  constexpr int kProducers = 4;
  constexpr int kEach = 50000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) queue.push(p * kEach + i);
    });
  }
  std::vector<int> last(kProducers, -1);
  int received = 0;
  while (received < kProducers * kEach) {
    if (auto v = queue.try_pop()) {
      const int p = *v / kEach;
      ASSERT_GT(*v % kEach, last[static_cast<std::size_t>(p)]);
      last[static_cast<std::size_t>(p)] = *v % kEach;
      ++received;
    }
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace capsule::rt

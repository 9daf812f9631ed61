// ActorRef::send_run_here: a host thread that will wait for the answer anyway runs an idle
// actor's turn itself. The actor's rules still hold: one turn at a time, mailbox order, and a
// turn never waits for mailbox room; a busy actor is left to its worker.
#include <atomic>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <optional>
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

struct Seen {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::thread::id>> handled;
  std::atomic<int> inside{0}, overlaps{0};
  void add(const std::string& msg) {
    std::lock_guard lock(mutex);
    handled.emplace_back(msg, std::this_thread::get_id());
  }
  std::vector<std::pair<std::string, std::thread::id>> snapshot() {
    std::lock_guard lock(mutex);
    return handled;
  }
};

// Journals each message with the thread that handled it; "block" holds the handler at the gate.
class Journaled final : public Actor<std::string> {
 public:
  Journaled(std::shared_ptr<Seen> seen, Gate* gate) : seen_(std::move(seen)), gate_(gate) {}
  Status handle(std::string& msg, ActorContext<std::string>& /*ctx*/) override {
    if (seen_->inside.fetch_add(1) != 0) seen_->overlaps.fetch_add(1);
    if (msg == "block") gate_->wait();
    seen_->add(msg);
    seen_->inside.fetch_sub(1);
    return ok();
  }

 private:
  std::shared_ptr<Seen> seen_;
  Gate* gate_;
};

TEST(RunHere, IdleActorIsHandledOnTheSendingThreadBeforeTheSendReturns) {
  ActorSystem system;
  auto seen = std::make_shared<Seen>();
  Gate gate;
  auto ref = *system.spawn<Journaled>({}, seen, &gate);
  ASSERT_TRUE(ref.send_run_here("one"));
  const auto handled = seen->snapshot();
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled[0].first, "one");
  EXPECT_EQ(handled[0].second, std::this_thread::get_id());
  // Left idle: a plain send afterwards is handled by a worker as usual.
  ASSERT_TRUE(ref.send("two"));
  ASSERT_TRUE(eventually([&] { return seen->snapshot().size() == 2; }));
  EXPECT_NE(seen->snapshot()[1].second, std::this_thread::get_id());
  system.shutdown();
}

TEST(RunHere, BusyActorIsLeftToItsWorkerInMailboxOrder) {
  ActorSystem system;
  auto seen = std::make_shared<Seen>();
  Gate gate;
  auto ref = *system.spawn<Journaled>({}, seen, &gate);
  ASSERT_TRUE(ref.send("block"));
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  // Both return at once: the actor's turn belongs to the worker held at the gate.
  ASSERT_TRUE(ref.send_run_here("a"));
  ASSERT_TRUE(ref.send("b"));
  ASSERT_TRUE(ref.send_run_here("c"));
  EXPECT_TRUE(seen->snapshot().empty());
  gate.open();
  ASSERT_TRUE(eventually([&] { return seen->snapshot().size() == 4; }));
  const auto handled = seen->snapshot();
  std::vector<std::string> order;
  for (const auto& [msg, thread] : handled) {
    order.push_back(msg);
    EXPECT_NE(thread, std::this_thread::get_id()) << msg;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"block", "a", "b", "c"}));
  EXPECT_EQ(seen->overlaps.load(), 0);
  system.shutdown();
}

// Host threads and a worker race for the same actor: never two turns at once, every message
// handled once, each sender's messages in the order it sent them.
TEST(RunHere, ConcurrentSendersNeverOverlapAndKeepTheirOrder) {
  ActorSystem system;
  auto seen = std::make_shared<Seen>();
  Gate gate;
  auto ref = *system.spawn<Journaled>({}, seen, &gate);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> senders;
  senders.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        const std::string msg = std::to_string(t) + ":" + std::to_string(k);
        // Every third by plain send, so worker turns interleave with inline ones.
        ASSERT_TRUE(k % 3 == 0 ? ref.send(msg) : ref.send_run_here(msg));
      }
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_TRUE(eventually(
      [&] { return seen->snapshot().size() == static_cast<std::size_t>(kThreads) * kEach; }));
  EXPECT_EQ(seen->overlaps.load(), 0);
  std::vector<int> next(kThreads, 0);
  for (const auto& [msg, thread] : seen->snapshot()) {
    const auto colon = msg.find(':');
    const int t = std::stoi(msg.substr(0, colon));
    EXPECT_EQ(std::stoi(msg.substr(colon + 1)), next[static_cast<std::size_t>(t)]) << msg;
    next[static_cast<std::size_t>(t)] = std::stoi(msg.substr(colon + 1)) + 1;
  }
  system.shutdown();
}

// Sends from inside an inline turn: to a full `block` mailbox it answers kWouldBlock as on a
// worker (waiting would hold this actor's turn), and it never nests a second inline turn.
class Forwarder final : public Actor<std::string> {
 public:
  Forwarder(ActorRef<std::string> to, std::shared_ptr<std::vector<std::optional<ErrorCode>>> codes)
      : to_(std::move(to)), codes_(std::move(codes)) {}
  Status handle(std::string& msg, ActorContext<std::string>& /*ctx*/) override {
    const Status s = to_.send_run_here(msg);
    codes_->push_back(s ? std::nullopt : std::optional(s.error().code));
    return ok();
  }

 private:
  ActorRef<std::string> to_;
  std::shared_ptr<std::vector<std::optional<ErrorCode>>> codes_;
};

TEST(RunHere, AnInlineTurnNeverWaitsForRoomNorNests) {
  ActorSystem system;
  auto seen = std::make_shared<Seen>();
  Gate gate;
  auto full = *system.spawn<Journaled>(
      SpawnOptions{}.with_mailbox(MailboxConfig::bounded(1, BackpressurePolicy::kBlock)), seen,
      &gate);
  auto codes = std::make_shared<std::vector<std::optional<ErrorCode>>>();
  auto forwarder = *system.spawn<Forwarder>({}, full, codes);
  ASSERT_TRUE(full.send("block"));
  ASSERT_TRUE(eventually([&] { return gate.entered(); }));
  ASSERT_TRUE(full.send("fills the mailbox"));
  // Runs the forwarder's turn here; its send to the full mailbox must not wait.
  ASSERT_TRUE(forwarder.send_run_here("refused"));
  ASSERT_EQ(codes->size(), 1u);
  EXPECT_EQ((*codes)[0], std::optional(ErrorCode::kWouldBlock));
  gate.open();
  ASSERT_TRUE(eventually([&] { return seen->snapshot().size() == 2; }));
  // With room again, the forwarder's own send to `full` is queued for a worker, not run inside
  // the forwarder's inline turn on this thread.
  ASSERT_TRUE(forwarder.send_run_here("queued"));
  ASSERT_EQ(codes->size(), 2u);
  EXPECT_EQ((*codes)[1], std::nullopt);
  ASSERT_TRUE(eventually([&] { return seen->snapshot().size() == 3; }));
  EXPECT_EQ(seen->snapshot()[2].first, "queued");
  EXPECT_NE(seen->snapshot()[2].second, std::this_thread::get_id());
  system.shutdown();
}

}  // namespace
}  // namespace capsule::rt

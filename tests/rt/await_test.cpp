// ActorContext::await_resume: a handler can end without finishing its work; the actor then takes
// no mailbox message until resumed (from any thread), keeps mailbox order, frees its worker, and
// a stop ends or waits out the wait.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using namespace std::chrono_literals;
using testing::eventually;

struct Journal {
  std::mutex mutex;
  std::vector<std::string> events;
  std::vector<ResumeHandle> handles;
  void add(std::string e) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  ResumeHandle handle(std::size_t i) {
    std::lock_guard lock(mutex);
    return i < handles.size() ? handles[i] : ResumeHandle{};
  }
  std::size_t waits() {
    std::lock_guard lock(mutex);
    return handles.size();
  }
};

// "wait:<name>" starts work that needs two resumes to finish; any other message is handled at
// once. Every step is journaled.
class Waiter final : public Actor<std::string> {
 public:
  explicit Waiter(std::shared_ptr<Journal> j) : journal_(std::move(j)) {}
  Status handle(std::string& msg, ActorContext<std::string>& ctx) override {
    journal_->add("handle " + msg);
    if (msg.rfind("wait:", 0) == 0) {
      pending_ = 2;
      {
        std::lock_guard lock(journal_->mutex);
        journal_->handles.push_back(ctx.resume_handle());
      }
      ctx.await_resume();
    }
    return ok();
  }
  Status on_resume(ActorContext<std::string>& ctx) override {
    journal_->add("resume " + std::to_string(pending_));
    if (--pending_ > 0) ctx.await_resume();
    return ok();
  }
  void post_stop(ActorContext<std::string>&) override { journal_->add("stopped"); }

 private:
  std::shared_ptr<Journal> journal_;
  int pending_ = 0;
};

TEST(Await, MailboxWaitsUntilResumedAndKeepsItsOrder) {
  auto journal = std::make_shared<Journal>();
  ActorSystem system;
  auto ref = system.spawn<Waiter>({}, journal);
  ASSERT_TRUE(ref);
  ASSERT_TRUE(ref->send("wait:a"));
  ASSERT_TRUE(ref->send("b"));
  ASSERT_TRUE(ref->send("c"));
  ASSERT_TRUE(eventually([&] { return journal->waits() == 1; }));
  std::this_thread::sleep_for(20ms);  // would be long enough for b and c, were they taken
  EXPECT_EQ(journal->snapshot(), (std::vector<std::string>{"handle wait:a"}));
  // Resumed from foreign threads; the second wait is entered by on_resume itself.
  std::thread([h = journal->handle(0)] { h.resume(); }).join();
  ASSERT_TRUE(eventually([&] { return journal->snapshot().size() == 2; }));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(journal->snapshot().size(), 2u) << "b was taken while the actor still waited";
  std::thread([h = journal->handle(0)] { h.resume(); }).join();
  ASSERT_TRUE(eventually([&] { return journal->snapshot().size() == 5; }));
  EXPECT_EQ(journal->snapshot(), (std::vector<std::string>{"handle wait:a", "resume 2", "resume 1",
                                                           "handle b", "handle c"}));
}

// While one actor waits, the only worker is free for others.
TEST(Await, AWaitingActorHoldsNoWorker) {
  auto journal = std::make_shared<Journal>();
  SystemConfig config;
  config.scheduler.workers = 1;
  ActorSystem system(config);
  auto waiter = system.spawn<Waiter>({}, journal);
  auto other_journal = std::make_shared<Journal>();
  auto other = system.spawn<Waiter>({}, other_journal);
  ASSERT_TRUE(waiter && other);
  ASSERT_TRUE(waiter->send("wait:x"));
  ASSERT_TRUE(eventually([&] { return journal->waits() == 1; }));
  ASSERT_TRUE(other->send("hello"));
  EXPECT_TRUE(eventually([&] { return other_journal->snapshot().size() == 1; }));
  for (int step = 2; step <= 3; ++step) {  // let the waiter finish, so shutdown need not kill it
    journal->handle(0).resume();
    ASSERT_TRUE(
        eventually([&] { return journal->snapshot().size() == static_cast<std::size_t>(step); }));
  }
}

std::size_t resumes_in(const std::vector<std::string>& events) {
  return static_cast<std::size_t>(
      std::count_if(events.begin(), events.end(),
                    [](const std::string& e) { return e.rfind("resume", 0) == 0; }));
}

// Resumes that come in a burst coalesce (one on_resume for many resume() calls), and resumes of
// an actor that is not waiting are ignored.
TEST(Await, ResumesCoalesceAndStrayResumesAreIgnored) {
  auto journal = std::make_shared<Journal>();
  ActorSystem system;
  auto ref = system.spawn<Waiter>({}, journal);
  ASSERT_TRUE(ref->send("wait:y"));
  ASSERT_TRUE(eventually([&] { return journal->waits() == 1; }));
  const auto h = journal->handle(0);
  auto storm = [h] {
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([h] {
        for (int j = 0; j < 100; ++j) h.resume();
      });
    }
    for (auto& t : threads) t.join();
  };
  storm();
  ASSERT_TRUE(eventually([&] { return resumes_in(journal->snapshot()) >= 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_LE(resumes_in(journal->snapshot()), 2u) << "800 resume() calls ran on_resume more often";
  while (resumes_in(journal->snapshot()) < 2) {  // finish the work: the actor stops waiting
    h.resume();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(ref->send("after"));
  ASSERT_TRUE(eventually([&] { return journal->snapshot().back() == "handle after"; }));
  storm();  // not waiting now: every one of these is stray
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(resumes_in(journal->snapshot()), 2u);
  EXPECT_EQ(journal->snapshot().back(), "handle after");
}

// A graceful stop lets the waiting work finish first; the handle of a gone actor does nothing.
TEST(Await, GracefulStopWaitsForTheResume) {
  auto journal = std::make_shared<Journal>();
  ActorSystem system;
  auto ref = system.spawn<Waiter>({}, journal);
  ASSERT_TRUE(ref->send("wait:z"));
  ASSERT_TRUE(eventually([&] { return journal->waits() == 1; }));
  system.stop(ref->address());
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(ref->address().alive()) << "stopped while its work still waited";
  const auto h = journal->handle(0);
  h.resume();
  ASSERT_TRUE(eventually([&] { return journal->snapshot().size() == 2; }));
  EXPECT_TRUE(ref->address().alive()) << "stopped while its work still waited";
  h.resume();
  ASSERT_TRUE(eventually([&] { return !ref->address().alive(); }, 2s))
      << "the stop did not complete once the work finished";
  const auto events = journal->snapshot();
  EXPECT_EQ(events.back(), "stopped");
  h.resume();  // the actor is gone: nothing happens
}

}  // namespace
}  // namespace capsule::rt

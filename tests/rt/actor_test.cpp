#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <thread>

#include <capsule/rt/actor_system.hpp>

namespace capsule::rt {
namespace {

class Counter final : public Actor<int> {
 public:
  explicit Counter(std::atomic<int>* sum) : sum_(sum) {}
  Status handle(int& msg, ActorContext<int>& /*ctx*/) override {
    sum_->fetch_add(msg);
    return ok();
  }

 private:
  std::atomic<int>* sum_;
};

TEST(Actor, DeliversMessages) {
  std::atomic<int> sum{0};
  ActorSystem system;
  auto ref = system.spawn<Counter>({}, &sum);
  ASSERT_TRUE(ref);
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(ref->send(i));
  while (sum.load() != 5050) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto report = system.shutdown();
  EXPECT_FALSE(report.timed_out);
}

}  // namespace
}  // namespace capsule::rt

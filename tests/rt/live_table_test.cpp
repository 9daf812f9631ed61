// The system's table of live actors (detail::LiveTable, intrusive, sharded): what it keeps alive,
// and for how long.
#include <atomic>
#include <gtest/gtest.h>
#include <memory>
#include <thread>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt {
namespace {

using testing::eventually;

class Idle final : public Actor<int> {
 public:
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override { return ok(); }
};

TEST(LiveTable, KeepsAnUnreferencedActorAliveUntilItTerminates) {
  ActorSystem system;
  std::weak_ptr<detail::ActorCellBase> cell;
  ActorAddress address;
  {
    auto ref = *system.spawn<Idle>({});
    cell = ref.address().shared_cell();
    address = ref.address();
  }
  const auto id = address.id();
  address = ActorAddress{};  // nobody outside the system refers to the actor any more
  EXPECT_FALSE(cell.expired()) << "a live actor is owned by its system";
  EXPECT_EQ(system.actor_count(), 1U);
  system.stop(ActorAddress(cell.lock()));
  ASSERT_TRUE(eventually([&] { return cell.expired(); }))
      << "the system lets go of actor " << id << " once it terminated";
  EXPECT_EQ(system.actor_count(), 0U);
}

// Spawns and stops race on every shard from several threads (run under TSan in CI).
TEST(LiveTable, ConcurrentSpawnAndStopLeaveNothingBehind) {
  auto owned = std::make_unique<ActorSystem>();
  ActorSystem& system = *owned;
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kEach = 2000;
  std::vector<std::weak_ptr<detail::ActorCellBase>> cells(kThreads * kEach);
  std::atomic<std::size_t> spawned{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < kEach; ++i) {
        auto ref = system.spawn<Idle>({});
        if (!ref) continue;
        ref->tell(static_cast<int>(i));
        cells[t * kEach + i] = ref->address().shared_cell();
        spawned.fetch_add(1);
        // Every other actor is stopped at once, racing with the spawns of the other threads.
        if (i % 2 == 0) system.stop(ref->address());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(spawned.load(), kThreads * kEach);
  ASSERT_TRUE(eventually([&] { return system.actor_count() == kThreads * kEach / 2; }));
  const auto report = system.shutdown();
  EXPECT_EQ(report.actors_at_start, kThreads * kEach / 2);
  EXPECT_EQ(report.actors_killed, 0U);
  EXPECT_EQ(system.actor_count(), 0U);
  // A graceful stop's kill timer holds its target until it fires or the system is gone.
  owned.reset();
  for (const auto& cell : cells) ASSERT_TRUE(cell.expired());
}

TEST(LiveTable, AFailedSpawnIsNeverAdmitted) {
  class Refuses final : public Actor<int> {
   public:
    Status pre_start(ActorContext<int>& /*ctx*/) override {
      return make_error(ErrorCode::kInternal, "no");
    }
    Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override { return ok(); }
  };
  ActorSystem system;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(system.spawn<Refuses>({}));
  EXPECT_EQ(system.actor_count(), 0U);
  EXPECT_EQ(system.shutdown().actors_at_start, 0U);
}

}  // namespace
}  // namespace capsule::rt

// Leases on a real nats-server with JetStream: who may serve a failover unit, and when.
#include <chrono>
#include <gtest/gtest.h>
#include <thread>

#include <capsule/cluster/lease_keeper.hpp>

#include "cluster_clients.hpp"
#include "nats_server.hpp"

namespace capsule::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::NatsServer;

constexpr auto kDuration = 400ms;
const std::string kUnit = "bank/ledger";

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.running()); }

  std::unique_ptr<LeaseKeeper> keeper(const std::string& host) {
    return testing::connect_leases(server.url(), "leases_test", host, kDuration);
  }

  static LeaseAttempt attempt(LeaseKeeper& k) {
    auto a = k.try_acquire(kUnit);
    EXPECT_TRUE(a) << a.error().describe();
    return a ? *a : LeaseAttempt::kHeld;
  }

  // Renews `k` every few ms for `how_long` (as the failover loop does, more often).
  static void keep_renewing(LeaseKeeper& k, std::chrono::milliseconds how_long) {
    const auto end = Clock::now() + how_long;
    while (Clock::now() < end) {
      EXPECT_TRUE(k.renew().empty());
      std::this_thread::sleep_for(10ms);
    }
  }

  NatsServer server{NatsServer::Mode::kJetStream};
};

TEST_F(LeaseTest, TheFirstHostAcquiresAndTheOtherWaits) {
  auto a = keeper("a");
  auto b = keeper("b");
  EXPECT_EQ(attempt(*a), LeaseAttempt::kAcquired);
  EXPECT_TRUE(a->holds(kUnit));
  EXPECT_GT(a->token(kUnit), 0u);
  EXPECT_TRUE(a->window(kUnit)->is_open());
  EXPECT_EQ(a->window(kUnit)->token(), a->token(kUnit));
  EXPECT_EQ(attempt(*b), LeaseAttempt::kHeld);
  EXPECT_EQ(b->holder(kUnit), "a");
  EXPECT_FALSE(b->window(kUnit)->is_open());
}

TEST_F(LeaseTest, ARenewedLeaseIsNeverTakenOver) {
  auto a = keeper("a");
  auto b = keeper("b");
  ASSERT_EQ(attempt(*a), LeaseAttempt::kAcquired);
  std::thread renewer([&] { keep_renewing(*a, kDuration * 4); });
  const auto end = Clock::now() + kDuration * 3;
  while (Clock::now() < end) {
    EXPECT_EQ(attempt(*b), LeaseAttempt::kHeld);
    std::this_thread::sleep_for(20ms);
  }
  renewer.join();
  EXPECT_TRUE(a->holds(kUnit));
  EXPECT_TRUE(a->window(kUnit)->is_open());
}

TEST_F(LeaseTest, AStalledHolderStopsServingBeforeAnotherHostMayTakeOver) {
  auto a = keeper("a");
  auto b = keeper("b");
  ASSERT_EQ(attempt(*a), LeaseAttempt::kAcquired);
  const auto acquired = Clock::now();
  // a stalls (no renewals, as if SIGSTOPped); b watches and tries all the time.
  Clock::time_point a_closed{};
  Clock::time_point b_won{};
  while (b_won == Clock::time_point{} && Clock::now() - acquired < kDuration * 5) {
    if (a_closed == Clock::time_point{} && !a->window(kUnit)->is_open()) a_closed = Clock::now();
    if (attempt(*b) == LeaseAttempt::kAcquired) b_won = Clock::now();
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_NE(b_won, Clock::time_point{}) << "b never took over a lease nobody renewed";
  ASSERT_NE(a_closed, Clock::time_point{});
  EXPECT_LT(a_closed, b_won) << "the stalled holder must stop serving before the takeover";
  EXPECT_GE(b_won - acquired, kDuration) << "taken over before a whole duration passed";
  EXPECT_GT(b->token(kUnit), a->token(kUnit)) << "the fencing token grows with each owner";
  // a wakes up: its renewal finds the lease gone, it learns it lost it and stays closed.
  EXPECT_EQ(a->renew(), std::vector<std::string>{kUnit});
  EXPECT_FALSE(a->holds(kUnit));
  EXPECT_FALSE(a->window(kUnit)->is_open());
  EXPECT_EQ(a->holder(kUnit), "b");
  EXPECT_EQ(attempt(*a), LeaseAttempt::kHeld);
}

TEST_F(LeaseTest, AReleasedLeaseIsFreeAtOnce) {
  auto a = keeper("a");
  auto b = keeper("b");
  ASSERT_EQ(attempt(*a), LeaseAttempt::kAcquired);
  EXPECT_EQ(attempt(*b), LeaseAttempt::kHeld);
  a->release(kUnit);
  EXPECT_FALSE(a->window(kUnit)->is_open()) << "closed before the lease is given up";
  EXPECT_EQ(attempt(*b), LeaseAttempt::kAcquired) << "no need to wait for it to lapse";
}

TEST_F(LeaseTest, ARestartedHostWaitsLikeAnyOther) {
  // Same host name, new life (a new boot id): the old life's lease is not silently inherited.
  auto first = keeper("a");
  ASSERT_EQ(attempt(*first), LeaseAttempt::kAcquired);
  first.reset();  // killed without releasing
  auto second = keeper("a");
  EXPECT_EQ(attempt(*second), LeaseAttempt::kHeld);
  std::this_thread::sleep_for(kDuration + 50ms);
  EXPECT_EQ(attempt(*second), LeaseAttempt::kAcquired);
}

TEST_F(LeaseTest, AHolderCutOffFromTheServerClosesItsWindowAndGetsTheLeaseBack) {
  auto a = keeper("a");
  ASSERT_EQ(attempt(*a), LeaseAttempt::kAcquired);
  const auto token = a->token(kUnit);
  server.stop();
  std::this_thread::sleep_for(kDuration);
  static_cast<void>(a->renew());  // fails: unreachable
  EXPECT_FALSE(a->window(kUnit)->is_open()) << "no renewal reached the store in time";
  EXPECT_TRUE(a->holds(kUnit)) << "not lost: nobody else took it";
  server.start();
  const auto end = Clock::now() + 10s;
  while (!a->window(kUnit)->is_open() && Clock::now() < end) {
    static_cast<void>(a->renew());
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(a->window(kUnit)->is_open()) << "a renewal after the outage opens it again";
  EXPECT_EQ(a->token(kUnit), token) << "the same lease, the same token";
}

}  // namespace
}  // namespace capsule::cluster

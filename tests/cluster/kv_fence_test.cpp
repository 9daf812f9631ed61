// Server-checked fencing of failover units' storage (docs/cluster.md, "Leases"): a real
// nats-server with JetStream, real leases. On nats-server >= 2.11 (CTest's cluster.fencing.*
// runs, on the 2.14 that scripts/bootstrap.sh builds) the server refuses an old owner's write
// that arrives after the new owner fenced the space, even when every check the old owner makes
// itself says yes: the race is made exact by taking the lease and fencing from another host
// inside the old owner's permit check, i.e. between its last own check and its publish. On
// Debian's 2.9.10 the same write lands (the control): only the writer's check stands there.
#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <thread>
#include <vector>

#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>

#include "cluster_clients.hpp"
#include "nats_server.hpp"

namespace capsule::cluster {
namespace {

using namespace std::chrono_literals;
using storage::Bytes;
using testing::NatsServer;
using testing::owner_permit;

constexpr auto kDuration = 120ms;
const std::string kUnit = "bank/ledger";
const std::string kCanary = "shop/cart";

Bytes bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

class KvFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.running());
    old_kv = connect();
    new_kv = connect();
    ASSERT_NE(old_kv, nullptr);
    ASSERT_NE(new_kv, nullptr);
    old_leases = keeper("p1");
    new_leases = keeper("s1");
    ASSERT_NE(old_leases, nullptr);
    ASSERT_NE(new_leases, nullptr);
  }

  std::unique_ptr<NatsKvBackend> connect() { return testing::connect_kv(server.url()); }

  std::unique_ptr<LeaseKeeper> keeper(const std::string& host) {
    return testing::connect_leases(server.url(), "leases_fence_test", host, kDuration);
  }

  // What the failover loop does when it wins a lease: acquire, then fence the storage.
  static void take(LeaseKeeper& leases, NatsKvBackend& kv, const std::string& unit) {
    auto a = leases.try_acquire(unit);
    ASSERT_TRUE(a) << a.error().describe();
    ASSERT_EQ(*a, LeaseAttempt::kAcquired);
    ASSERT_TRUE(kv.fence(unit, {}, leases.token(unit)));
  }

  // The new owner takes the unit over from a paused old owner: it watches the lease stand still
  // for a whole duration, acquires it, and fences the space.
  void take_over() {
    new_leases->observe(kUnit);
    std::this_thread::sleep_for(kDuration + 30ms);
    take(*new_leases, *new_kv, kUnit);
  }

  // A permit as ComponentHostApi makes it (the window's check, the lease token), except that the
  // old owner's check here says yes whatever happened: only the server stands in the way. The
  // first time it is asked, the new owner takes over.
  storage::KvBackend::WritePermit frozen_old_owner(int& asked, std::uint64_t token) {
    return {[this, &asked]() -> Status {
              if (++asked == 1) take_over();
              return ok();
            },
            token};
  }

  void expect_usage_exact(std::string_view space) { testing::expect_usage_exact(*new_kv, space); }

  [[nodiscard]] std::optional<Bytes> value(std::string_view space, std::string_view key) {
    auto got = new_kv->get(space, key);
    EXPECT_TRUE(got) << got.error().describe();
    return got ? *got : std::nullopt;
  }

  void skip_unless_server_fences() {
    if (const std::string why = testing::cannot_fence_on(*old_kv); !why.empty())
      GTEST_SKIP() << why;
  }

  NatsServer server{NatsServer::Mode::kJetStream};
  std::unique_ptr<NatsKvBackend> old_kv;
  std::unique_ptr<NatsKvBackend> new_kv;
  std::unique_ptr<LeaseKeeper> old_leases;
  std::unique_ptr<LeaseKeeper> new_leases;
  security::StorageQuota quota{.max_bytes = 1000, .max_keys = 10};
};

// The old owner checked, then froze; the new owner acquired the lease and fenced the space; then
// the old owner's write reached the server. Every kind of write: one that grows the space (its
// usage reservation goes first), an overwrite of the same size (the value alone), an update and
// a delete. The server refuses each (a conflict), the retry finds the newer fence and stops; the
// new owner's writes succeed, and a canary unit the old owner still holds keeps writing.
TEST_F(KvFenceTest, APausedOldOwnersLateWritesAreRefusedByTheServer) {
  skip_unless_server_fences();
  if (IsSkipped()) return;
  take(*old_leases, *old_kv, kUnit);
  take(*old_leases, *old_kv, kCanary);
  const std::uint64_t old_token = old_leases->token(kUnit);
  ASSERT_TRUE(
      old_kv->set_if(kUnit, "balance", bytes("897"), quota, owner_permit(*old_leases, kUnit)));
  ASSERT_TRUE(old_kv->set_if(kUnit, "other", bytes("x"), quota, owner_permit(*old_leases, kUnit)));

  std::string expected = "897";
  struct Case {
    const char* what;
    std::function<Status(const storage::KvBackend::WritePermit&)> write;
  };
  const std::vector<Case> cases{
      {"a write that grows the space",
       [&](const auto& p) { return old_kv->set_if(kUnit, "balance", bytes("8980"), quota, p); }},
      {"an overwrite of the same size",
       [&](const auto& p) {
         return old_kv->set_if(kUnit, "balance", bytes(std::string(expected.size(), 'x')), quota,
                               p);
       }},
      {"an update",
       [&](const auto& p) -> Status {
         auto r = old_kv->update_if(
             kUnit, "balance",
             [](const std::optional<Bytes>&) -> Result<Bytes> { return bytes("7"); }, quota, p);
         return r ? ok() : Status(r.error());
       }},
      {"a delete", [&](const auto& p) -> Status {
         auto r = old_kv->erase_if(kUnit, "other", p);
         return r ? ok() : Status(r.error());
       }}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    if (new_leases->holds(kUnit)) {
      // Hand the unit back to the old owner, which fences it again with a newer token.
      new_leases->release(kUnit);
      take(*old_leases, *old_kv, kUnit);
    }
    const std::uint64_t conflicts = old_kv->conflicts();
    int asked = 0;
    const Status late = c.write(frozen_old_owner(asked, old_leases->token(kUnit)));
    ASSERT_FALSE(late) << "the old owner's late write landed";
    EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(late.error().message.find("fenced by lease token " +
                                        std::to_string(new_leases->token(kUnit))),
              std::string::npos)
        << late.error().message;
    EXPECT_EQ(asked, 1) << "the write left once, after the check";
    EXPECT_EQ(old_kv->conflicts(), conflicts + 1) << "the server refused the write that left";
    EXPECT_EQ(value(kUnit, "balance"), bytes(expected));
    ASSERT_TRUE(value(kUnit, "other").has_value()) << "the late delete landed";

    // The new owner writes. The old owner wakes up: its renewal finds kUnit taken over and
    // reopens the canary's window (nobody took that one), whose writes go on.
    EXPECT_EQ(old_leases->renew(), std::vector<std::string>{kUnit});
    expected = std::string("n") + std::to_string(new_leases->token(kUnit));
    ASSERT_TRUE(
        new_kv->set_if(kUnit, "balance", bytes(expected), quota, owner_permit(*new_leases, kUnit)));
    ASSERT_TRUE(
        old_kv->set_if(kCanary, "items", bytes(c.what), quota, owner_permit(*old_leases, kCanary)))
        << "the canary unit stopped";
    EXPECT_EQ(value(kCanary, "items"), bytes(c.what));
    // A fresh write of the old token, not paused at all: refused before it leaves.
    const Status stale =
        old_kv->set_if(kUnit, "balance", bytes("1"), quota, {[] { return ok(); }, old_token});
    EXPECT_FALSE(stale);
    expect_usage_exact(kUnit);
    expect_usage_exact(kCanary);
  }
}

// The fence lands between the old owner's usage reservation and its value write: the value is
// refused and so is taking the reservation back (the old owner may not write the space at all).
// Usage then over-counts by exactly that write, never under-counts.
TEST_F(KvFenceTest, AReservationWhoseValueIsFencedOutLeavesUsageOnTheSafeSide) {
  skip_unless_server_fences();
  if (IsSkipped()) return;
  take(*old_leases, *old_kv, kUnit);
  ASSERT_TRUE(
      old_kv->set_if(kUnit, "balance", bytes("1"), quota, owner_permit(*old_leases, kUnit)));
  int asked = 0;
  const storage::KvBackend::WritePermit second_step_frozen{
      [&]() -> Status {
        if (++asked == 2) take_over();  // after the reservation, before the value
        return ok();
      },
      old_leases->token(kUnit)};
  const Status late = old_kv->set_if(kUnit, "balance", bytes("12345"), quota, second_step_frozen);
  ASSERT_FALSE(late);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(value(kUnit, "balance"), bytes("1"));
  auto stored = new_kv->usage(kUnit);
  auto actual = new_kv->recompute_usage(kUnit);
  ASSERT_TRUE(stored && actual);
  EXPECT_EQ(stored->bytes, actual->bytes + 4) << "the reservation of the 4 bytes it would add";
  EXPECT_EQ(stored->keys, actual->keys);
}

// One owner, four writers on one fenced space at once through two connections (one backend
// lets the writers of a fenced space take turns; two race for real): every write is conditional
// on the whole space, the losers retry, each lands once, and usage stays exact.
TEST_F(KvFenceTest, ConcurrentWritersOfOneOwnerAllLandAndUsageStaysExact) {
  skip_unless_server_fences();
  if (IsSkipped()) return;
  take(*old_leases, *old_kv, kUnit);
  auto second = connect();
  ASSERT_NE(second, nullptr);
  const security::StorageQuota q{.max_bytes = 100000, .max_keys = 100};
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> failed{0};
  std::atomic<bool> done{false};
  std::thread renewer([&] {
    while (!done.load()) {
      EXPECT_TRUE(old_leases->renew().empty());  // renewals move no fence
      std::this_thread::sleep_for(10ms);
    }
  });
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i % 5);
        NatsKvBackend& kv = t % 2 == 0 ? *old_kv : *second;
        const Status s = kv.set_if(kUnit, key, Bytes(static_cast<std::size_t>(10 + i * t)), q,
                                   owner_permit(*old_leases, kUnit));
        if (!s) {
          ADD_FAILURE() << s.error().describe();
          failed.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  renewer.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(old_kv->conflicts() + second->conflicts(), 0u) << "the writers never raced";
  expect_usage_exact(kUnit);
}

// A fence only moves forward: an older token (a holder that acquired, froze, and lost the lease
// before fencing) cannot take the space back from a newer one.
TEST_F(KvFenceTest, AFenceNeverMovesBack) {
  ASSERT_TRUE(old_kv->fence(kUnit, {}, 10));
  ASSERT_TRUE(new_kv->fence(kUnit, {}, 12));
  const Status back = old_kv->fence(kUnit, {}, 10);
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(new_kv->fence(kUnit, {}, 12)) << "fencing again with the same token is a no-op";
  EXPECT_FALSE(old_kv->fence(kUnit, {}, 0));
  auto keys = new_kv->list_keys(kUnit, "");
  ASSERT_TRUE(keys);
  EXPECT_TRUE(keys->empty()) << "the fence is no data key";
}

// The control, on a server that cannot check a condition over a key pattern (Debian's 2.9.10):
// the backend says so, and the same late write lands when the writer's own check says yes -
// exactly the gap docs/cluster.md describes for such servers.
TEST_F(KvFenceTest, OnAnOlderServerOnlyTheWritersOwnCheckStandsInTheWay) {
  if (old_kv->server_fencing()) {
    GTEST_SKIP() << NatsServer::binary() << " checks fenced writes itself (JetStream API level "
                 << old_kv->server_api_level() << "): the control needs nats-server < 2.11";
  }
  EXPECT_EQ(old_kv->server_api_level(), 0);
  take(*old_leases, *old_kv, kUnit);
  ASSERT_TRUE(
      old_kv->set_if(kUnit, "balance", bytes("897"), quota, owner_permit(*old_leases, kUnit)));
  int asked = 0;
  ASSERT_TRUE(old_kv->set_if(kUnit, "balance", bytes("898"), quota,
                             frozen_old_owner(asked, old_leases->token(kUnit))));
  EXPECT_TRUE(new_leases->holds(kUnit));
  EXPECT_EQ(value(kUnit, "balance"), bytes("898")) << "the late write landed: nothing refused it";
}

}  // namespace
}  // namespace capsule::cluster

// Fencing and leases on a replicated JetStream (docs/cluster.md, "Replicated JetStream"): three
// real nats-servers clustered with routes, the storage and lease buckets made with replicas 3,
// every client given all three URLs. What a single server cannot show: SIGKILL of the server
// that leads a bucket's stream (the one that checks every write's condition) in the middle of
// the work neither loses an acknowledged write nor lets an old owner's write land after the new
// owner's fence, a lease is still won by exactly one host, and the clients carry on through the
// remaining servers. Needs nats-server >= 2.11 (CTest's cluster.fencing.r3.*, on the 2.14 that
// scripts/bootstrap.sh builds).
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>

#include "cluster_clients.hpp"
#include "nats_cluster.hpp"

namespace capsule::cluster::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using storage::Bytes;
using Permit = storage::KvBackend::WritePermit;

const std::string kUnit = "bank/ledger";
const std::string kStorageStream = "KV_capsule_kv";
const std::string kLeaseBucket = "leases_r3_test";
const std::string kLeaseStream = "KV_" + kLeaseBucket;
// How long the cluster may take to elect a new leader after one died (nats-server campaigns
// after 4-9 s without a leader), with room for a loaded machine.
constexpr auto kElection = 30s;

Bytes bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

std::string text(const std::optional<Bytes>& value) {
  return value ? std::string(value->begin(), value->end()) : "<none>";
}

// Calls `attempt` until it succeeds or `wait` passes (what a host does across an election).
template <typename F>
bool eventually(std::chrono::milliseconds wait, F&& attempt) {
  const auto deadline = Clock::now() + wait;
  while (!attempt()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

class ReplicatedFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("CAPSULE_TEST_NATS_SERVER") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
      GTEST_SKIP() << "needs nats-server >= 2.11 in CAPSULE_TEST_NATS_SERVER (CTest runs these as "
                      "cluster.fencing.r3.* on the 2.14.9 scripts/bootstrap.sh builds)";
    }
    nats = std::make_unique<NatsCluster>();
    ASSERT_TRUE(nats->ready()) << "the three servers did not form a JetStream cluster";
  }

  // A host's storage connection: all three URLs, buckets it creates get three replicas.
  std::unique_ptr<NatsKvBackend> storage(const std::string& urls) {
    NatsKvBackend::Options o;
    o.url = urls;
    o.replicas = NatsCluster::kSize;
    o.timeout = 2s;
    auto kv = NatsKvBackend::connect(o);
    EXPECT_TRUE(kv) << kv.error().describe();
    return kv ? std::move(*kv) : nullptr;
  }

  std::unique_ptr<LeaseKeeper> leases(const std::string& host, std::chrono::milliseconds duration) {
    LeaseConfig c;
    c.url = nats->urls();
    c.bucket = kLeaseBucket;
    c.host = host;
    c.duration = duration;
    c.replicas = NatsCluster::kSize;
    auto k = LeaseKeeper::connect(c);
    EXPECT_TRUE(k) << k.error().describe();
    return k ? std::move(*k) : nullptr;
  }

  // What the failover loop does when it wins a lease, across an election: try until the lease
  // is this host's and its token is in the space's fence.
  static bool take(LeaseKeeper& keeper, NatsKvBackend& kv, const std::string& unit) {
    return eventually(kElection,
                      [&] {
                        auto a = keeper.try_acquire(unit);
                        return a && *a == LeaseAttempt::kAcquired;
                      }) &&
           eventually(kElection,
                      [&] { return static_cast<bool>(kv.fence(unit, {}, keeper.token(unit))); });
  }

  std::unique_ptr<NatsCluster> nats;  // started once the test knows it can run
  security::StorageQuota quota{.max_bytes = 16 << 20, .max_keys = 100000};
};

// The buckets capsule creates on the cluster keep three copies, one per server, with a leader.
TEST_F(ReplicatedFenceTest, BucketsAreCreatedWithThreeReplicas) {
  auto kv = storage(nats->urls());
  auto keeper = leases("p1", 2s);
  ASSERT_TRUE(kv && keeper);
  EXPECT_EQ(kv->replicas(), 3);
  EXPECT_EQ(nats->replicas_of(kStorageStream), 3);
  EXPECT_EQ(nats->replicas_of(kLeaseStream), 3);
  EXPECT_GE(nats->leader_of(kStorageStream, 5s), 0);
  EXPECT_GE(nats->leader_of(kLeaseStream, 5s), 0);
  // The canary of the check: a bucket asked for with one replica has one.
  NatsKvBackend::Options one;
  one.url = nats->urls();
  one.bucket = "r3_test_single";
  auto single = NatsKvBackend::connect(one);
  ASSERT_TRUE(single) << single.error().describe();
  EXPECT_EQ((*single)->replicas(), 1);
  EXPECT_EQ(nats->replicas_of("KV_r3_test_single"), 1);
}

// A bucket as cnats' js_CreateKeyValue makes it (direct gets on: any replica answers a read),
// with three replicas: the control of the read-after-write test.
bool make_direct_bucket(const std::string& urls, const std::string& name) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  bool made = natsConnection_ConnectTo(&nc, urls.c_str()) == NATS_OK &&
              natsConnection_JetStream(&js, nc, nullptr) == NATS_OK;
  if (made) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = name.c_str();
    kc.History = 1;
    kc.Replicas = NatsCluster::kSize;
    made = js_CreateKeyValue(&kv, js, &kc) == NATS_OK;
  }
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return made;
}

// A host reads back what it has just written, whichever server it is connected to - also one
// that was just restarted and is catching up: a write is acknowledged once a majority stored it,
// and a read must not be answered by a replica that has not applied it yet (the ledger reads its
// balance, adds and writes: it would lose adds). The control: the same on a bucket with direct
// gets (as cnats makes them), where any replica answers reads; its stale reads are counted and
// printed, not asserted (how many depends on timing).
TEST_F(ReplicatedFenceTest, AReadAfterAnAcknowledgedWriteSeesItOnEveryServer) {
  ASSERT_TRUE(make_direct_bucket(nats->urls(), "r3_direct"));
  NatsKvBackend::Options direct_options;
  direct_options.bucket = "r3_direct";
  // The restarted server first misses writes made while it was down.
  auto writer = storage(nats->server(1).url() + "," + nats->server(2).url());
  ASSERT_NE(writer, nullptr);
  nats->server(0).kill();
  for (int n = 0; n < 300; ++n) {
    EXPECT_TRUE(eventually(kElection, [&] {
      return static_cast<bool>(writer->set("ryw/behind", std::to_string(n), bytes("x"), quota));
    }));
  }
  ASSERT_TRUE(nats->server(0).start());
  std::vector<std::unique_ptr<NatsKvBackend>> hosts;
  std::vector<std::unique_ptr<NatsKvBackend>> direct;
  for (int i = 0; i < NatsCluster::kSize; ++i) {
    hosts.push_back(storage(nats->server(i).url()));  // each on one server only
    direct_options.url = nats->server(i).url();
    auto d = NatsKvBackend::connect(direct_options);
    ASSERT_TRUE(d) << d.error().describe();
    direct.push_back(std::move(*d));
    ASSERT_NE(hosts.back(), nullptr);
  }
  constexpr int kWrites = 300;
  std::array<int, 2> stale{};            // capsule's bucket, the control
  std::array<int, 2> stale_elsewhere{};  // read by the hosts on the other servers
  for (int i = 0; i < NatsCluster::kSize; ++i) {
    const std::string space = "ryw/" + std::to_string(i);
    for (int n = 0; n < kWrites; ++n) {
      const std::string value = std::to_string(n);
      for (int b = 0; b < 2; ++b) {
        auto& kvs = b == 0 ? hosts : direct;
        if (!kvs[i]->set(space, "k", bytes(value), quota)) continue;  // unsure: not counted
        for (int j = 0; j < NatsCluster::kSize; ++j) {
          auto back = kvs[j]->get(space, "k");
          if (back && text(*back) != value) ++(i == j ? stale[b] : stale_elsewhere[b]);
        }
      }
    }
  }
  std::printf(
      "stale reads after an acknowledged write: capsule's bucket %d by the writer, %d by "
      "hosts on other servers; with direct gets (control) %d and %d; of %d and %d\n",
      stale[0], stale_elsewhere[0], stale[1], stale_elsewhere[1], kWrites * NatsCluster::kSize,
      kWrites * NatsCluster::kSize * 2);
  EXPECT_EQ(stale[0], 0) << "the writer read an older value";
  EXPECT_EQ(stale_elsewhere[0], 0) << "a host read an older value after the write was acknowledged";
  RecordProperty("control_stale", stale[1] + stale_elsewhere[1]);
}

// The old owner checked its window, then froze; meanwhile the server leading the storage stream
// died (SIGKILL), the others elected a new leader, and the new owner took the lease over and
// fenced the space through them. Then the old owner's write left: the new leader refuses it, its
// retry finds the newer fence and stops. Nothing the old owner wrote after the fence is stored,
// the old owner's connection carried on through a remaining server, and the new owner's writes
// land. Then the dead server comes back, catches up, and the next leader dies too: the new
// owner's acknowledged write is still there.
TEST_F(ReplicatedFenceTest, APausedOldOwnersLateWriteIsRefusedAfterTheLeaderDied) {
  constexpr auto kDuration = 1500ms;
  auto old_kv = storage(nats->urls());
  auto new_kv = storage(nats->urls());
  auto old_leases = leases("p1", kDuration);
  auto new_leases = leases("s1", kDuration);
  ASSERT_TRUE(old_kv && new_kv && old_leases && new_leases);
  ASSERT_TRUE(take(*old_leases, *old_kv, kUnit));
  ASSERT_TRUE(
      old_kv->set_if(kUnit, "balance", bytes("1"), quota, owner_permit(*old_leases, kUnit)));
  const int leader = nats->leader_of(kStorageStream, 5s);
  ASSERT_GE(leader, 0);
  const std::uint64_t old_token = old_leases->token(kUnit);

  int asked = 0;
  std::uint64_t new_token = 0;
  const Permit frozen{[&]() -> Status {
                        if (++asked == 1) {
                          nats->server(leader).kill();
                          new_leases->observe(kUnit);
                          std::this_thread::sleep_for(kDuration + 100ms);
                          EXPECT_TRUE(take(*new_leases, *new_kv, kUnit)) << "no takeover";
                          new_token = new_leases->token(kUnit);
                        }
                        return ok();  // the old owner's own check says yes whatever happened
                      },
                      old_token};
  const Status late = old_kv->set_if(kUnit, "balance", bytes("2"), quota, frozen);
  ASSERT_EQ(asked, 1) << "the write left once, after the check";
  ASSERT_GT(new_token, old_token) << "the fencing token grows";
  ASSERT_FALSE(late) << "the old owner's late write landed";
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(late.error().message.find("fenced by lease token " + std::to_string(new_token)),
            std::string::npos)
      << late.error().message;
  const int next = nats->leader_of(kStorageStream, kElection, leader);
  ASSERT_GE(next, 0) << "no new leader";
  EXPECT_NE(next, leader);
  // Both hosts' connections are on a live server (whichever they were on before).
  for (const auto* kv : {old_kv.get(), new_kv.get()}) {
    const int on = nats->index_of_url(kv->connected_url());
    EXPECT_GE(on, 0) << kv->connected_url();
    EXPECT_NE(on, leader) << "still on the dead server";
  }
  auto value = new_kv->get(kUnit, "balance");
  ASSERT_TRUE(value) << value.error().describe();
  EXPECT_EQ(text(*value), "1") << "the refused write is not stored";

  // The new owner writes; the old owner, awake, loses its lease and is refused before sending.
  EXPECT_TRUE(new_leases->renew().empty());  // the failover loop renews every D/4
  const Status s1_write =
      new_kv->set_if(kUnit, "balance", bytes("s1"), quota, owner_permit(*new_leases, kUnit));
  ASSERT_TRUE(s1_write) << s1_write.error().describe();
  EXPECT_EQ(old_leases->renew(), std::vector<std::string>{kUnit});
  EXPECT_FALSE(
      old_kv->set_if(kUnit, "balance", bytes("p1"), quota, {[] { return ok(); }, old_token}))
      << "a write under the old token, not paused at all, landed";

  // The dead server returns and catches up; then the current leader dies too.
  ASSERT_TRUE(nats->server(leader).start());
  ASSERT_TRUE(nats->current_in(kStorageStream, leader, kElection)) << "never caught up";
  nats->server(next).kill();
  std::optional<Bytes> after;
  EXPECT_TRUE(eventually(kElection, [&] {
    auto got = new_kv->get(kUnit, "balance");
    if (got) after = *got;
    return static_cast<bool>(got);
  }));
  EXPECT_EQ(text(after), "s1") << "an acknowledged write was lost with two leaders";
}

// Hosts on all three servers want the same free lease at once, again and again, and once while
// the server leading the lease stream dies: each time exactly one of them wins it, and every
// winner's token is new (a revision of the replicated stream, never handed out twice).
TEST_F(ReplicatedFenceTest, ALeaseIsWonByExactlyOneHostWhileTheLeaderDies) {
  // Long enough that no holder's lease lapses within a round (nobody renews here); a host whose
  // create was written but not acknowledged (the leader died in between) sees its own entry and
  // waits it out like anyone else, then one of them takes it.
  constexpr auto kDuration = 8s;
  std::vector<std::unique_ptr<LeaseKeeper>> hosts;
  for (const char* name : {"a", "b", "c"}) hosts.push_back(leases(name, kDuration));
  for (const auto& h : hosts) ASSERT_NE(h, nullptr);
  const int leader = nats->leader_of(kLeaseStream, 5s);
  ASSERT_GE(leader, 0);

  std::set<std::uint64_t> tokens;
  constexpr int kRounds = 8;
  constexpr int kKillRound = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string unit = "bank/unit" + std::to_string(round);
    std::atomic<bool> go{false};
    std::atomic<bool> taken{false};
    std::mutex mutex;
    std::vector<std::string> winners;
    std::vector<std::thread> threads;
    threads.reserve(hosts.size());
    for (std::size_t h = 0; h < hosts.size(); ++h) {
      threads.emplace_back([&, h] {
        while (!go.load()) std::this_thread::yield();
        const auto deadline = Clock::now() + kElection + kDuration * 2;
        // Each host tries until somebody holds the lease (errors while there is no leader).
        while (!taken.load() && Clock::now() < deadline) {
          auto a = hosts[h]->try_acquire(unit);
          if (a && *a == LeaseAttempt::kAcquired) {
            const std::lock_guard lock(mutex);
            winners.emplace_back(1, static_cast<char>('a' + h));
            taken.store(true);
          }
          std::this_thread::sleep_for(20ms);
        }
      });
    }
    go.store(true);
    if (round == kKillRound) nats->server(leader).kill();
    for (auto& t : threads) t.join();
    ASSERT_EQ(winners.size(), 1U) << unit << ": winners " << ::testing::PrintToString(winners);
    int holders = 0;
    for (const auto& h : hosts) {
      if (!h->holds(unit)) continue;
      ++holders;
      EXPECT_TRUE(tokens.insert(h->token(unit)).second) << "token " << h->token(unit) << " twice";
      EXPECT_TRUE(h->window(unit)->is_open());
    }
    EXPECT_EQ(holders, 1) << unit;
    // The losers see the winner as the holder (once they can read: errors right after the kill).
    for (const auto& h : hosts) {
      if (h->holds(unit)) continue;
      Result<LeaseAttempt> again = make_error(ErrorCode::kUnavailable, "not asked yet");
      EXPECT_TRUE(
          eventually(kElection, [&] { return static_cast<bool>(again = h->try_acquire(unit)); }));
      EXPECT_TRUE(again && *again == LeaseAttempt::kHeld) << unit;
    }
  }
  EXPECT_GE(nats->leader_of(kLeaseStream, kElection, leader), 0) << "no new leader";
}

// One owner writes without pause (a new key each time, and a counter by read-modify-write) and
// renews its lease; the server leading the storage stream is SIGKILLed in the middle. Every
// write that was acknowledged is stored with its value, the counter holds every acknowledged
// increment and none it was not asked for, and writes go on through the remaining servers.
TEST_F(ReplicatedFenceTest, KillingTheStorageLeaderLosesNoAcknowledgedWrite) {
  constexpr auto kDuration = 3s;
  auto kv = storage(nats->urls());
  auto keeper = leases("p1", kDuration);
  ASSERT_TRUE(kv && keeper);
  ASSERT_TRUE(take(*keeper, *kv, kUnit));
  const int leader = nats->leader_of(kStorageStream, 5s);
  ASSERT_GE(leader, 0);

  std::atomic<bool> stop{false};
  std::atomic<bool> killed{false};
  std::map<std::string, std::string> acked;  // key -> value, written by the writer thread only
  int acked_increments = 0;
  int unsure_increments = 0;
  std::atomic<int> acked_after_kill{0};
  std::thread renewer([&] {
    while (!stop.load()) {
      static_cast<void>(keeper->renew());
      std::this_thread::sleep_for(kDuration / 8);
    }
  });
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = "w" + std::to_string(i);
      const std::string value = std::to_string(keeper->token(kUnit)) + ":" + std::to_string(i);
      const bool after_kill = killed.load();
      if (kv->set_if(kUnit, key, bytes(value), quota, owner_permit(*keeper, kUnit))) {
        acked[key] = value;
        if (after_kill) ++acked_after_kill;
      }
      auto counted = kv->update_if(
          kUnit, "count",
          [](const std::optional<Bytes>& old) -> Result<Bytes> {
            const int n = old ? std::stoi(std::string(old->begin(), old->end())) : 0;
            return bytes(std::to_string(n + 1));
          },
          quota, owner_permit(*keeper, kUnit));
      // A failed update may still have been stored (its acknowledgement lost with the leader).
      ++(counted ? acked_increments : unsure_increments);
      if (!counted) std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(1500ms);
  nats->server(leader).kill();
  killed.store(true);
  const auto killed_at = Clock::now();
  // Writes resume through the remaining servers once they have a new leader.
  while (Clock::now() - killed_at < kElection + 10s) {
    std::this_thread::sleep_for(200ms);
    if (acked_after_kill.load() > 20) break;
  }
  stop.store(true);
  writer.join();
  renewer.join();
  EXPECT_GT(acked_after_kill, 0) << "no write was acknowledged after the leader died";
  EXPECT_GE(nats->leader_of(kStorageStream, kElection, leader), 0);
  EXPECT_NE(nats->index_of_url(kv->connected_url()), leader) << kv->connected_url();

  // Read back through a fresh connection to the two remaining servers.
  std::string remaining;
  for (int i = 0; i < NatsCluster::kSize; ++i) {
    if (i != leader) remaining += (remaining.empty() ? "" : ",") + nats->server(i).url();
  }
  // Opening a bucket asks the JetStream meta leader, which may have died too and be elected
  // again only now.
  std::unique_ptr<NatsKvBackend> reader;
  ASSERT_TRUE(eventually(kElection, [&] {
    NatsKvBackend::Options o;
    o.url = remaining;
    auto opened = NatsKvBackend::connect(o);
    if (opened) reader = std::move(*opened);
    return static_cast<bool>(opened);
  })) << "no storage connection through the remaining servers";
  int missing = 0;
  for (const auto& [key, value] : acked) {
    auto got = reader->get(kUnit, key);
    ASSERT_TRUE(got) << got.error().describe();
    if (text(*got) != value) {
      ++missing;
      ADD_FAILURE() << key << ": acknowledged " << value << ", stored " << text(*got);
    }
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged writes";
  auto count = reader->get(kUnit, "count");
  ASSERT_TRUE(count && *count) << "no counter";
  const int stored = std::stoi(text(*count));
  EXPECT_GE(stored, acked_increments) << "acknowledged increments lost";
  EXPECT_LE(stored, acked_increments + unsure_increments) << "increments nobody made";
  RecordProperty("acked_writes", static_cast<int>(acked.size()));
  RecordProperty("acked_after_kill", acked_after_kill.load());
  std::printf(
      "acknowledged writes %zu (%d after the kill of n%d), increments %d acked + %d unsure, "
      "counter %d\n",
      acked.size(), acked_after_kill.load(), leader + 1, acked_increments, unsure_increments,
      stored);
}

}  // namespace
}  // namespace capsule::cluster::testing

// On-demand components (virtual actors) across hosts, with a real nats-server: a name is served
// by one host, the rendezvous choice among the live hosts that load its component; messages sent
// on any host reach that one activation; names move when a host leaves or joins, their state
// coming back from storage the hosts share (one SQLite file here, JetStream KV in production).
// With name claims (VirtualActorsWithClaims), one activation per name even where the hosts'
// views disagree.
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include <capsule/cluster/name_leases.hpp>
#include <capsule/cluster/name_placement.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

#include "cluster_fixture.hpp"

namespace capsule::cluster::testing {
namespace {

using namespace std::chrono_literals;

TEST(NamePlacement, OwnerIsOneOfTheHostsWhateverTheirOrder) {
  const ComponentId id{"shop", "cart", "alice"};
  EXPECT_EQ(choose_owner({}, id), "");
  EXPECT_EQ(choose_owner({"a"}, id), "a");
  const std::string owner = choose_owner({"a", "b", "c"}, id);
  EXPECT_TRUE(owner == "a" || owner == "b" || owner == "c");
  EXPECT_EQ(choose_owner({"c", "a", "b"}, id), owner);
  EXPECT_EQ(choose_owner({"b", "c", "a"}, id), owner);
}

TEST(NamePlacement, OnlyTheNamesOfAHostThatLeavesOrJoinsMove) {
  std::map<std::string, int> per_host;
  int moved_on_leave = 0, moved_on_join = 0;
  for (int i = 0; i < 3000; ++i) {
    const ComponentId id{"shop", "cart", "user-" + std::to_string(i)};
    const std::string three = choose_owner({"a", "b", "c"}, id);
    ++per_host[three];
    const std::string two = choose_owner({"a", "b"}, id);
    // c leaves: its names spread over a and b, the others stay where they were.
    if (three != "c") {
      EXPECT_EQ(two, three) << id.to_string();
    }
    if (two != three) ++moved_on_leave;
    const std::string four = choose_owner({"a", "b", "c", "d"}, id);
    // d joins: a name moves only to d.
    if (four != three) {
      EXPECT_EQ(four, "d") << id.to_string();
      ++moved_on_join;
    }
  }
  EXPECT_EQ(moved_on_leave, per_host["c"]);
  // Spread: each of three hosts gets a fair share of 3000 names (the hash is fixed, so this
  // is exact for these names, not a statistical gate).
  for (const auto& [host, count] : per_host) EXPECT_GT(count, 800) << host;
  EXPECT_GT(moved_on_join, 500);
  EXPECT_LT(moved_on_join, 1000);
}

TEST(NamePlacement, HeartbeatsSayWhichHostsLoadAnOnDemandComponent) {
  Heartbeat h{"beta", 7, 100, false, {}, {}, {"shop/cart"}};
  auto d = decode_heartbeat(encode(h));
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(d->on_demand, h.on_demand);
  HostDirectory dir(std::chrono::milliseconds(300));
  const auto t0 = HostDirectory::Clock::now();
  EXPECT_TRUE(dir.observe(*d, t0));
  EXPECT_TRUE(dir.observe({"gamma", 1, 100, false, {}, {}, {}}, t0));
  const auto generation = dir.generation();
  ASSERT_EQ(dir.loading("shop/cart").size(), 1U);
  EXPECT_EQ(dir.loading("shop/cart").front().name, "beta");
  // gamma starts loading it: placement inputs changed.
  dir.observe({"gamma", 2, 100, false, {}, {}, {"shop/cart"}}, t0 + std::chrono::milliseconds(50));
  EXPECT_GT(dir.generation(), generation);
  EXPECT_EQ(dir.loading("shop/cart").size(), 2U);
  // beta goes silent: it no longer counts.
  dir.expire(t0 + std::chrono::milliseconds(320));
  ASSERT_EQ(dir.loading("shop/cart").size(), 1U);
  EXPECT_EQ(dir.loading("shop/cart").front().name, "gamma");
}

class VirtualActorsAcrossHosts : public ClusterFixture {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server.running());
    dir = std::filesystem::temp_directory_path() /
          ("capsule_va_cluster_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto sqlite = storage::SqliteKvBackend::open(dir / "kv.db");
    ASSERT_TRUE(sqlite) << sqlite.error().describe();
    shared = std::shared_ptr<storage::KvBackend>(std::move(*sqlite));
    a = make_host("alpha");
    b = make_host("beta");
  }
  void TearDown() override {
    a.reset();
    b.reset();
    shared.reset();
    std::filesystem::remove_all(dir);
  }

  std::unique_ptr<Host> make_host(const std::string& name) {
    return std::make_unique<Host>(name, server.url(), engine_, "", "", nullptr, 2s, shared);
  }

  static void start_cart(Host& h) {
    ComponentSpec spec;
    spec.ns = "shop";
    spec.name = "cart";
    auto c =
        h.runtime->engine().load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "cart.wasm");
    ASSERT_TRUE(c) << c.error().describe();
    spec.component = *c;
    spec.on_demand = component::OnDemandActivation{60s, 100};
    ASSERT_TRUE(h.runtime->start(spec));
  }

  static ComponentId cart(int i) { return {"shop", "cart", "user-" + std::to_string(i)}; }

  // Until the hosts given agree on every name's owner, and each of them owns some.
  static bool agree(const std::vector<Host*>& hosts, int names = 40) {
    return eventually([&] {
      std::set<std::string> owners;
      for (int i = 0; i < names; ++i) {
        const std::string owner = hosts.front()->bridge->name_owner(cart(i));
        for (auto* h : hosts) {
          if (h->bridge->name_owner(cart(i)) != owner) return false;
        }
        owners.insert(owner);
      }
      return owners.size() == hosts.size();
    });
  }

  static std::string call(Host& h, const ComponentId& to, std::string_view text) {
    auto r = h.runtime->call(to, Payload::text(std::string(text)), 5s);
    EXPECT_TRUE(r) << "on " << h.bridge->host() << " " << to.to_string() << " " << text << ": "
                   << r.error().describe();
    return r ? r->as_string() : "";
  }

  static component::ActivationStats stats(Host& h) {
    auto all = h.runtime->activation_stats();
    return all.empty() ? component::ActivationStats{} : all.front();
  }

  std::filesystem::path dir;
  std::shared_ptr<storage::KvBackend> shared;
};

TEST_F(VirtualActorsAcrossHosts, NamesSentFromEitherHostHaveOneActivation) {
  start_cart(*a);
  start_cart(*b);
  ASSERT_TRUE(agree({a.get(), b.get()}));
  constexpr int kNames = 40, kAdds = 5;
  for (int round = 1; round <= kAdds; ++round) {
    for (int i = 0; i < kNames; ++i) {
      // Alternate the sending host: each name hears from both.
      Host& from = (i + round) % 2 == 0 ? *a : *b;
      EXPECT_EQ(call(from, cart(i), "add:r" + std::to_string(round)), std::to_string(round));
    }
  }
  // Confirmed sends too (host code waits for the acknowledgement): from the host that does not
  // own the name, so each goes across.
  for (int i = 0; i < kNames; ++i) {
    Host& other = a->bridge->name_owner(cart(i)) == "alpha" ? *b : *a;
    ASSERT_TRUE(other.runtime->send(ComponentRuntime::privileged_caller(), cart(i),
                                    Payload::text("add:s")));
  }
  for (int i = 0; i < kNames; ++i) {
    EXPECT_EQ(call(i % 2 == 0 ? *a : *b, cart(i), "count"), std::to_string(kAdds + 1));
  }
  // One activation per name, on its owner; both hosts own some.
  const auto sa = stats(*a), sb = stats(*b);
  EXPECT_EQ(sa.activations + sb.activations, static_cast<std::uint64_t>(kNames));
  EXPECT_GT(sa.active, 0U);
  EXPECT_GT(sb.active, 0U);
  for (const auto& info : a->runtime->list()) {
    if (info.id.ns == "shop") {
      EXPECT_EQ(a->bridge->name_owner(info.id), "alpha");
    }
  }
}

TEST_F(VirtualActorsAcrossHosts, NamesOfAHostThatLeavesMoveWithTheirState) {
  start_cart(*a);
  start_cart(*b);
  ASSERT_TRUE(agree({a.get(), b.get()}));
  constexpr int kNames = 30;
  for (int i = 0; i < kNames; ++i) {
    EXPECT_EQ(call(*a, cart(i), "add:x"), "1");
    EXPECT_EQ(call(*a, cart(i), "add:y"), "2");
  }
  int canary = -1, moving = -1;
  for (int i = 0; i < kNames && (canary < 0 || moving < 0); ++i) {
    (a->bridge->name_owner(cart(i)) == "alpha" ? canary : moving) = i;
  }
  ASSERT_GE(canary, 0);
  ASSERT_GE(moving, 0);
  // beta says goodbye and stops: its names are alpha's now, their items read back by init.
  b.reset();
  EXPECT_EQ(a->bridge->name_owner(cart(moving)), "alpha");
  EXPECT_EQ(call(*a, cart(moving), "info"), "user-" + std::to_string(moving) + " items=2 loaded=2");
  EXPECT_EQ(call(*a, cart(canary), "add:z"), "3");
  for (int i = 0; i < kNames; ++i) EXPECT_EQ(call(*a, cart(i), "add:w"), i == canary ? "4" : "3");
  EXPECT_EQ(stats(*a).active, static_cast<std::size_t>(kNames));
}

TEST_F(VirtualActorsAcrossHosts, NamesMoveToAHostThatJoinsAndTheOldActivationRetires) {
  start_cart(*a);
  constexpr int kNames = 30;
  // beta, which does not load the cart, forwards every name to alpha once it heard alpha loads it.
  ASSERT_TRUE(eventually([&] { return b->bridge->name_owner(cart(0)) == "alpha"; }));
  for (int i = 0; i < kNames; ++i) EXPECT_EQ(call(*b, cart(i), "add:x"), "1");
  EXPECT_EQ(stats(*a).active, static_cast<std::size_t>(kNames));
  start_cart(*b);
  ASSERT_TRUE(agree({a.get(), b.get()}, kNames));
  // alpha retires what is beta's now; beta activates them with their items from storage.
  std::size_t to_beta = 0;
  for (int i = 0; i < kNames; ++i) to_beta += a->bridge->name_owner(cart(i)) == "beta" ? 1 : 0;
  ASSERT_GT(to_beta, 0U);
  ASSERT_TRUE(eventually([&] { return stats(*a).active == kNames - to_beta; }))
      << stats(*a).active << " active on alpha";
  for (int i = 0; i < kNames; ++i) EXPECT_EQ(call(i % 2 == 0 ? *a : *b, cart(i), "add:y"), "2");
  EXPECT_EQ(stats(*b).activations, to_beta);
  EXPECT_EQ(stats(*a).activations, static_cast<std::uint64_t>(kNames));
}

TEST_F(VirtualActorsAcrossHosts, ASendToASilentOwnerIsRefusedThenTheNameMoves) {
  start_cart(*a);
  start_cart(*b);
  ASSERT_TRUE(agree({a.get(), b.get()}));
  int betas = -1;
  for (int i = 0; i < 40 && betas < 0; ++i) {
    if (a->bridge->name_owner(cart(i)) == "beta") betas = i;
  }
  ASSERT_GE(betas, 0);
  EXPECT_EQ(call(*a, cart(betas), "add:x"), "1");
  // beta goes quiet, as a crashed host would: nothing is subscribed for it any more.
  b->bridge->detach(NatsBridge::Farewell::kSilent);
  // Until alpha declares it dead, the name is beta's: a send is refused, not lost quietly.
  const Status sent =
      a->runtime->send(ComponentRuntime::privileged_caller(), cart(betas), Payload::text("add:y"));
  if (a->bridge->name_owner(cart(betas)) == "beta") {
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().code, ErrorCode::kUnavailable) << sent.error().describe();
  }
  // Then alpha serves it, with its item from the shared storage.
  ASSERT_TRUE(eventually([&] { return a->bridge->name_owner(cart(betas)) == "alpha"; }, 10s));
  EXPECT_EQ(call(*a, cart(betas), "count"), sent ? "2" : "1");
}

// The same hosts with name claims (NameLeases, on a nats-server with JetStream of their own):
// one activation per name even where the hosts' views of the cluster disagree.
class VirtualActorsWithClaims : public VirtualActorsAcrossHosts {
 protected:
  void SetUp() override {
    VirtualActorsAcrossHosts::SetUp();  // the shared storage (and hosts without claims: gone)
    a.reset();
    b.reset();
    ASSERT_TRUE(js.running());
  }

  std::unique_ptr<Host> host_with_claims(const std::string& name) {
    LeaseConfig lc;
    lc.url = js.url();
    lc.bucket = lease_bucket("test");
    lc.host = name;
    lc.duration = 300ms;  // the hosts' death timeout (3 heartbeats of 100 ms)
    auto claims = NameLeases::connect(lc);
    EXPECT_TRUE(claims) << claims.error().describe();
    return std::make_unique<Host>(name, js.url(), engine_, "", "", nullptr, 2s, shared, TlsFiles{},
                                  true, claims ? *claims : nullptr);
  }

  NatsServer js{NatsServer::Mode::kJetStream};
};

TEST_F(VirtualActorsWithClaims, EachNameIsActiveOnOneHostAndEveryAddIsCounted) {
  a = host_with_claims("alpha");
  b = host_with_claims("beta");
  start_cart(*a);
  start_cart(*b);
  ASSERT_TRUE(eventually([&] {
    return a->bridge->name_owner(cart(0)) == b->bridge->name_owner(cart(0)) &&
           !a->bridge->name_owner(cart(0)).empty();
  }));
  constexpr int kNames = 30;
  // Wait until the two views agree on every name (one heartbeat or so).
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kNames; ++i) {
      if (a->bridge->name_owner(cart(i)) != b->bridge->name_owner(cart(i))) return false;
    }
    return true;
  }));
  for (int i = 0; i < kNames; ++i) {
    Host& from = i % 2 == 0 ? *a : *b;
    auto r = from.runtime->call(cart(i), Payload::text("add:x"), 5s);
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "1");
  }
  const auto sa = stats(*a), sb = stats(*b);
  EXPECT_EQ(sa.activations + sb.activations, static_cast<std::uint64_t>(kNames));
  EXPECT_EQ(sa.refused_claims + sb.refused_claims, 0U);
  EXPECT_EQ(a->name_leases->stats().claims + b->name_leases->stats().claims,
            static_cast<std::uint64_t>(kNames));
}

// Views that disagree as much as they can: two hosts with no bridge at all, each sure that it
// serves every name, sharing only the storage and the claims. The claims alone keep each name
// active on one host at a time, and a name moves only when the host that had it lets it go.
TEST_F(VirtualActorsWithClaims, HostsThatBothBelieveTheyServeANameNeverActivateItTwice) {
  struct LoneHost {
    LoneHost(const std::string& name, const std::string& url,
             std::shared_ptr<storage::KvBackend> storage) {
      LeaseConfig lc;
      lc.url = url;
      lc.bucket = lease_bucket("lone");
      lc.host = name;
      lc.duration = 300ms;
      auto c = NameLeases::connect(lc);
      EXPECT_TRUE(c) << c.error().describe();
      claims = *c;
      component::RuntimeConfig rc;
      rc.storage = std::move(storage);
      rc.name_claimer = claims;
      runtime = std::make_unique<ComponentRuntime>(system, engine_, rc);
      claims->start([] {}, [] { return true; });
      ComponentSpec spec;
      spec.ns = "shop";
      spec.name = "cart";
      auto cart = engine_->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "cart.wasm");
      EXPECT_TRUE(cart) << cart.error().describe();
      spec.component = *cart;
      spec.on_demand = component::OnDemandActivation{60s, 100};
      EXPECT_TRUE(runtime->start(spec));
    }
    ~LoneHost() {
      runtime.reset();  // its activations stop and give their claims back
      claims->stop();
      system.shutdown();
    }
    LoneHost(const LoneHost&) = delete;
    LoneHost& operator=(const LoneHost&) = delete;
    Result<Payload> call(const ComponentId& to, const std::string& text) const {
      return runtime->call(to, Payload::text(text), 5s);
    }
    std::shared_ptr<NameLeases> claims;
    rt::ActorSystem system;
    std::unique_ptr<ComponentRuntime> runtime;
  };
  auto first = std::make_unique<LoneHost>("one", js.url(), shared);
  LoneHost second("two", js.url(), shared);
  const ComponentId alice{"shop", "cart", "alice"}, bob{"shop", "cart", "bob"};
  auto r = first->call(alice, "add:x");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "1");
  // "two" believes it serves alice too: its activation is refused, naming the host that has it.
  for (int i = 0; i < 3; ++i) {
    auto refused = second.call(alice, "add:y");
    ASSERT_FALSE(refused) << "alice activated on two hosts at once";
    EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(refused.error().message.find("shop/cart/alice"), std::string::npos);
    EXPECT_NE(refused.error().message.find("active on host one"), std::string::npos)
        << refused.error().message;
  }
  // Other names are free for it.
  r = second.call(bob, "add:z");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "1");
  // "one" adds on; then it stops (its activation retires and gives the claim back): alice moves
  // to "two" with both items, read back from the shared storage.
  r = first->call(alice, "add:w");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "2");
  first.reset();
  r = second.call(alice, "count");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "2");
  EXPECT_EQ(second.runtime->activation_stats().front().refused_claims, 3U);
}

}  // namespace
}  // namespace capsule::cluster::testing

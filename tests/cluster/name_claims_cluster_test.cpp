// Virtual actors across two hosts with name claims (NameLeases on a real nats-server with
// JetStream): one activation per name even while the hosts' views of the cluster disagree.
#include <filesystem>
#include <gtest/gtest.h>
#include <thread>
#include <unistd.h>

#include <capsule/storage/sqlite_kv_backend.hpp>

#include "cluster_fixture.hpp"

namespace capsule::cluster::testing {
namespace {

using namespace std::chrono_literals;

class NameClaimsAcrossHosts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = cluster_test_engine();
    ASSERT_NE(engine_, nullptr);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server.running());
    dir = std::filesystem::temp_directory_path() /
          ("capsule_claims_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto sqlite = storage::SqliteKvBackend::open(dir / "kv.db");
    ASSERT_TRUE(sqlite) << sqlite.error().describe();
    shared = std::shared_ptr<storage::KvBackend>(std::move(*sqlite));
  }
  void TearDown() override {
    a.reset();
    b.reset();
    shared.reset();
    std::filesystem::remove_all(dir);
  }

  std::unique_ptr<Host> make_host(const std::string& name) {
    LeaseConfig lc;
    lc.url = server.url();
    lc.bucket = lease_bucket("test");
    lc.host = name;
    lc.duration = 300ms;  // the hosts' death timeout (3 heartbeats of 100 ms)
    auto claims = NameLeases::connect(lc);
    EXPECT_TRUE(claims) << claims.error().describe();
    return std::make_unique<Host>(name, server.url(), engine_, "", "", nullptr, 2s, shared,
                                  TlsFiles{}, claims ? *claims : nullptr);
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
    static_cast<void>(h.bridge->announce());
  }

  static ComponentId cart(int i) { return {"shop", "cart", "user-" + std::to_string(i)}; }

  static component::ActivationStats stats(Host& h) {
    auto all = h.runtime->activation_stats();
    return all.empty() ? component::ActivationStats{} : all.front();
  }

  static std::shared_ptr<wasm::WasmEngine> engine_;
  NatsServer server{NatsServer::Mode::kJetStream};
  std::filesystem::path dir;
  std::shared_ptr<storage::KvBackend> shared;
  std::unique_ptr<Host> a, b;
};

std::shared_ptr<wasm::WasmEngine> NameClaimsAcrossHosts::engine_;

TEST_F(NameClaimsAcrossHosts, EachNameIsActiveOnOneHostAndEveryAddIsCounted) {
  a = make_host("alpha");
  b = make_host("beta");
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
TEST_F(NameClaimsAcrossHosts, HostsThatBothBelieveTheyServeANameNeverActivateItTwice) {
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
  auto first = std::make_unique<LoneHost>("one", server.url(), shared);
  LoneHost second("two", server.url(), shared);
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

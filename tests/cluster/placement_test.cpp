// The failover rules, without a server: who adopts a component when its hosts are gone, and
// when it is given back.
#include <gtest/gtest.h>

#include <capsule/cluster/placement.hpp>

namespace capsule::cluster {
namespace {

HostRecord host(std::string name, std::vector<std::string> groups,
                std::vector<ComponentId> components = {}) {
  HostRecord r;
  r.info.name = std::move(name);
  r.info.groups = std::move(groups);
  r.components = std::move(components);
  return r;
}

const PlacementRule kLedger{"bank", "ledger", {"primary"}, {"standby"}};
const PlacementRule kCache{"bank", "cache", {"primary"}, {}};  // no failover
const PlacementRule kEverywhere{"bank", "echo", {}, {}};
const ComponentId kLedger0{"bank", "ledger", "0"};

TEST(Placement, GroupsDecideWhereAComponentStarts) {
  EXPECT_TRUE(placed_on(kEverywhere, {}));
  EXPECT_TRUE(placed_on(kLedger, {"primary", "x"}));
  EXPECT_FALSE(placed_on(kLedger, {"standby"}));
  EXPECT_FALSE(placed_on(kLedger, {}));
  EXPECT_TRUE(in_any_group({}, {"*"}));
  EXPECT_FALSE(in_any_group({"a"}, {}));
}

TEST(Placement, NothingToDoWhileAHomeHostRunsIt) {
  const FailoverPlanner standby("s1", {"standby"}, {kLedger, kCache});
  const auto plan = standby.plan({host("p1", {"primary"}, {kLedger0})}, {});
  EXPECT_TRUE(plan.adopt.empty());
  EXPECT_TRUE(plan.release.empty());
}

TEST(Placement, LowestNamedStandbyAdoptsWhenNoHostRunsIt) {
  const std::vector<PlacementRule> rules{kLedger, kCache, kEverywhere};
  const FailoverPlanner s1("s1", {"standby"}, rules);
  const FailoverPlanner s2("s2", {"standby"}, rules);
  const FailoverPlanner other("a0", {"batch"}, rules);  // lower name, but not a standby
  const auto view_of_s1 = std::vector<HostRecord>{host("s2", {"standby"}), host("a0", {"batch"})};
  const auto view_of_s2 = std::vector<HostRecord>{host("s1", {"standby"}), host("a0", {"batch"})};
  EXPECT_EQ(s1.plan(view_of_s1, {}).adopt, std::vector<std::string>{"bank/ledger"})
      << "the cache has no failover and echo runs everywhere: only the ledger moves";
  EXPECT_TRUE(s2.plan(view_of_s2, {}).adopt.empty()) << "s1 is lower-named";
  EXPECT_TRUE(other.plan({host("s1", {"standby"}), host("s2", {"standby"})}, {}).adopt.empty());
}

TEST(Placement, WildcardFailoverLetsAnyHostAdopt) {
  const PlacementRule anywhere{"bank", "ledger", {"primary"}, {"*"}};
  const FailoverPlanner b("b", {}, {anywhere});
  EXPECT_EQ(b.plan({host("c", {})}, {}).adopt.size(), 1u);
  EXPECT_TRUE(b.plan({host("a", {"batch"})}, {}).adopt.empty()) << "a is lower and eligible";
}

TEST(Placement, AdopterReleasesWhenAHomeHostIsAliveAgain) {
  // The home host cannot run it while the adopter holds the lease: its being alive is the cue.
  const FailoverPlanner s1("s1", {"standby"}, {kLedger});
  const std::set<std::string> adopted{"bank/ledger"};
  EXPECT_EQ(s1.plan({host("p1", {"primary"})}, adopted).release,
            std::vector<std::string>{"bank/ledger"});
  EXPECT_TRUE(s1.plan({host("s2", {"standby"})}, adopted).release.empty())
      << "a higher-named standby does not take it back";
}

TEST(Placement, NoAdoptionWhileAHomeHostIsAlive) {
  // A home host that does not announce the ledger (it lost its lease, or is waiting for it)
  // takes it back itself; a standby stepping in would only move it twice.
  const FailoverPlanner s1("s1", {"standby"}, {kLedger});
  EXPECT_TRUE(s1.plan({host("p1", {"primary"})}, {}).adopt.empty());
  EXPECT_EQ(s1.plan({host("x9", {"batch"})}, {}).adopt, std::vector<std::string>{"bank/ledger"});
}

TEST(Placement, DoubleAdoptionResolvesToTheLowerName) {
  const FailoverPlanner s2("s2", {"standby"}, {kLedger});
  const FailoverPlanner s1("s1", {"standby"}, {kLedger});
  const std::set<std::string> adopted{"bank/ledger"};
  EXPECT_EQ(s2.plan({host("s1", {"standby"}, {kLedger0})}, adopted).release,
            std::vector<std::string>{"bank/ledger"});
  EXPECT_TRUE(s1.plan({host("s2", {"standby"}, {kLedger0})}, adopted).release.empty());
}

TEST(Placement, HomeHostsNeverAdopt) {
  const FailoverPlanner p2("p2", {"primary", "standby"}, {kLedger});
  EXPECT_TRUE(p2.plan({}, {}).adopt.empty()) << "it runs the ledger from its manifest anyway";
}

}  // namespace
}  // namespace capsule::cluster

#pragma once

#include <set>
#include <string>
#include <vector>

#include <capsule/cluster/host_directory.hpp>

namespace capsule::cluster {

// Where a component of a manifest may run ([component.placement]).
struct PlacementRule {
  std::string ns;
  std::string name;
  std::vector<std::string> groups;    // hosts in any of these run it; empty: every host
  std::vector<std::string> failover;  // may adopt it when no live host runs it; "*": any host
  [[nodiscard]] std::string key() const { return ns + "/" + name; }
};

// True when the host's groups meet `wanted` ("*" in `wanted` matches every host).
[[nodiscard]] bool in_any_group(const std::vector<std::string>& host_groups,
                                const std::vector<std::string>& wanted);
// True when a host with these groups runs the component from the start.
[[nodiscard]] bool placed_on(const PlacementRule& rule,
                             const std::vector<std::string>& host_groups);

struct FailoverPlan {
  std::vector<std::string> adopt;    // "ns/name" to start here now
  std::vector<std::string> release;  // "ns/name" adopted earlier, to stop here now
};

// Decides, from this host's view of the cluster, which failover components it adopts or gives
// back. There is no leader: every host runs the same rules on (nearly) the same view, and the
// rules name one adopter, the lowest-named live host of a failover group. Should two views
// differ for a moment and two hosts adopt, the next plan makes the higher-named one release.
// A live home host (one of the component's own groups) takes it: a standby neither adopts it
// nor keeps it while one is alive. Plans only propose: the unit's lease decides (FailoverLoop).
// Pure: no clock, no NATS, so the rules are tested directly.
class FailoverPlanner {
 public:
  FailoverPlanner(std::string self, std::vector<std::string> self_groups,
                  std::vector<PlacementRule> rules);

  // `others`: the other live hosts; `adopted`: what this host adopted and still runs.
  [[nodiscard]] FailoverPlan plan(const std::vector<HostRecord>& others,
                                  const std::set<std::string>& adopted) const;
  [[nodiscard]] bool placed_here(const PlacementRule& rule) const;
  [[nodiscard]] const std::vector<PlacementRule>& rules() const { return rules_; }

 private:
  std::string self_;
  std::vector<std::string> self_groups_;
  std::vector<PlacementRule> rules_;
};

}  // namespace capsule::cluster

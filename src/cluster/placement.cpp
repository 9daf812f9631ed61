#include <algorithm>

#include <capsule/cluster/placement.hpp>

namespace capsule::cluster {
namespace {

bool runs(const HostRecord& host, const PlacementRule& rule) {
  return std::any_of(host.components.begin(), host.components.end(), [&](const ComponentId& id) {
    return id.ns == rule.ns && id.name == rule.name;
  });
}

}  // namespace

bool in_any_group(const std::vector<std::string>& host_groups,
                  const std::vector<std::string>& wanted) {
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
    return w == "*" || std::find(host_groups.begin(), host_groups.end(), w) != host_groups.end();
  });
}

bool placed_on(const PlacementRule& rule, const std::vector<std::string>& host_groups) {
  return rule.groups.empty() || in_any_group(host_groups, rule.groups);
}

FailoverPlanner::FailoverPlanner(std::string self, std::vector<std::string> self_groups,
                                 std::vector<PlacementRule> rules)
    : self_(std::move(self)), self_groups_(std::move(self_groups)), rules_(std::move(rules)) {}

bool FailoverPlanner::placed_here(const PlacementRule& rule) const {
  return placed_on(rule, self_groups_);
}

FailoverPlan FailoverPlanner::plan(const std::vector<HostRecord>& others,
                                   const std::set<std::string>& adopted) const {
  FailoverPlan plan;
  for (const auto& rule : rules_) {
    if (rule.failover.empty() || placed_here(rule)) continue;
    const std::string key = rule.key();
    bool home_alive = false;  // a live host of the component's own groups (it takes the lease)
    bool lower_runs = false;  // a lower-named host runs it (adopter or home)
    bool anyone_runs = false;
    bool lower_eligible = false;  // a lower-named host could adopt it
    for (const auto& host : others) {
      const bool running = runs(host, rule);
      anyone_runs = anyone_runs || running;
      home_alive = home_alive || placed_on(rule, host.info.groups);
      lower_runs = lower_runs || (running && host.info.name < self_);
      lower_eligible = lower_eligible ||
                       (host.info.name < self_ && in_any_group(host.info.groups, rule.failover));
    }
    if (adopted.contains(key)) {
      if (home_alive || lower_runs) plan.release.push_back(key);
    } else if (!anyone_runs && !home_alive && !lower_eligible &&
               in_any_group(self_groups_, rule.failover)) {
      plan.adopt.push_back(key);
    }
  }
  return plan;
}

}  // namespace capsule::cluster

#include "admin_views.hpp"

#include <array>
#include <chrono>
#include <set>

namespace capsule::daemon {
namespace {

using nlohmann::json;

const char* strategy_name(rt::RestartStrategy s) {
  switch (s) {
    case rt::RestartStrategy::kOneForOne:
      return "one-for-one";
    case rt::RestartStrategy::kOneForAll:
      return "one-for-all";
    case rt::RestartStrategy::kRestForOne:
      return "rest-for-one";
  }
  return "?";
}

json supervisor_json(const std::string& name, const rt::SupervisorConfig& config) {
  return json{{"name", name},
              {"strategy", strategy_name(config.strategy)},
              {"max_restarts", config.max_restarts},
              {"window_ms", config.window.count()},
              {"members", json::array()}};
}

}  // namespace

json ps_view(component::ComponentRuntime& runtime, const OperatorRestarts& operator_restarts) {
  json out = json::array();
  for (const auto& r : runtime.registry().records()) {
    const auto stats = r.ref.mailbox_stats();
    const auto starts = r.counters ? r.counters->starts.load() : 0;
    const auto by_operator = operator_restarts.find(r.id.ns + "/" + r.id.name);
    out.push_back(
        json{{"id", r.id.to_string()},
             {"component", r.component ? r.component->name() : ""},
             {"group", runtime.group_of(r.id.ns, r.id.name).value_or("")},
             // A stopped component leaves the registry: one still listed whose actor
             // ended was given up on by its supervisor.
             {"state", r.ref.alive() ? "running" : "failed"},
             {"restarts", starts > 0 ? starts - 1 : 0},
             {"operator_restarts",
              by_operator == operator_restarts.end() ? std::uint64_t{0} : by_operator->second},
             {"mailbox_depth", stats.depth()},
             {"processed", stats.processed},
             {"calls", r.counters ? r.counters->calls.load() : 0},
             {"fuel_consumed", r.counters ? r.counters->fuel_consumed.load() : 0},
             {"memory_limit", r.limits.memory_bytes}});
  }
  // On-demand components: a summary each (their active names come and go by the thousand).
  json on_demand = json::array();
  for (const auto& a : runtime.activation_stats()) {
    on_demand.push_back(json{{"component", a.component},
                             {"active", a.active},
                             {"waiting", a.waiting},
                             {"activations", a.activations},
                             {"deactivations", a.deactivations},
                             {"idle_retirements", a.idle_retirements},
                             {"evictions", a.evictions},
                             {"failed_activations", a.failed_activations},
                             {"refused_claims", a.refused_claims},
                             {"fenced_writes", a.fenced_writes}});
  }
  return json{{"ok", true}, {"instances", out}, {"on_demand", on_demand}};
}

json routes_view(const HttpTriggerSnapshot& http) {
  static constexpr std::array<const char*, 5> kClasses{"1xx", "2xx", "3xx", "4xx", "5xx"};
  json out = json::array();
  for (const auto& r : http.routes) {
    if (!r.pool) continue;
    json requests = json::object();
    for (std::size_t i = 0; i < kClasses.size(); ++i) requests[kClasses[i]] = r.by_class[i];
    out.push_back(json{{"route", r.route},
                       {"wasm", r.component},
                       {"name", r.pool->name},
                       {"size", r.pool->size},
                       {"reuse", r.pool->reuse},
                       {"idle", r.pool->idle},
                       {"busy", r.pool->busy},
                       {"queued", r.pool->queued},
                       {"instantiated", r.pool->instantiated},
                       {"failed", r.pool->failed},
                       {"restarts", r.pool->restarts},
                       {"state", r.pool->gave_up.empty() ? "running" : "failed"},
                       {"gave_up", r.pool->gave_up},
                       {"requests", requests}});
  }
  return out;
}

json hosts_view(const manifest::HostSection& host, component::ComponentRuntime& runtime,
                const FailoverLoop* failover, const cluster::NatsBridge* bridge) {
  json self{{"name", host.name},
            {"groups", host.groups},
            {"self", true},
            {"components", runtime.registry().records().size()},
            {"last_seen_ms", 0}};
  self["adopted"] = failover != nullptr ? failover->adopted() : std::set<std::string>{};
  json out = json::array({self});
  if (bridge != nullptr) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& h : bridge->hosts()) {
      out.push_back(
          json{{"name", h.name},
               {"groups", h.groups},
               {"self", false},
               {"components", h.components},
               {"last_seen_ms",
                std::chrono::duration_cast<std::chrono::milliseconds>(now - h.last_seen).count()}});
    }
  }
  return json{{"ok", true},
              {"cluster", bridge != nullptr ? host.cluster : ""},
              {"connected", bridge != nullptr && bridge->connected()},
              {"hosts", out}};
}

json supervision_view(const manifest::Manifest& manifest, component::ComponentRuntime& runtime) {
  // Instances by component, as the registry has them now.
  std::map<std::string, json> instances;
  for (const auto& r : runtime.registry().records()) {
    auto& list = instances[r.id.ns + "/" + r.id.name];
    if (list.is_null()) list = json::array();
    list.push_back(r.id.to_string());
  }
  json tree = json::array();
  std::map<std::string, std::size_t> by_name;  // supervisor name -> index in `tree`
  for (const auto& c : manifest.components) {
    const std::string key = c.ns + "/" + c.name;
    const auto running = instances.find(key);
    if (running == instances.end()) continue;  // placed elsewhere, stopped, or on-demand idle
    const manifest::GroupEntry* group = manifest.group_of(c);
    const std::string name = group != nullptr ? group->name : key;
    auto [it, added] = by_name.emplace(name, tree.size());
    if (added) tree.push_back(supervisor_json(name, group ? group->supervision : c.supervision));
    tree[it->second]["members"].push_back(json{{"component", key}, {"instances", running->second}});
  }
  return tree;
}

json dashboard_view(const manifest::Manifest& manifest, component::ComponentRuntime& runtime,
                    const FailoverLoop* failover, const cluster::NatsBridge* bridge,
                    const RuntimeCounters& counters, const OperatorRestarts& operator_restarts,
                    const std::vector<std::string>& components) {
  json ps = ps_view(runtime, operator_restarts);
  const auto requests = runtime.correlation_stats();
  std::uint64_t dead_letters = 0;
  for (const auto& d : counters.dead_letters) dead_letters += d.load();
  return json{{"ts_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()},
              {"host", manifest.host.name},
              {"hosts", hosts_view(manifest.host, runtime, failover, bridge)},
              {"components", components},
              {"instances", std::move(ps["instances"])},
              {"on_demand", std::move(ps["on_demand"])},
              {"supervision", supervision_view(manifest, runtime)},
              {"requests",
               {{"started", requests.started},
                {"replied", requests.replied},
                {"timed_out", requests.timed_out},
                {"failed", requests.failed},
                {"pending", requests.pending}}},
              {"failed_messages", runtime.failed_messages()},
              {"instance_failures", counters.failures.load()},
              {"supervisors_gave_up", counters.gave_up.load()},
              {"dead_letters", dead_letters}};
}

}  // namespace capsule::daemon

#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/component/component_runtime.hpp>

#include "failover.hpp"
#include "http_trigger_metrics.hpp"
#include "manifest/manifest.hpp"
#include "runtime_counters.hpp"

namespace capsule::daemon {

// What the daemon shows of itself, as JSON: built once here for GET /v1/ps, GET /v1/hosts and
// the dashboard's snapshots (GET /v1/dashboard, /v1/events), so that they never disagree.

// Operator restarts (POST /v1/restart) by component "ns/name": a restart starts new instances
// whose own counters begin at 0, so the daemon counts them.
using OperatorRestarts = std::map<std::string, std::uint64_t>;

// {"ok":true,"instances":[...],"on_demand":[...]}: each instance with its state, restarts (by
// its supervisor; "operator_restarts" of its component besides), mailbox depth, messages
// processed, calls and fuel consumed.
[[nodiscard]] nlohmann::json ps_view(component::ComponentRuntime& runtime,
                                     const OperatorRestarts& operator_restarts);

// The wasi:http/proxy routes of the HTTP trigger (none without one), for GET /v1/ps "routes":
// each with its prefix, file, instances' name, pool (size, reuse, idle, busy, queued,
// instantiated, failed) and requests answered by status class.
[[nodiscard]] nlohmann::json routes_view(const HttpTriggerSnapshot& http);

// {"ok":true,"cluster":...,"connected":...,"hosts":[this host, then the peers it sees]}.
// `failover` and `bridge` may be null (no failover units, not in a cluster).
[[nodiscard]] nlohmann::json hosts_view(const manifest::HostSection& host,
                                        component::ComponentRuntime& runtime,
                                        const FailoverLoop* failover,
                                        const cluster::NatsBridge* bridge);

// The supervision tree of this host: one supervisor per component or [[group]] running here
// ({"name","strategy","max_restarts","window_ms","members":[{"component","instances":[ids]}]}).
[[nodiscard]] nlohmann::json supervision_view(const manifest::Manifest& manifest,
                                              component::ComponentRuntime& runtime);

// One dashboard snapshot: "ts_ms", "host", "hosts" (hosts_view), "components" (each one this
// host started, "ns/name", running or not: a stopped one can be restarted from the page),
// "instances" and "on_demand" (ps_view), "supervision", "requests" (started, replied, timed_out,
// failed, pending), and the runtime's failure counters.
[[nodiscard]] nlohmann::json dashboard_view(const manifest::Manifest& manifest,
                                            component::ComponentRuntime& runtime,
                                            const FailoverLoop* failover,
                                            const cluster::NatsBridge* bridge,
                                            const RuntimeCounters& counters,
                                            const OperatorRestarts& operator_restarts,
                                            const std::vector<std::string>& components);

}  // namespace capsule::daemon

#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/component/component_runtime.hpp>
#include <capsule/wasm/engine.hpp>

#include "http_trigger_metrics.hpp"
#include "runtime_counters.hpp"

namespace capsule::daemon {

// What one scrape of GET /metrics reports, gathered by the daemon; rendering it is a separate
// step so that the exposition format lives in one place (see docs/cli.md "Metrics").
struct MetricsSnapshot {
  std::vector<component::ComponentRecord> instances;
  std::vector<component::ActivationStats> activations;
  component::CorrelationStats requests;
  component::LatencyHistogram latency;
  std::uint64_t failed_messages = 0;
  std::size_t actors = 0;
  wasm::EngineStats engine;
  // What an instance whose own memory limit is 0 ("the engine's default") is held to.
  std::uint64_t default_memory_limit_bytes = 0;
  // Only with --cluster: a host outside a cluster has no such series at all.
  struct Cluster {
    cluster::BridgeStats stats;
    bool connected = false;
    std::size_t peer_hosts = 0;
  };
  std::optional<Cluster> cluster;
  // Only with an [http] table: a host without the trigger has no capsule_http_* series.
  std::optional<HttpTriggerSnapshot> http;
};

// The Prometheus text exposition format (0.0.4) of `snapshot` and `counters`: one HELP and TYPE
// per family, counters named *_total, units in names. Per-instance series carry
// component="ns/name" and component_instance="ns/name/instance", never `instance`, which is the
// label Prometheus itself gives every scraped target.
[[nodiscard]] std::string render_metrics(const MetricsSnapshot& snapshot,
                                         const RuntimeCounters& counters);

}  // namespace capsule::daemon

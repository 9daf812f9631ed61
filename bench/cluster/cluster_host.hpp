#pragma once
// One cluster host inside a bench process: its actor system, its NATS connection and a runtime
// attached to it, torn down in the order they depend on each other. The benches run two or more
// of them over one nats-server (the tests' gtest-based fixture is
// tests/cluster/cluster_fixture.hpp).
#include <chrono>
#include <memory>
#include <string>

#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/component/component_runtime.hpp>

namespace capsule::bench {

struct ClusterHost {
  // `name` in cluster `cluster` at `url`, heartbeats every 200 ms unless `bridge` says otherwise
  // (a caller adjusts it before passing); `runtime` gets the bridge as its remote router.
  static cluster::BridgeConfig bridge_config(const std::string& name, const std::string& url,
                                             const std::string& cluster = "bench") {
    cluster::BridgeConfig config;
    config.url = url;
    config.cluster = cluster;
    config.host = name;
    config.heartbeat_interval = std::chrono::milliseconds(200);
    return config;
  }

  ClusterHost(const cluster::BridgeConfig& bridge_config, std::shared_ptr<wasm::WasmEngine> engine,
              component::RuntimeConfig runtime_config = {})
      : bridge(*cluster::NatsBridge::connect(bridge_config)) {
    runtime_config.remote = bridge;
    runtime =
        std::make_unique<component::ComponentRuntime>(system, std::move(engine), runtime_config);
    attachment = *bridge->attach(*runtime);
  }
  ~ClusterHost() {
    attachment = cluster::Attachment{};
    runtime.reset();
    system.shutdown();
  }
  ClusterHost(const ClusterHost&) = delete;
  ClusterHost& operator=(const ClusterHost&) = delete;
  ClusterHost(ClusterHost&&) = delete;
  ClusterHost& operator=(ClusterHost&&) = delete;

  rt::ActorSystem system;
  std::shared_ptr<cluster::NatsBridge> bridge;
  std::unique_ptr<component::ComponentRuntime> runtime;
  cluster::Attachment attachment;
};

}  // namespace capsule::bench

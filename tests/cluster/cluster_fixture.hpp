#pragma once

#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <optional>

#include <capsule/cluster/name_leases.hpp>
#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/component/component_runtime.hpp>

#include "../component/runtime_fixture.hpp"
#include "nats_server.hpp"

namespace capsule::cluster::testing {

using component::ComponentRuntime;
using component::ComponentSpec;

// What host code receives on a topic (the component tests' helper).
using Inbox = component::testing::TopicInbox;

// One capsule host: its own actor system, runtime and NATS connection; the engine is shared.
struct Host {
  // `policy`: capability checks on (components then need grants); `confirm_timeout`: how long a
  // confirmed send to another host waits for its acknowledgement; `confirm_sends` false: sends to
  // other hosts are not confirmed (BridgeConfig::confirm_sends; guests' sends are then coalesced);
  // `tune`: changes the rest of the bridge's configuration before it connects.
  Host(const std::string& name, const std::string& url, std::shared_ptr<wasm::WasmEngine> engine,
       const std::string& user = {}, const std::string& password = {},
       std::shared_ptr<security::PolicyEngine> policy = nullptr,
       std::chrono::milliseconds confirm_timeout = std::chrono::seconds(2),
       std::shared_ptr<storage::KvBackend> storage = nullptr, TlsFiles tls = {},
       bool confirm_sends = true, std::shared_ptr<NameLeases> claims = nullptr,
       const std::function<void(BridgeConfig&)>& tune = nullptr)
      : name_leases(std::move(claims)) {
    BridgeConfig config;
    config.confirm_sends = confirm_sends;
    config.confirm_timeout = confirm_timeout;
    config.url = url;
    config.user = user;
    config.password = password;
    config.tls = std::move(tls);
    config.cluster = "test";
    config.host = name;
    config.heartbeat_interval = std::chrono::milliseconds(100);
    config.missed_heartbeats = 3;
    if (tune) tune(config);
    auto connected = NatsBridge::connect(config);
    EXPECT_TRUE(connected) << connected.error().describe();
    bridge = *connected;
    component::RuntimeConfig runtime_config;
    runtime_config.remote = bridge;
    runtime_config.policy = std::move(policy);
    runtime_config.storage = std::move(storage);
    runtime_config.name_claimer = name_leases;
    runtime = std::make_unique<ComponentRuntime>(system, std::move(engine), runtime_config);
    auto attached = bridge->attach(*runtime);
    EXPECT_TRUE(attached) << attached.error().describe();
    attachment = std::move(*attached);
    if (name_leases) {
      // As the daemon does (HostDaemon::start_name_claims).
      name_leases->start([this] { runtime->placement_changed(); },
                         [this] { return !runtime->has_activations(); });
    }
  }
  ~Host() {
    if (name_leases) name_leases->stop();
    attachment = Attachment{};
    runtime.reset();
    system.shutdown();
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  std::shared_ptr<NameLeases> name_leases;  // null: names placed by the views alone

  std::vector<ComponentId> start(const std::string& name, const std::string& wasm,
                                 std::vector<std::pair<std::string, std::string>> config = {},
                                 std::uint32_t instances = 1, ResourceLimits limits = {},
                                 std::optional<rt::MailboxConfig> mailbox = std::nullopt) {
    ComponentSpec spec;
    spec.ns = "test";
    spec.name = name;
    auto c = runtime->engine().load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) /
                                         (wasm + ".wasm"));
    EXPECT_TRUE(c) << c.error().describe();
    spec.component = *c;
    spec.instances = instances;
    spec.limits = limits;
    spec.config = std::move(config);
    spec.mailbox = mailbox;
    spec.supervision.backoff = rt::BackoffPolicy::none();
    auto ids = runtime->start(spec);
    EXPECT_TRUE(ids) << ids.error().describe();
    static_cast<void>(bridge->announce());
    return ids ? *ids : std::vector<ComponentId>{};
  }

  // Waits (bounded) until this host sees `other` with at least `components` components.
  bool sees(const std::string& other, std::size_t components,
            std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& h : bridge->hosts()) {
        if (h.name == other && h.components >= components) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  rt::ActorSystem system;
  std::shared_ptr<NatsBridge> bridge;
  std::unique_ptr<ComponentRuntime> runtime;
  Attachment attachment;
};

// One engine for a test suite's hosts (pooling sized for the few instances cluster tests run).
inline std::shared_ptr<wasm::WasmEngine> cluster_test_engine() {
  wasm::EngineConfig config;
  config.pooling.total_component_instances = 100;
  config.pooling.total_memories = 100;
  config.pooling.total_tables = 100;
  auto created = wasm::WasmEngine::create(config);
  EXPECT_TRUE(created) << created.error().describe();
  return created ? *created : nullptr;
}

// The relay guest's configuration (guest/examples/relay.c) in pinger mode (sequential round trips
// to `target`) and in fanout mode (requests to `target`/0..3 at once), reporting on `done_topic`.
using GuestConfig = std::vector<std::pair<std::string, std::string>>;
inline GuestConfig pinger_config(const std::string& target, const std::string& done_topic) {
  return {
      {"mode", "pinger"}, {"target", target}, {"timeout_ms", "10000"}, {"done_topic", done_topic}};
}
inline GuestConfig fanout_config(const std::string& target, const std::string& done_topic) {
  return {{"mode", "fanout"},
          {"target", target},
          {"instances", "4"},
          {"timeout_ms", "10000"},
          {"done_topic", done_topic}};
}

// Polls `p` every 5 ms until it holds (true) or `timeout` passes (false).
template <typename Predicate>
bool eventually(Predicate p, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class ClusterFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    engine_ = cluster_test_engine();
    ASSERT_NE(engine_, nullptr);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server.running());
    a = std::make_unique<Host>("alpha", server.url(), engine_);
    b = std::make_unique<Host>("beta", server.url(), engine_);
  }
  void TearDown() override {
    a.reset();
    b.reset();
  }

  template <typename Predicate>
  static bool eventually(Predicate p, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return testing::eventually(std::move(p), timeout);
  }

  static inline std::shared_ptr<wasm::WasmEngine> engine_;
  NatsServer server;
  std::unique_ptr<Host> a, b;
};

}  // namespace capsule::cluster::testing

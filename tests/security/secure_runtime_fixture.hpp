#pragma once

#include <filesystem>
#include <gtest/gtest.h>
#include <mutex>
#include <unistd.h>

#include <capsule/component/component_runtime.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::security::testing {

// A ComponentRuntime with capability checks on: a PolicyEngine, an in-memory audit sink, a real
// SQLite store in a temporary directory and a log sink that keeps the lines.
class SecureRuntimeFixture : public ::testing::Test {
 protected:
  SecureRuntimeFixture() {
    dir = std::filesystem::temp_directory_path() /
          ("capsule_sec_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    open_host();
  }
  ~SecureRuntimeFixture() override {
    close_host();
    system.shutdown();
    std::filesystem::remove_all(dir);
  }

  // A host restart: the runtime and the storage file are closed and opened again.
  void restart_host() {
    close_host();
    open_host();
  }

  void open_host() {
    auto kv = storage::SqliteKvBackend::open(dir / "host.db");
    ASSERT_TRUE(kv) << kv.error().describe();
    store = std::move(*kv);
    component::RuntimeConfig config;
    config.policy = policy;
    config.audit = audit;
    config.storage = store;
    config.log_sink = [this](const ComponentId& who, wasm::LogLevel level, const std::string& m,
                             const wasm::KeyValues& fields) {
      std::lock_guard lock(log_mutex);
      logs.push_back(wasm::format_log_line(who, level, m, fields));
    };
    runtime = std::make_unique<component::ComponentRuntime>(system, engine, config);
  }
  void close_host() {
    runtime.reset();
    store.reset();
  }

  std::shared_ptr<const wasm::CompiledComponent> load(const std::string& name) {
    auto c = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (name + ".wasm"));
    EXPECT_TRUE(c) << c.error().describe();
    return c ? *c : nullptr;
  }

  // Declares and grants the same capabilities: the common case of a trusted manifest.
  static ComponentPermissions both(std::vector<Capability> caps, StorageQuota quota = {}) {
    return ComponentPermissions{caps, caps, quota};
  }

  ComponentId start(const std::string& name, const std::string& wasm,
                    ComponentPermissions permissions = {}, std::uint32_t instances = 1) {
    component::ComponentSpec s;
    s.ns = "test";
    s.name = name;
    s.component = load(wasm);
    s.permissions = std::move(permissions);
    s.instances = instances;
    s.supervision.backoff = rt::BackoffPolicy::none();
    auto ids = runtime->start(s);
    EXPECT_TRUE(ids) << ids.error().describe();
    return ids && !ids->empty() ? ids->front() : ComponentId{};
  }

  std::string ask(const ComponentId& to, std::string_view text) {
    auto r = runtime->ask(to, Payload::text(text), std::chrono::seconds(20)).get();
    return r ? r->as_string() : "error: " + r.error().describe();
  }

  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mutex);
    return logs;
  }

  std::filesystem::path dir;
  std::shared_ptr<wasm::WasmEngine> engine = *wasm::WasmEngine::create();
  rt::ActorSystem system;
  std::shared_ptr<PolicyEngine> policy = std::make_shared<PolicyEngine>();
  std::shared_ptr<MemoryAuditSink> audit = std::make_shared<MemoryAuditSink>();
  std::shared_ptr<storage::SqliteKvBackend> store;
  std::unique_ptr<component::ComponentRuntime> runtime;
  std::mutex log_mutex;
  std::vector<std::string> logs;
};

}  // namespace capsule::security::testing

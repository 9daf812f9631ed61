#pragma once

#include <condition_variable>
#include <filesystem>
#include <gtest/gtest.h>
#include <mutex>
#include <system_error>
#include <unistd.h>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/monitoring.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::component::testing {

inline std::shared_ptr<const wasm::CompiledComponent> load(wasm::WasmEngine& engine,
                                                           const std::string& name) {
  auto c = engine.load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (name + ".wasm"));
  EXPECT_TRUE(c) << c.error().describe();
  return c ? *c : nullptr;
}

// Collects what host code receives on a topic.
class TopicInbox {
 public:
  void push(const ComponentMessage& m) {
    std::lock_guard lock(mutex_);
    messages_.push_back(m.payload.as_string());
    changed_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> messages_;
};

class RuntimeFixture : public ::testing::Test {
 protected:
  RuntimeFixture() : system(make_system_config(recorder)) {}
  ~RuntimeFixture() override {
    std::error_code ec;
    if (!store_dir_.empty()) std::filesystem::remove_all(store_dir_, ec);
  }

  // Replaces the runtime the fixture made by one with `config` (storage, log sink, ...).
  void reconfigure(RuntimeConfig config) {
    runtime.reset();
    runtime = std::make_unique<ComponentRuntime>(system, engine, std::move(config));
  }

  // A SQLite store in a directory of this test's own: named after the process and the test (ctest
  // runs tests in parallel), empty at first, removed with the fixture.
  std::shared_ptr<storage::SqliteKvBackend> open_sqlite_store() {
    store_dir_ = std::filesystem::temp_directory_path() /
                 ("capsule_component_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(store_dir_);
    std::filesystem::create_directories(store_dir_);
    auto sqlite = storage::SqliteKvBackend::open(store_dir_ / "kv.db");
    EXPECT_TRUE(sqlite) << sqlite.error().describe();
    return sqlite ? std::move(*sqlite) : nullptr;
  }

  static rt::SystemConfig make_system_config(const std::shared_ptr<rt::InMemoryRecorder>& r) {
    rt::SystemConfig c;
    c.observer = r;
    return c;
  }

  ComponentSpec spec(const std::string& name, const std::string& wasm,
                     std::uint32_t instances = 1) {
    ComponentSpec s;
    s.ns = "test";
    s.name = name;
    s.component = load(*engine, wasm);
    s.instances = instances;
    s.supervision.backoff = rt::BackoffPolicy::none();
    return s;
  }

  std::vector<ComponentId> start(ComponentSpec s) {
    auto ids = runtime->start(std::move(s));
    EXPECT_TRUE(ids) << ids.error().describe();
    return ids ? *ids : std::vector<ComponentId>{};
  }

  Result<Payload> ask(const ComponentId& to, std::string_view text,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return runtime->ask(to, Payload::text(text), timeout).get();
  }

  std::shared_ptr<rt::InMemoryRecorder> recorder = std::make_shared<rt::InMemoryRecorder>();
  std::shared_ptr<wasm::WasmEngine> engine = [] {
    wasm::EngineConfig config;
    config.pooling.total_component_instances = 200;
    config.pooling.total_memories = 200;
    config.pooling.total_tables = 200;
    return *wasm::WasmEngine::create(config);
  }();
  rt::ActorSystem system;
  std::unique_ptr<ComponentRuntime> runtime = std::make_unique<ComponentRuntime>(system, engine);

  void TearDown() override {
    runtime.reset();
    system.shutdown();
  }

 private:
  std::filesystem::path store_dir_;
};

}  // namespace capsule::component::testing

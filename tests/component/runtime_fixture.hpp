#pragma once

#include <condition_variable>
#include <filesystem>
#include <gtest/gtest.h>
#include <mutex>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/monitoring.hpp>

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
};

}  // namespace capsule::component::testing

#pragma once

#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>
#include <unistd.h>

#include <capsule/component/component_runtime.hpp>
#include <capsule/security/audit.hpp>
#include <capsule/security/policy_engine.hpp>
#include <capsule/storage/sqlite_kv_backend.hpp>

namespace capsule::hostile {

using namespace std::chrono_literals;

// One hostile instance (guest/hostile/hostile.c, its attack picked by config) next to a canary
// (echo) on a host with capability checks, an audit sink, real SQLite storage holding a
// bystander's data, and a log sink that keeps every line. Each test runs one attack and checks
// what the guide demands of every attack: the host is alive, the canary answers within 1 s
// while and after the attack runs, the attack got the documented answer, nothing else changed.
class HostileFixture : public ::testing::Test {
 public:
  HostileFixture() {
    dir_ = std::filesystem::temp_directory_path() /
           ("capsule_hostile_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto kv = storage::SqliteKvBackend::open(dir_ / "host.db");
    EXPECT_TRUE(kv) << kv.error().describe();
    store = std::move(*kv);
    EXPECT_TRUE(store->set("test/bystander", "secret", bytes("untouched"), {}));
  }
  ~HostileFixture() override {
    runtime.reset();
    system.shutdown();
    std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    component::RuntimeConfig config;
    config.policy = policy;
    config.audit = audit;
    config.storage = store;
    config.log_sink = [this](const ComponentId& who, wasm::LogLevel level, const std::string& m,
                             const wasm::KeyValues& fields) {
      std::lock_guard lock(log_mutex_);
      logs_.push_back(wasm::format_log_line(who, level, m, fields));
    };
    customize(config);
    runtime = std::make_unique<component::ComponentRuntime>(system, engine, config);
    auto id = start_component("canary", "echo", {}, {});
    ASSERT_TRUE(id) << id.error().describe();
    canary = *id;
  }

  // Tests that need another host configuration override this.
  virtual void customize(component::RuntimeConfig& /*config*/) {}

  static std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

  static security::ComponentPermissions grants(std::vector<security::Capability> caps,
                                               security::StorageQuota quota = {}) {
    return security::ComponentPermissions{caps, caps, quota};
  }

  Result<ComponentId> start_component(const std::string& name, const std::string& wasm,
                                      security::ComponentPermissions permissions,
                                      ResourceLimits limits, wasm::KeyValues config = {},
                                      std::uint32_t instances = 1) {
    component::ComponentSpec s;
    s.ns = "test";
    s.name = name;
    auto c = engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / (wasm + ".wasm"));
    if (!c) return std::move(c).error();
    s.component = *c;
    s.permissions = std::move(permissions);
    s.limits = limits;
    s.config = std::move(config);
    s.instances = instances;
    s.supervision.backoff = rt::BackoffPolicy::none();
    s.supervision.max_restarts = 1000;
    auto ids = runtime->start(s);
    if (!ids) return std::move(ids).error();
    return ids->front();
  }

  // Starts test/hostile/0 configured for `attack`.
  Result<ComponentId> start_hostile(const std::string& attack,
                                    security::ComponentPermissions permissions = {},
                                    ResourceLimits limits = {}) {
    return start_component("hostile", "hostile", std::move(permissions), limits,
                           {{"attack", attack}});
  }

  ComponentId hostile(const std::string& attack, security::ComponentPermissions permissions = {},
                      ResourceLimits limits = {}) {
    auto id = start_hostile(attack, std::move(permissions), limits);
    EXPECT_TRUE(id) << id.error().describe();
    return id ? *id : ComponentId{};
  }

  // Sends the hostile instance a message and waits for its outcome, pinging the canary every
  // 5 ms meanwhile; fails the test if any ping took 1 s or more.
  Result<Payload> attack(const ComponentId& id, std::chrono::milliseconds timeout = 30s) {
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done.load()) {
        expect_canary_answers();
        std::this_thread::sleep_for(5ms);
      }
    });
    auto outcome = runtime->call(id, Payload::text("go"), timeout);
    done.store(true);
    watcher.join();
    expect_canary_answers();
    return outcome;
  }

  std::string report(const ComponentId& id) {
    auto r = attack(id);
    return r ? r->as_string() : "error: " + r.error().describe();
  }

  void expect_canary_answers() {
    const auto start = std::chrono::steady_clock::now();
    auto r = runtime->call(canary, Payload::text("ping"), 1s);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r) << "canary did not answer: " << r.error().describe();
    EXPECT_EQ(r->as_string(), "ping");
    EXPECT_LT(took, 1s) << "canary took "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms";
  }

  // What must hold after every attack: the canary was never restarted, the bystander's data is
  // intact, and every audit record is about the hostile instance.
  void expect_nothing_else_changed() {
    expect_canary_answers();
    auto record = runtime->registry().record(canary);
    ASSERT_TRUE(record);
    EXPECT_EQ(record->counters->starts.load(), 1U) << "the canary was restarted";
    auto secret = store->get("test/bystander", "secret");
    ASSERT_TRUE(secret && *secret);
    EXPECT_EQ(**secret, bytes("untouched"));
    auto keys = store->list_keys("test/bystander", "");
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->size(), 1U);
    for (const auto& r : audit->records()) EXPECT_EQ(r.who.name, "hostile") << r.target;
  }

  // Stops ns=test `name` and waits until its instance is gone (shutdown ran or was cut).
  void stop_and_wait(const std::string& name) {
    auto ref = runtime->registry().lookup(ComponentId{"test", name, "0"});
    ASSERT_TRUE(ref);
    ASSERT_TRUE(runtime->stop("test", name));
    for (int i = 0; i < 1000 && ref->alive(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_FALSE(ref->alive()) << "test/" << name << "/0 did not stop within 10 s";
  }

  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mutex_);
    return logs_;
  }

  std::uint64_t starts_of(const ComponentId& id) {
    auto record = runtime->registry().record(id);
    return record ? record->counters->starts.load() : 0;
  }

  // The value of `name=` in a "k=v k=v" report.
  static std::string field(const std::string& report, const std::string& name) {
    const std::string key = name + "=";
    auto at = report.find(key);
    while (at != std::string::npos && at > 0 && report[at - 1] != ' ') {
      at = report.find(key, at + 1);
    }
    if (at == std::string::npos) return "<missing>";
    at += key.size();
    return report.substr(at, report.find(' ', at) - at);
  }
  static long number(const std::string& report, const std::string& name) {
    const std::string v = field(report, name);
    return v == "<missing>" ? -1 : std::stol(v);
  }

  std::shared_ptr<wasm::WasmEngine> engine = *wasm::WasmEngine::create();
  rt::ActorSystem system;
  std::shared_ptr<security::PolicyEngine> policy = std::make_shared<security::PolicyEngine>();
  std::shared_ptr<security::MemoryAuditSink> audit = std::make_shared<security::MemoryAuditSink>();
  std::shared_ptr<storage::SqliteKvBackend> store;
  std::unique_ptr<component::ComponentRuntime> runtime;
  ComponentId canary;

 private:
  std::filesystem::path dir_;
  std::mutex log_mutex_;
  std::vector<std::string> logs_;
};

// WIT error cases as the hostile guest reports them (`tag=`).
inline constexpr long kInvalidArgument = 0;
inline constexpr long kPermissionDenied = 2;
inline constexpr long kQuotaExceeded = 3;
inline constexpr long kNotFound = 1;

}  // namespace capsule::hostile

// wasi:keyvalue, wasi:config and wasi:logging in a wasi:http/proxy component
// (guest/examples/python/http_visits, componentize-py): every call reaches the instance's
// HostApi, as for capsule components, and the host's errors reach the guest as wasi:keyvalue
// errors. The daemon's bindings behind them (grants, storage space) are e2e.http_proxy_services.

#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/http_proxy.hpp>

#include "http_proxy_fixture.hpp"

namespace capsule::wasm {
namespace {

// An in-memory storage space, a config and a log, refusing storage on demand.
class ServicesHost final : public StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;

  void log(LogLevel level, const std::string& message, const KeyValues& fields) override {
    const std::lock_guard lock(mutex);
    logs.push_back({level, message, fields});
  }
  Result<std::optional<std::vector<std::uint8_t>>> storage_get(const std::string& key) override {
    if (Status s = allowed(); !s) return std::move(s).error();
    const std::lock_guard lock(mutex);
    auto it = kv.find(key);
    if (it == kv.end()) return std::optional<std::vector<std::uint8_t>>{};
    return std::optional<std::vector<std::uint8_t>>{it->second};
  }
  Status storage_set(const std::string& key, std::vector<std::uint8_t> value) override {
    if (Status s = allowed(); !s) return s;
    const std::lock_guard lock(mutex);
    kv[key] = std::move(value);
    return ok();
  }
  Result<std::uint64_t> storage_increment(const std::string& key, std::uint64_t delta) override {
    if (Status s = allowed(); !s) return std::move(s).error();
    const std::lock_guard lock(mutex);
    auto& v = kv[key];
    const std::uint64_t sum =
        (v.empty() ? 0 : std::stoull(std::string(v.begin(), v.end()))) + delta;
    const std::string digits = std::to_string(sum);
    v.assign(digits.begin(), digits.end());
    return sum;
  }
  [[nodiscard]] KeyValues config() const override { return {{"greeting", "hej"}}; }

  struct Line {
    LogLevel level;
    std::string message;
    KeyValues fields;
  };
  std::mutex mutex;
  bool refuse = false;
  std::map<std::string, std::vector<std::uint8_t>> kv;
  std::vector<Line> logs;

 private:
  Status allowed() const {
    if (!refuse) return ok();
    return make_error(ErrorCode::kPermissionDenied, "storage.write of 'visits' not granted");
  }
};

using testing::get;
using testing::kPythonMemory;
using testing::text_of;

class HttpProxyServices : public testing::HttpProxyEngine {
 protected:
  static HttpProxyInstance start(std::shared_ptr<HostApi> host) {
    auto c = engine_->load_file(testing::component_path("py_http_visits"));
    EXPECT_TRUE(c) << c.error().describe();
    HttpProxyOptions o;
    o.id = ComponentId{"web", "visits", "0"};
    o.limits.memory_bytes = kPythonMemory;
    o.host = std::move(host);
    auto inst = engine_->instantiate_http_proxy(**c, std::move(o));
    EXPECT_TRUE(inst) << inst.error().describe();
    return std::move(*inst);
  }
};

TEST_F(HttpProxyServices, KeyValueConfigAndLoggingReachTheInstancesHost) {
  auto host = std::make_shared<ServicesHost>(ComponentId{"web", "visits", "0"});
  auto inst = start(host);
  for (int n = 1; n <= 2; ++n) {
    auto r = inst.handle(get("/visits"));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(text_of(r->body), "hej, visit " + std::to_string(n) + "\n");
  }
  // The counter is the host's (bucket "default" is the space itself), in decimal digits.
  EXPECT_EQ(text_of(host->kv.at("visits")), "2");
  ASSERT_EQ(host->logs.size(), 2U);
  EXPECT_EQ(host->logs[1].level, LogLevel::kInfo);
  EXPECT_EQ(host->logs[1].message, "visit 2");
  EXPECT_EQ(host->logs[1].fields, (KeyValues{{"context", "http_visits"}}));
  // A value set by the host is what the guest reads.
  host->kv["greeting-key"] = {'x', 'y'};
  auto read = inst.handle(get("/visits/get?key=greeting-key"));
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(text_of(read->body), "xy");
}

TEST_F(HttpProxyServices, AHostRefusalIsTheGuestsAccessDeniedAndTheInstanceGoesOn) {
  auto host = std::make_shared<ServicesHost>(ComponentId{"web", "visits", "0"});
  host->refuse = true;
  auto inst = start(host);
  auto refused = inst.handle(get("/visits"));
  ASSERT_TRUE(refused) << refused.error().describe();
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(text_of(refused->body), "wasi:keyvalue: access-denied\n");
  EXPECT_FALSE(inst.failed());
  host->refuse = false;
  auto served = inst.handle(get("/visits"));
  ASSERT_TRUE(served) << served.error().describe();
  EXPECT_EQ(text_of(served->body), "hej, visit 1\n");
}

TEST_F(HttpProxyServices, WithoutAComponentHostStorageIsNotImplemented) {
  auto inst = start(nullptr);  // a StandaloneHostApi
  auto r = inst.handle(get("/visits"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(text_of(r->body).find("other: not-implemented"), std::string::npos) << text_of(r->body);
}

}  // namespace
}  // namespace capsule::wasm

// The probe component calls messaging, storage, services and clocks; these tests check that every
// call reaches the instance's HostApi with the guest's arguments and that results and typed errors
// travel back into the guest.
#include <gtest/gtest.h>
#include <map>
#include <mutex>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using namespace capsule::wasm::testing;

// Test double: records what the guest asked for, with a working in-memory storage.
class RecordingHost : public StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;

  Status send(const ComponentId& target, Payload payload) override {
    sends.emplace_back(target, std::move(payload));
    if (refuse_sends) return make_error(ErrorCode::kPermissionDenied, "no grant to send there");
    return ok();
  }
  void log(LogLevel level, const std::string& message, const KeyValues&) override {
    logs.emplace_back(level, message);
  }
  Status storage_set(const std::string& key, std::vector<std::uint8_t> value) override {
    kv[key] = std::move(value);
    return ok();
  }
  Result<std::optional<std::vector<std::uint8_t>>> storage_get(const std::string& key) override {
    auto it = kv.find(key);
    if (it == kv.end()) return std::optional<std::vector<std::uint8_t>>{};
    return std::optional<std::vector<std::uint8_t>>{it->second};
  }

  bool refuse_sends = false;
  std::vector<std::pair<ComponentId, Payload>> sends;
  std::vector<std::pair<LogLevel, std::string>> logs;
  std::map<std::string, std::vector<std::uint8_t>> kv;
};

TEST(HostImports, EveryImportReachesTheHostApi) {
  auto engine = make_engine();
  auto compiled = load(*engine, "probe");
  auto host = std::make_shared<RecordingHost>(ComponentId{"apps", "probe", "7"});
  auto inst = engine->instantiate(*compiled, {ComponentId{"apps", "probe", "7"}, {}, host});
  ASSERT_TRUE(inst) << inst.error().describe();
  ASSERT_TRUE(inst->init({}));

  auto r = inst->handle_message(message_with(Payload{multicodec::kJson, {'{', '}'}}));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ((*r)->as_string(), "self=apps/probe/7 send=ok set=ok get=2 log=done clock=ok");
  ASSERT_EQ(host->sends.size(), 1u);
  EXPECT_EQ(host->sends[0].first, (ComponentId{"test", "sink", "0"}));
  EXPECT_EQ(host->sends[0].second, (Payload{multicodec::kJson, {'{', '}'}}));
  ASSERT_EQ(host->logs.size(), 1u);
  EXPECT_EQ(host->logs[0].first, LogLevel::kInfo);
  EXPECT_EQ(host->logs[0].second, "probe handled a message");
  EXPECT_EQ(host->kv["last"], (std::vector<std::uint8_t>{'{', '}'}));
}

TEST(HostImports, HostErrorsArriveAsTypedWitErrors) {
  auto engine = make_engine();
  auto compiled = load(*engine, "probe");
  auto host = std::make_shared<RecordingHost>(ComponentId{"apps", "probe", "0"});
  host->refuse_sends = true;
  auto inst = engine->instantiate(*compiled, {ComponentId{"apps", "probe", "0"}, {}, host});
  ASSERT_TRUE(inst);
  auto r = inst->handle_message(message_with(Payload::text("x")));
  ASSERT_TRUE(r) << r.error().describe();
  // Tag 2 is `permission-denied` in wit/types.wit's error variant.
  EXPECT_NE((*r)->as_string().find("send=err:2:no grant to send there"), std::string::npos)
      << (*r)->as_string();
}

TEST(HostImports, StandaloneHostSaysWhatIsNotAvailable) {
  auto engine = make_engine();
  auto compiled = load(*engine, "probe");
  auto inst = engine->instantiate(*compiled, {ComponentId{"apps", "probe", "0"}, {}, nullptr});
  ASSERT_TRUE(inst);
  auto r = inst->handle_message(message_with(Payload::text("x")));
  ASSERT_TRUE(r) << r.error().describe();
  const std::string text = (*r)->as_string();
  // Tag 7 is `not-implemented`; the text names the call and the instance.
  EXPECT_NE(text.find("send=err:7:messaging.send is not available to apps/probe/0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("clock=ok"), std::string::npos);
}

}  // namespace
}  // namespace capsule::wasm

// A component only one host may serve (a failover unit) is served only while its ServingWindow
// is open: a message taken while it is closed is refused unhandled, and a storage write issued
// while it is closed never reaches storage. Real SQLite, real ledger and pump guests.
#include <thread>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

class ServingWindowTest : public RuntimeFixture {
 protected:
  ServingWindowTest() {
    kv = open_sqlite_store();
    RuntimeConfig config;
    config.storage = kv;
    reconfigure(config);
    window->open_until(std::chrono::steady_clock::now() + 1h, 7);
  }

  ComponentSpec fenced(const std::string& name, const std::string& wasm) {
    ComponentSpec s = spec(name, wasm);
    s.serving = window;
    s.limits.wall_time_per_call = 20s;
    s.limits.fuel_per_call = 1000000000000ULL;
    return s;
  }

  std::shared_ptr<storage::KvBackend> kv;
  std::shared_ptr<ServingWindow> window = std::make_shared<ServingWindow>();
};

TEST_F(ServingWindowTest, AClosedWindowRefusesMessagesUnhandled) {
  const auto ledger = start(fenced("ledger", "ledger"))[0];
  auto r = ask(ledger, "add:5");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "5");

  window->close();
  auto refused = ask(ledger, "add:1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("test/ledger/0 is not served here"), std::string::npos)
      << refused.error().message;

  window->open_until(std::chrono::steady_clock::now() + 1h, 8);
  auto balance = ask(ledger, "balance");
  ASSERT_TRUE(balance) << balance.error().describe();
  EXPECT_EQ(balance->as_string(), "5") << "the refused add must not have been applied";
}

TEST_F(ServingWindowTest, AWindowThatClosesMidCallStopsTheNextStorageWrite) {
  // The pump writes key "k" 300,000 times in one message; the window closes while it runs (the
  // host lost its lease while the guest was busy): the next write is refused and the pump reports
  // how far it got.
  const auto pump = start(fenced("pump", "pump"))[0];
  auto reply = runtime->ask(pump, Payload::text("set 16 300000"), 30s);
  std::this_thread::sleep_for(50ms);
  window->close();
  auto r = reply.get();
  ASSERT_TRUE(r) << r.error().describe();
  const std::string text = r->as_string();
  EXPECT_NE(text.find("storage.set refused: test/pump/0 is not served here"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("ok 300000"), std::string::npos) << "every write went through: " << text;
}

}  // namespace
}  // namespace capsule::component

// A wasi:http/proxy route's supervision (ProxyRouteHandler, docs/http.md "Supervision"), driven
// without sockets on http_ask.c: failed instances count against the restart intensity; past it the
// route gives up once (told once), answers 503 route-failed naming the route and the last
// failure, and shows it in its pool; failures spread wider than the window never give up; another
// route on the same component keeps answering; restart() brings a route that gave up back with a
// fresh window, and starts a serving one's instances afresh. Over real sockets with ps, /metrics,
// the log lines and `capsule restart`: e2e.http_proxy_core.
#include "daemon/proxy_route.hpp"

#include <chrono>
#include <filesystem>
#include <future>
#include <gtest/gtest.h>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <capsule/wasm/host_api.hpp>

namespace capsule::daemon {
namespace {

// One engine per test (each test is its own process under ctest anyway).
class ProxyRouteSupervision : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = wasm::WasmEngine::create({});
    ASSERT_TRUE(made) << made.error().describe();
    engine_ = std::move(*made);
    auto c = engine_->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "c_http_ask.wasm");
    ASSERT_TRUE(c) << c.error().describe();
    ask_ = std::move(*c);
  }
  std::shared_ptr<wasm::WasmEngine> engine_;
  std::shared_ptr<const wasm::CompiledComponent> ask_;
};

struct GiveUps {
  std::vector<std::pair<std::string, std::string>> told;  // (intensity, last failure)
};

ProxyRouteHandler::Options options(GiveUps& give_ups, std::uint32_t max_restarts,
                                   std::chrono::milliseconds window) {
  ProxyRouteHandler::Options o;
  o.target = "c_http_ask.wasm";
  o.route = "/boom";
  o.ns = "web";
  o.name = "boom";
  o.instances = 1;
  o.timeout = std::chrono::seconds(10);
  o.max_restarts = max_restarts;
  o.restart_window = window;
  o.on_give_up = [&give_ups](const std::string& intensity, const std::string& last) {
    give_ups.told.emplace_back(intensity, last);
  };
  return o;
}

HttpTriggerResponse get(ProxyRouteHandler& h, std::string path) {
  HttpTriggerRequest r;
  r.method = "GET";
  r.path = std::move(path);
  std::promise<HttpTriggerResponse> answer;
  h.handle(std::move(r), [&answer](HttpTriggerResponse a) { answer.set_value(std::move(a)); });
  return answer.get_future().get();
}

TEST_F(ProxyRouteSupervision, PastItsIntensityTheRouteGivesUpOnceAndAnswers503) {
  GiveUps give_ups;
  ProxyRouteHandler boom(*engine_, ask_, options(give_ups, 2, std::chrono::milliseconds(60'000)));
  GiveUps canary_give_ups;
  ProxyRouteHandler canary(*engine_, ask_,
                           options(canary_give_ups, 2, std::chrono::milliseconds(60'000)));
  for (int i = 0; i < 3; ++i) {  // restarts 1 and 2 are within the intensity; 3 is past it
    EXPECT_EQ(get(boom, "/boom/trap").status, 500);
    EXPECT_EQ(get(canary, "/boom/nocall").body, "no call");
  }
  ASSERT_EQ(give_ups.told.size(), 1U);
  EXPECT_EQ(give_ups.told[0].first, "2 restarts in 60000 ms");
  EXPECT_NE(give_ups.told[0].second.find("trap"), std::string::npos) << give_ups.told[0].second;

  for (const char* path : {"/boom/trap", "/boom/nocall"}) {  // down for every request
    const HttpTriggerResponse r = get(boom, path);
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("\"error\":\"route-failed\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("http route /boom (web/boom) is down: gave up: more than 2 restarts "
                          "in 60000 ms; last failure: "),
              std::string::npos)
        << r.body;
  }
  EXPECT_EQ(give_ups.told.size(), 1U);  // told once
  const auto pool = boom.pool();
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->failed, 3U);
  EXPECT_EQ(pool->instantiated, 3U);  // no instantiation after giving up
  EXPECT_NE(pool->gave_up.find("gave up"), std::string::npos);

  EXPECT_TRUE(canary_give_ups.told.empty());
  EXPECT_TRUE(canary.pool()->gave_up.empty());
  EXPECT_EQ(get(canary, "/boom/nocall").status, 200);
}

TEST_F(ProxyRouteSupervision, FailuresSpreadWiderThanTheWindowNeverGiveUp) {
  GiveUps give_ups;
  ProxyRouteHandler boom(*engine_, ask_, options(give_ups, 1, std::chrono::milliseconds(20)));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(get(boom, "/boom/trap").status, 500);
    // Past the window: the last failure is no longer counted when the next comes.
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  EXPECT_TRUE(give_ups.told.empty());
  EXPECT_TRUE(boom.pool()->gave_up.empty());
  EXPECT_EQ(get(boom, "/boom/nocall").status, 200);
}

TEST_F(ProxyRouteSupervision, MaxRestartsZeroGivesUpAtTheFirstFailure) {
  GiveUps give_ups;
  ProxyRouteHandler boom(*engine_, ask_, options(give_ups, 0, std::chrono::milliseconds(5000)));
  EXPECT_EQ(get(boom, "/boom/nocall").status, 200);  // a response is no failure
  EXPECT_EQ(get(boom, "/boom/trap").status, 500);
  EXPECT_EQ(give_ups.told.size(), 1U);
  EXPECT_EQ(get(boom, "/boom/nocall").status, 503);
}

TEST_F(ProxyRouteSupervision, ARestartServesAgainWithAFreshWindow) {
  GiveUps give_ups;
  ProxyRouteHandler boom(*engine_, ask_, options(give_ups, 1, std::chrono::milliseconds(60'000)));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(get(boom, "/boom/trap").status, 500);
  ASSERT_EQ(give_ups.told.size(), 1U);
  EXPECT_EQ(get(boom, "/boom/nocall").status, 503);

  const ProxyRouteHandler::Restart r = boom.restart();
  EXPECT_NE(r.gave_up.find("gave up: more than 1 restarts in 60000 ms"), std::string::npos)
      << r.gave_up;
  EXPECT_EQ(r.busy, 0U);
  EXPECT_EQ(get(boom, "/boom/nocall").body, "no call");
  auto pool = boom.pool();
  EXPECT_TRUE(pool->gave_up.empty()) << pool->gave_up;
  EXPECT_EQ(pool->restarts, 1U);
  EXPECT_EQ(pool->failed, 2U);  // a total since the start, not the window

  // The window starts empty: one failure is within the intensity, the second past it again.
  EXPECT_EQ(get(boom, "/boom/trap").status, 500);
  EXPECT_EQ(get(boom, "/boom/nocall").status, 200);
  EXPECT_EQ(give_ups.told.size(), 1U);
  EXPECT_EQ(get(boom, "/boom/trap").status, 500);
  EXPECT_EQ(give_ups.told.size(), 2U);
  EXPECT_EQ(get(boom, "/boom/nocall").status, 503);
}

TEST_F(ProxyRouteSupervision, ARestartOfAServingRouteDropsItsInstances) {
  GiveUps give_ups;
  ProxyRouteHandler route(*engine_, ask_, options(give_ups, 3, std::chrono::milliseconds(5000)));
  EXPECT_EQ(get(route, "/boom/nocall").status, 200);
  EXPECT_EQ(get(route, "/boom/nocall").status, 200);  // the same instance, reused
  EXPECT_EQ(route.pool()->instantiated, 1U);
  ASSERT_EQ(route.pool()->idle, 1U);

  const ProxyRouteHandler::Restart r = route.restart();
  EXPECT_TRUE(r.gave_up.empty()) << r.gave_up;
  EXPECT_EQ(r.idle_dropped, 1U);
  EXPECT_EQ(route.pool()->idle, 0U);
  EXPECT_EQ(get(route, "/boom/nocall").status, 200);
  EXPECT_EQ(route.pool()->instantiated, 2U);  // a fresh one
  EXPECT_TRUE(give_ups.told.empty());
}

// Holds a guest's messaging.call until the test answers it: an instance busy when the route
// restarts.
class HeldCall final : public wasm::StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;
  void call(const ComponentId&, Payload, std::uint32_t, CallDone done) override {
    const std::lock_guard lock(mutex_);
    done_ = std::move(done);
    called_.set_value();
  }
  void wait_called() { called_future_.wait(); }
  void answer(std::string text) {
    CallDone done;
    {
      const std::lock_guard lock(mutex_);
      done = std::move(done_);
    }
    done(Payload::text(text));
  }

 private:
  std::mutex mutex_;
  CallDone done_;
  std::promise<void> called_;
  std::future<void> called_future_ = called_.get_future();
};

TEST_F(ProxyRouteSupervision, AnInstanceBusyAtARestartAnswersAndIsNotReused) {
  GiveUps give_ups;
  auto o = options(give_ups, 3, std::chrono::milliseconds(5000));
  auto held = std::make_shared<HeldCall>(ComponentId{"web", "boom", "0"});
  o.host = [held](const ComponentId&) { return held; };
  ProxyRouteHandler route(*engine_, ask_, std::move(o));
  auto busy = std::async(std::launch::async, [&] { return get(route, "/boom?msg=x"); });
  held->wait_called();  // the request's instance waits in its call

  const ProxyRouteHandler::Restart r = route.restart();
  EXPECT_EQ(r.busy, 1U);
  EXPECT_EQ(r.idle_dropped, 0U);
  held->answer("answered after the restart");
  const HttpTriggerResponse answered = busy.get();
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(answered.body, "answered after the restart");
  EXPECT_EQ(route.pool()->idle, 0U);  // made before the restart: dropped, not kept
  EXPECT_EQ(get(route, "/boom/nocall").status, 200);
  EXPECT_EQ(route.pool()->instantiated, 2U);
  EXPECT_EQ(route.pool()->idle, 1U);  // the fresh one is kept
}

}  // namespace
}  // namespace capsule::daemon

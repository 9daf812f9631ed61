// capsule:core messaging.call from a wasi:http/proxy component (guest/examples/http/http_ask.c,
// world capsule:http-core/proxy): the proxy linker links capsule's imports, the call reaches the
// instance's HostApi with the guest's target, payload and timeout, its answer - given later, from
// another thread - is the guest's return value, and a refusal is the guest's error value (the
// instance goes on). The daemon's bindings behind it (grants, the runtime's request) are
// e2e.http_proxy_core.

#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/http_proxy.hpp>

#include "component_fixture.hpp"
#include "http_proxy_fixture.hpp"

namespace capsule::wasm {
namespace {

using testing::get;
using testing::text_of;

// Answers a call from another thread after a short wait (as a backend's reply comes from a
// scheduler worker), or refuses it.
class CallingHost final : public StandaloneHostApi {
 public:
  using StandaloneHostApi::StandaloneHostApi;

  void call(const ComponentId& target, Payload payload, std::uint32_t timeout_ms,
            CallDone done) override {
    {
      const std::lock_guard lock(mutex);
      seen_target = target.to_string();
      seen_timeout_ms = timeout_ms;
      seen_codec = payload.codec;
    }
    if (refuse) {
      return done(make_error(ErrorCode::kPermissionDenied,
                             "messaging.request of " + target.to_string() + " not granted"));
    }
    if (drop) return;  // against the contract: `done` goes uncalled

    std::thread([payload = std::move(payload), done = std::move(done)]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::string text = "reply to " + std::string(payload.bytes.begin(), payload.bytes.end());
      done(Payload::text(text));
    }).detach();
  }

  std::mutex mutex;
  bool refuse = false;
  bool drop = false;
  std::string seen_target;
  std::uint32_t seen_timeout_ms = 0;
  std::uint32_t seen_codec = 0;
};

class HttpProxyCall : public testing::HttpProxyEngine {
 protected:
  // After a call that failed as the guest's error value: the instance is not failed, and its
  // next call is answered.
  static void expect_it_goes_on(HttpProxyInstance& inst) {
    EXPECT_FALSE(inst.failed());
    auto r = inst.handle(get("/ask?msg=again"));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(text_of(r->body), "reply to again");
  }

  static HttpProxyInstance start(std::shared_ptr<HostApi> host) {
    auto c = engine_->load_file(testing::component_path("c_http_ask"));
    EXPECT_TRUE(c) << c.error().describe();
    HttpProxyOptions o;
    o.id = ComponentId{"web", "ask", "0"};
    o.limits.wall_time_per_call = std::chrono::seconds(10);
    o.host = std::move(host);
    auto inst = engine_->instantiate_http_proxy(**c, std::move(o));
    EXPECT_TRUE(inst) << inst.error().describe();
    return std::move(*inst);
  }
};

TEST_F(HttpProxyCall, TheReplyAnsweredLaterFromAnotherThreadIsTheResponse) {
  auto host = std::make_shared<CallingHost>(ComponentId{"web", "ask", "0"});
  auto inst = start(host);
  for (int i = 0; i < 3; ++i) {  // the instance is reused: each call is its own
    auto r = inst.handle(get("/ask?to=app/echo/0&msg=m" + std::to_string(i)));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(text_of(r->body), "reply to m" + std::to_string(i));
  }
  const std::lock_guard lock(host->mutex);
  EXPECT_EQ(host->seen_target, "app/echo/0");
  EXPECT_EQ(host->seen_timeout_ms, 2000U);
  EXPECT_EQ(host->seen_codec, 0x0fU);
}

TEST_F(HttpProxyCall, ARefusalIsTheGuestsErrorValueAndTheInstanceGoesOn) {
  auto host = std::make_shared<CallingHost>(ComponentId{"web", "ask", "0"});
  host->refuse = true;
  auto inst = start(host);
  auto refused = inst.handle(get("/ask?to=app/secret/0"));
  ASSERT_TRUE(refused) << refused.error().describe();
  EXPECT_EQ(refused->status, 502);
  EXPECT_EQ(text_of(refused->body),
            "call to app/secret/0 failed: permission-denied: messaging.request of app/secret/0 "
            "not granted");
  host->refuse = false;
  expect_it_goes_on(inst);
}

// A host that drops the outcome callback uncalled (against HostApi's contract; the component
// runtime answers every request, at shutdown too: component.ProxyCallAtShutdown): the guest's
// call ends at once with `cancelled`, not at its 10 s wall time, the instance goes on, and the
// shim's pending answer is released (LeakSanitizer under the asan preset). Before
// PendingCompletion the call waited out its wall time and the pending answer leaked.
TEST_F(HttpProxyCall, ADroppedCallbackAnswersCancelledAtOnce) {
  auto host = std::make_shared<CallingHost>(ComponentId{"web", "ask", "0"});
  host->drop = true;
  auto inst = start(host);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = inst.handle(get("/ask?to=app/echo/0"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(text_of(r->body),
            "call to app/echo/0 failed: cancelled: the host dropped this request unanswered");
  host->drop = false;
  expect_it_goes_on(inst);
}

// Without a component host (and for an actor's instance, which has one but no call) the
// engine's default answers: not-implemented, naming who should use what.
TEST_F(HttpProxyCall, AHostWithoutCallAnswersNotImplemented) {
  auto inst = start(std::make_shared<StandaloneHostApi>(ComponentId{"web", "ask", "0"}));
  auto r = inst.handle(get("/ask"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 502);
  const std::string body = text_of(r->body);
  EXPECT_NE(body.find("call to app/echo/0 failed: not-implemented: messaging.call(app/echo/0) by "
                      "web/ask/0"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("an actor uses messaging.request"), std::string::npos) << body;
}

// A guest that traps is a failed instance (what the route's supervision counts).
TEST_F(HttpProxyCall, ATrapFailsTheInstance) {
  auto inst = start(std::make_shared<CallingHost>(ComponentId{"web", "ask", "0"}));
  auto r = inst.handle(get("/ask/trap"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTrap) << r.error().describe();
  EXPECT_TRUE(inst.failed());
}

}  // namespace
}  // namespace capsule::wasm

// A capsule:core messaging.call still pending in a wasi:http/proxy instance (a route's, with the
// runtime's bindings: ComponentRuntime::detached_host) when the runtime shuts down. http_ask.c
// asks a component that does not answer within the test: the sleeper, busy in a one-hour WASI
// sleep (its request is still in the runtime's tracker when the runtime goes: the outcome
// callback is dropped uncalled), or the aggregator told to "hold" (a deferred reply, which the
// aggregator's instance fails when it stops). Whichever goes first - the runtime, or the guest's
// call - the other must not touch what is gone, the shim's pending answer must be released (the
// ASan preset's LeakSanitizer checks it: `ctest --preset asan -R ProxyCallAtShutdown`), and a call
// still polled gets an outcome instead of waiting out its wall time. A canary call in the same
// process is answered.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <capsule/wasm/http_proxy.hpp>

#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace std::chrono_literals;

// Wakes the test's polling loop, as a route thread's waker does.
class TestWaker final : public wasm::CallWaker {
 public:
  void wake() noexcept override {
    {
      const std::lock_guard lock(mutex_);
      woken_ = true;
    }
    changed_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const bool woken = changed_.wait_for(lock, timeout, [this] { return woken_; });
    woken_ = false;
    return woken;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool woken_ = false;
};

class ProxyCallAtShutdown : public testing::RuntimeFixture {
 protected:
  void SetUp() override {
    start(spec("echo", "echo"));
    auto a = spec("aggregator", "aggregator");
    a.config = {{"targets", "test/echo/0"}};
    aggregator_ = start(std::move(a)).at(0);
    auto sleeper = spec("sleeper", "sleeper");
    sleeper.limits.wall_time_per_call = 60s;
    sleeper_ = start(std::move(sleeper)).at(0);
    ASSERT_TRUE(runtime->register_detached("web", "ask", {}));
  }

  // After runtime.reset(): a new runtime in the same actor system, with the same components.
  void SetUpAgain() {
    runtime = std::make_unique<ComponentRuntime>(system, engine);
    SetUp();
  }

  // The requests nobody answers within the test, one per kind of silence.
  [[nodiscard]] std::vector<std::string> silent_requests() const {
    return {"/ask?to=" + sleeper_.to_string() + "&msg=3600000",
            "/ask?to=" + aggregator_.to_string() + "&msg=hold"};
  }

  // An instance of http_ask.c as a route's pool makes one: the runtime's bindings, under
  // web/ask, with a wall time far beyond the test.
  wasm::HttpProxyInstance instance() {
    const ComponentId id{"web", "ask", "0"};
    ResourceLimits limits;
    limits.wall_time_per_call = 60s;
    wasm::HttpProxyOptions o;
    o.id = id;
    o.limits = limits;
    o.host = runtime->detached_host(id, limits, {});
    auto made = engine->instantiate_http_proxy(*testing::load(*engine, "c_http_ask"), o);
    EXPECT_TRUE(made) << made.error().describe();
    return std::move(*made);
  }

  static wasm::HttpRequest get(const std::string& path) {
    wasm::HttpRequest r;
    r.path_with_query = path;
    return r;
  }

  // Runs `test` once per silent request, each on a runtime of its own (the test destroys it).
  void each_silent_request(const std::function<void(const std::string&)>& test) {
    const std::vector<std::string> paths = silent_requests();
    for (std::size_t kind = 0; kind < paths.size(); ++kind) {
      SCOPED_TRACE(paths[kind]);
      if (kind > 0) SetUpAgain();
      test(paths[kind]);
    }
  }

  // A request to `path` on `inst`, polled until the guest waits in its messaging.call.
  wasm::HttpCall start_waiting(wasm::HttpProxyInstance& inst, const std::string& path,
                               const std::shared_ptr<TestWaker>& waker) {
    auto call = inst.start_handle(get(path));
    poll_until_waiting(call, waker);
    return call;
  }

  // Polls `call` until the guest waits in messaging.call for the aggregator (one request
  // pending in the runtime): the state the tests shut down in.
  void poll_until_waiting(wasm::HttpCall& call, const std::shared_ptr<TestWaker>& waker) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (call.poll(waker) == wasm::GuestCall::State::kPending) {
      if (runtime->correlation_stats().pending == 1) return;
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the guest never called";
      static_cast<void>(waker->wait_for(10ms));
    }
    FAIL() << "the call finished before the shutdown: the aggregator answered";
  }

  ComponentId aggregator_;
  ComponentId sleeper_;
};

TEST_F(ProxyCallAtShutdown, ACanaryCallIsAnswered) {
  auto inst = instance();
  auto r = inst.handle(get("/ask?to=test/echo/0&msg=canary"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(std::string(r->body.begin(), r->body.end()), "canary");
}

// The runtime goes while the guest waits; the call, polled on, ends with the guest's own answer
// (its call failed), not at its 60 s wall time.
TEST_F(ProxyCallAtShutdown, TheRuntimeGoesFirstAndTheCallStillEnds) {
  each_silent_request([&](const std::string& path) {
    auto inst = instance();
    auto waker = std::make_shared<TestWaker>();
    auto call = start_waiting(inst, path, waker);
    const auto start = std::chrono::steady_clock::now();
    runtime.reset();
    while (call.poll(waker) == wasm::GuestCall::State::kPending) {
      ASSERT_LT(std::chrono::steady_clock::now() - start, 20s) << "the call outlived the runtime";
      static_cast<void>(waker->wait_for(50ms));
    }
    auto r = call.response();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 502);  // http_ask's answer to a failed call
    const std::string body(r->body.begin(), r->body.end());
    EXPECT_NE(body.find(" failed: "), std::string::npos) << body;
  });
}

// The guest's call is dropped while it waits (its instance goes with it), then the runtime: the
// request's late outcome (or its dropped callback) finds no call and frees what the call left.
TEST_F(ProxyCallAtShutdown, TheCallGoesFirstThenTheRuntime) {
  each_silent_request([&](const std::string& path) {
    {
      auto inst = instance();
      auto call = start_waiting(inst, path, std::make_shared<TestWaker>());
    }
    EXPECT_EQ(runtime->correlation_stats().pending, 1U);
    runtime.reset();
  });
}

// The runtime and the call go while the guest waits, and the instance last.
TEST_F(ProxyCallAtShutdown, TheRuntimeGoesWithTheCallPending) {
  each_silent_request([&](const std::string& path) {
    auto inst = instance();
    {
      auto call = start_waiting(inst, path, std::make_shared<TestWaker>());
      runtime.reset();
    }
    EXPECT_TRUE(inst.failed());  // a call dropped while pending fails its instance
  });
}

}  // namespace
}  // namespace capsule::component

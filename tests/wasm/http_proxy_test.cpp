// wasi:http/proxy components built with componentize-py (guest/examples/python/http_hello,
// guest/python/http_probe) through the engine's C++ API: responses, the limits, the outgoing
// allow-list, and calls that suspend without holding the calling thread.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <thread>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/http_proxy.hpp>

#include "http_proxy_fixture.hpp"

namespace capsule::wasm {
namespace {

using testing::component_path;
using testing::get;
using testing::id_of;
using testing::kPythonMemory;
using testing::text_of;

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

HttpProxyOptions options_for(const std::string& name) {
  HttpProxyOptions o;
  o.id = id_of(name);
  return o;
}

class HttpProxy : public testing::HttpProxyEngine {
 protected:
  static std::shared_ptr<const CompiledComponent> compiled(const std::string& name) {
    auto c = engine_->load_file(component_path(name));
    EXPECT_TRUE(c) << c.error().describe();
    return c ? *c : nullptr;
  }

  static HttpProxyInstance start(const std::string& name, HttpProxyOptions options = {}) {
    auto c = compiled(name);
    if (options.id.name.empty()) options.id = id_of(name);
    if (options.limits.memory_bytes == 0) options.limits.memory_bytes = kPythonMemory;
    auto inst = engine_->instantiate_http_proxy(*c, std::move(options));
    EXPECT_TRUE(inst) << inst.error().describe();
    return std::move(*inst);
  }
};

class CountingWaker final : public CallWaker {
 public:
  void wake() noexcept override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

TEST_F(HttpProxy, TheComponentIsToldApartFromCapsuleComponents) {
  auto hello = compiled("py_http_hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->kind(), ComponentKind::kHttpProxy);
  // It is not an actor: the actor API refuses it, naming why.
  auto actor = engine_->instantiate(*hello, {id_of("py_http_hello"), {}, nullptr});
  ASSERT_FALSE(actor);
  EXPECT_EQ(actor.error().code, ErrorCode::kIncompatible);
  EXPECT_NE(actor.error().message.find("wasi:http/proxy"), std::string::npos);
  // And a capsule component is not a proxy.
  auto echo = compiled("echo");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->kind(), ComponentKind::kCapsule);
  auto proxy = engine_->instantiate_http_proxy(*echo, options_for("echo"));
  ASSERT_FALSE(proxy);
  EXPECT_EQ(proxy.error().code, ErrorCode::kIncompatible);
}

TEST_F(HttpProxy, HelloAnswers200WithItsBodyAndHeader) {
  auto hello = start("py_http_hello");
  auto r = hello.handle(get("/"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(text_of(r->body), "hello from python");
  EXPECT_EQ(header(*r, "x-hello"), "capsule");
  EXPECT_EQ(header(*r, "content-type"), "text/plain");
  EXPECT_TRUE(r->denied_outgoing.empty());
  // The instance takes further requests in turn (instance reuse).
  auto again = hello.handle(get("/again"));
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(text_of(again->body), "hello from python");
  EXPECT_EQ(hello.stats().calls, 2U);
  EXPECT_GT(hello.stats().fuel_consumed_last, 0U);
}

// The same hello world from C (wit-bindgen's C bindings, no capsule SDK): 70 KB, no WASI adapter.
TEST_F(HttpProxy, TheCHelloAnswersToo) {
  auto hello = start("c_http_hello");
  for (int i = 0; i < 3; ++i) {
    auto r = hello.handle(get("/x?i=" + std::to_string(i)));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(text_of(r->body), "hello from c");
    EXPECT_EQ(header(*r, "x-hello"), "capsule");
  }
  EXPECT_EQ(hello.stats().calls, 3U);
}

TEST_F(HttpProxy, TheRequestBodyIsEchoed) {
  auto hello = start("py_http_hello");
  HttpRequest req = get("/echo");
  req.method = "POST";
  req.headers = {{"content-type", "application/x-test"}};
  // Larger than one read and one write chunk of the guest, with every byte value.
  for (int i = 0; i < 70'000; ++i) req.body.push_back(static_cast<std::uint8_t>(i * 7));
  auto r = hello.handle(req);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, req.body);
  EXPECT_EQ(header(*r, "content-type"), "application/x-test");
}

TEST_F(HttpProxy, AMalformedRequestIsRefusedAndTheInstanceKeepsServing) {
  auto hello = start("py_http_hello");
  HttpRequest bad = get("no-leading-slash");
  auto r = hello.handle(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().describe();
  EXPECT_FALSE(hello.failed());
  HttpRequest bad_method = get("/");
  bad_method.method = "GE T";
  EXPECT_FALSE(hello.handle(bad_method));
  auto ok = hello.handle(get("/"));
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpProxy, ATrapIsNamedAndAFreshInstanceServesTheNextRequest) {
  auto probe = start("py_http_probe");
  auto r = probe.handle(get("/trap"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTrap) << r.error().describe();
  EXPECT_NE(r.error().message.find("test/py_http_probe/0"), std::string::npos)
      << r.error().describe();
  EXPECT_NE(r.error().message.find("wasi:http/incoming-handler.handle"), std::string::npos)
      << r.error().describe();
  EXPECT_TRUE(probe.failed());
  // The failed instance refuses further requests; a fresh one serves them.
  auto refused = probe.handle(get("/"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  auto fresh = start("py_http_probe");
  auto ok = fresh.handle(get("/"));
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(text_of(ok->body), "probe");
}

TEST_F(HttpProxy, ASleepPastTheWallTimeFailsAtTheLimitWithoutHoldingTheThread) {
  constexpr auto kLimit = std::chrono::milliseconds{300};
  auto options = options_for("py_http_probe");
  options.limits.wall_time_per_call = kLimit;
  auto probe = start("py_http_probe", options);
  auto other = start("py_http_hello");
  const auto t0 = std::chrono::steady_clock::now();
  auto call = probe.start_handle(get("/sleep?ms=3600000"));
  auto waker = std::make_shared<CountingWaker>();
  // The guest waits in a WASI sleep: the call suspends and the thread gets control back.
  ASSERT_EQ(call.poll(waker), GuestCall::State::kPending);
  EXPECT_TRUE(probe.busy());
  // Other work on the same thread meanwhile: another instance answers a request.
  auto served = other.handle(get("/"));
  ASSERT_TRUE(served) << served.error().describe();
  EXPECT_EQ(served->status, 200);
  // The owner's loop: poll on wakes, expire at the deadline.
  while (!call.ready()) {
    if (std::chrono::steady_clock::now() >= call.deadline()) {
      call.expire();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
    if (waker->wakes.load() > 0 && call.poll(waker) == GuestCall::State::kReady) break;
  }
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  auto r = call.response();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInterrupted) << r.error().describe();
  EXPECT_NE(r.error().message.find("wall-time limit of 300 ms"), std::string::npos)
      << r.error().describe();
  EXPECT_GE(elapsed, kLimit);
  EXPECT_LT(elapsed, std::chrono::minutes{1}) << "the sleep was not cut at the limit";
  EXPECT_TRUE(probe.failed());
}

TEST_F(HttpProxy, AShortSleepIsWokenByTheReactorAndAnswers) {
  auto probe = start("py_http_probe");
  const auto t0 = std::chrono::steady_clock::now();
  auto call = probe.start_handle(get("/sleep?ms=50"));
  auto waker = std::make_shared<CountingWaker>();
  ASSERT_EQ(call.poll(waker), GuestCall::State::kPending);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  while (call.poll(waker) == GuestCall::State::kPending) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "never woken";
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  EXPECT_GT(waker->wakes.load(), 0) << "the timer did not wake the owner";
  // CPython sleeps until an absolute instant: the timer and the guest's clock agree.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{50});
  auto r = call.response();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(text_of(r->body), "slept");
}

TEST_F(HttpProxy, OutgoingHttpIsDeniedByDefault) {
  auto probe = start("py_http_probe");
  auto r = probe.handle(get("/fetch?host=example.com"));
  ASSERT_TRUE(r) << r.error().describe();
  // The guest sees wasi:http's HTTP-request-denied, and the host reports the request.
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(text_of(r->body), "ErrorCode_HttpRequestDenied");
  ASSERT_EQ(r->denied_outgoing.size(), 1U);
  EXPECT_EQ(r->denied_outgoing[0], "GET http://example.com");
  EXPECT_EQ(probe.outgoing_denied_total(), 1U);
}

TEST_F(HttpProxy, TheAllowListPermitsOnlyItsHosts) {
  // 127.0.0.1:9 (discard) is allowed: the request goes out (and fails to connect); any other
  // host is still denied.
  auto options = options_for("py_http_probe");
  options.outgoing_allowed_hosts = {"127.0.0.1:9"};
  auto probe = start("py_http_probe", options);
  auto allowed = probe.handle(get("/fetch?host=127.0.0.1:9"));
  ASSERT_TRUE(allowed) << allowed.error().describe();
  EXPECT_NE(text_of(allowed->body), "ErrorCode_HttpRequestDenied");
  EXPECT_TRUE(allowed->denied_outgoing.empty());
  auto denied = probe.handle(get("/fetch?host=127.0.0.2:9"));
  ASSERT_TRUE(denied) << denied.error().describe();
  EXPECT_EQ(text_of(denied->body), "ErrorCode_HttpRequestDenied");
}

TEST_F(HttpProxy, AnAllocationPastTheMemoryLimitIsNamed) {
  auto probe = start("py_http_probe");
  auto small = probe.handle(get("/alloc?mib=1"));
  ASSERT_TRUE(small) << small.error().describe();
  auto r = probe.handle(get("/alloc?mib=200"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kMemoryLimit) << r.error().describe();
  EXPECT_NE(r.error().message.find("memory limit of 64 MiB"), std::string::npos)
      << r.error().describe();
  EXPECT_TRUE(probe.failed());
}

TEST_F(HttpProxy, AResponseOverTheLimitIsRefused) {
  auto options = options_for("py_http_probe");
  options.max_response_bytes = 256ULL << 10;
  auto probe = start("py_http_probe", options);
  auto small = probe.handle(get("/big?kib=200"));
  ASSERT_TRUE(small) << small.error().describe();
  EXPECT_EQ(small->body.size(), 200U << 10);
  auto huge = probe.handle(get("/big?kib=4096"));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, ErrorCode::kQuotaExceeded) << huge.error().describe();
  EXPECT_NE(huge.error().message.find("over the limit of 262144 bytes"), std::string::npos)
      << huge.error().describe();
  EXPECT_NE(huge.error().message.find("test/py_http_probe/0"), std::string::npos);
  EXPECT_TRUE(probe.failed());
}

}  // namespace
}  // namespace capsule::wasm

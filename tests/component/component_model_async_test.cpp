// A component that uses the component model's async built-ins (guest/examples/async_abi.c, C
// bindings from wit-bindgen with --generate-async-helpers: task context slots, waitable sets,
// thread.yield) runs like any other on an engine built with component-model-async. One that
// yields forever or waits on nothing fails with an error naming it, is restarted, and a canary
// keeps answering. An engine configured without the async ABI refuses it at load, naming why.
// JavaScript built with jco's QuickJS backend, which needs the ABI, runs as it is.
#include "runtime_fixture.hpp"

namespace capsule::component {
namespace {

using namespace capsule::component::testing;
using namespace std::chrono_literals;

class ComponentModelAsync : public RuntimeFixture {
 protected:
  void expect_reply(const ComponentId& to, std::string_view text, std::string_view want) {
    auto r = ask(to, text);
    ASSERT_TRUE(r) << text << ": " << r.error().describe();
    EXPECT_EQ(r->as_string(), want) << text;
  }
};

TEST_F(ComponentModelAsync, TheAsyncBuiltInsWorkInsideLifecycleCalls) {
  const auto ids = start(spec("abi", "async_abi", 4));
  ASSERT_EQ(ids.size(), 4U);
  expect_reply(ids[0], "context", "context ok");
  expect_reply(ids[0], "waitable", "poll: none");
  expect_reply(ids[0], "yield:100", "yielded 100");
  expect_reply(ids[0], "plain text", "plain text");
  // Yielding calls on every instance at once: each gets its own answer.
  std::vector<std::future<Result<Payload>>> many;
  many.reserve(200);
  for (int i = 0; i < 200; ++i) {
    const auto& to = ids[static_cast<std::size_t>(i) % ids.size()];
    many.push_back(runtime->ask(to, Payload::text("yield:" + std::to_string(i % 7)), 10s));
  }
  for (int i = 0; i < 200; ++i) {
    auto r = many[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r) << i << ": " << r.error().describe();
    EXPECT_EQ(r->as_string(), "yielded " + std::to_string(i % 7));
  }
}

TEST_F(ComponentModelAsync, AGuestThatYieldsForeverOrWaitsOnNothingFailsAndTheHostServesOn) {
  auto hostile_spec = spec("hostile", "async_abi");
  hostile_spec.limits.wall_time_per_call = 300ms;
  hostile_spec.supervision.max_restarts = 10;
  const auto hostile = start(std::move(hostile_spec))[0];
  const auto canary = start(spec("canary", "echo"))[0];

  for (const std::string bad : {"yield-forever", "stall"}) {
    auto pending = runtime->ask(hostile, Payload::text(bad), 10s);
    for (int i = 0; i < 5; ++i) expect_reply(canary, "ping", "ping");
    auto r = pending.get();
    ASSERT_FALSE(r) << bad << " answered " << r->as_string();
    EXPECT_NE(r.error().message.find("test/hostile"), std::string::npos)
        << bad << ": " << r.error().describe();
    // The restarted instance serves again.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    Result<Payload> ok = ask(hostile, "after " + bad, 1s);
    while (!ok && std::chrono::steady_clock::now() < deadline)
      ok = ask(hostile, "after " + bad, 1s);
    ASSERT_TRUE(ok) << "after " << bad << ": " << ok.error().describe();
    EXPECT_EQ(ok->as_string(), "after " + bad);
  }
}

#ifdef CAPSULE_JS_GUESTS
// guest/examples/js/{echo,counter} built unchanged with jco's QuickJS backend (componentize-qjs),
// whose runtime calls task.cancel and the other async built-ins: the toolchain the issue found
// failing to compile on capsule.
class QuickJsGuests : public ComponentModelAsync {
 protected:
  QuickJsGuests() {
    RuntimeConfig config;
    config.storage = open_sqlite_store();
    reconfigure(config);
  }
};

TEST_F(QuickJsGuests, AQuickJsEchoAnswersEveryRequest) {
  const auto ids = start(spec("qecho", "qjs_echo", 2));
  ASSERT_EQ(ids.size(), 2U);
  expect_reply(ids[0], "hello from quickjs", "hello from quickjs");
  std::vector<std::future<Result<Payload>>> many;
  many.reserve(100);
  for (int i = 0; i < 100; ++i) {
    many.push_back(runtime->ask(ids[static_cast<std::size_t>(i) % 2],
                                Payload::text("q" + std::to_string(i)), 10s));
  }
  for (int i = 0; i < 100; ++i) {
    auto r = many[static_cast<std::size_t>(i)].get();
    ASSERT_TRUE(r) << i << ": " << r.error().describe();
    EXPECT_EQ(r->as_string(), "q" + std::to_string(i));
  }
}

TEST_F(QuickJsGuests, AQuickJsCounterKeepsItsCountInStorageAcrossARestart) {
  const auto counter = start(spec("qcounter", "qjs_counter"))[0];
  expect_reply(counter, "incr", "1");
  expect_reply(counter, "incr", "2");
  ASSERT_TRUE(runtime->stop(counter.ns, counter.name));
  const auto again = start(spec("qcounter", "qjs_counter"))[0];
  expect_reply(again, "get", "2");
  auto bad = ask(again, "launch");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown command 'launch'"), std::string::npos)
      << bad.error().describe();
}
#endif

TEST(ComponentModelAsyncSide, ASecondLoadOfTheSameBytesGoesStraightToTheAsyncAbiSide) {
  wasm::EngineConfig config;
  config.pooling.enabled = false;  // no compile cache either: every load compiles
  auto engine = wasm::WasmEngine::create(config);
  ASSERT_TRUE(engine) << engine.error().describe();
  const auto path = std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "async_abi.wasm";
  auto first = (*engine)->load_file(path);
  ASSERT_TRUE(first) << first.error().describe();
  // The main side validated it and refused it, then the async-ABI side compiled it.
  EXPECT_EQ((*engine)->stats().compiles, 2U);
  auto second = (*engine)->load_file(path);
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ((*engine)->stats().compiles, 3U);
  // Both run (their instances take the async-ABI side's engine and linker).
  for (const auto& c : {*first, *second}) {
    wasm::InstanceOptions options;
    options.id = ComponentId{"t", "abi", "0"};
    auto instance = (*engine)->instantiate(*c, std::move(options));
    ASSERT_TRUE(instance) << instance.error().describe();
  }
}

TEST(ComponentModelAsyncOff, AnEngineWithoutTheAsyncAbiRefusesTheComponentNamingTheFeature) {
  wasm::EngineConfig config;
  config.pooling.enabled = false;
  config.component_model_async = false;
  auto engine = wasm::WasmEngine::create(config);
  ASSERT_TRUE(engine) << engine.error().describe();
  const auto dir = std::filesystem::path(CAPSULE_COMPONENTS_DIR);
  auto c = (*engine)->load_file(dir / "async_abi.wasm");
  ASSERT_FALSE(c) << "async_abi loaded without the async ABI";
  EXPECT_EQ(c.error().code, ErrorCode::kIncompatible) << c.error().describe();
  EXPECT_NE(c.error().message.find("component model async"), std::string::npos)
      << c.error().describe();
#ifdef CAPSULE_JS_GUESTS
  auto qjs = (*engine)->load_file(dir / "qjs_echo.wasm");
  ASSERT_FALSE(qjs) << "qjs_echo loaded without the async ABI";
  EXPECT_NE(qjs.error().message.find("component model async"), std::string::npos)
      << qjs.error().describe();
#endif
  // The synchronous components are unaffected.
  auto echo = (*engine)->load_file(dir / "echo.wasm");
  EXPECT_TRUE(echo) << echo.error().describe();
}

}  // namespace
}  // namespace capsule::component

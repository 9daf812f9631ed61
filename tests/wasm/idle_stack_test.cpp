// An idle instance hands the fiber stack its store keeps back to the kernel
// (ComponentInstance::release_idle_stack): the pages go, the instance's state stays, and the
// next call runs on fresh pages.
#include <gtest/gtest.h>

#include "component_fixture.hpp"

namespace capsule::wasm {
namespace {

using testing::id_of;
using testing::load;
using testing::make_engine;
using testing::message_with;

std::string send(ComponentInstance& c, const char* text) {
  auto r = c.handle_message(message_with(Payload::text(text)));
  EXPECT_TRUE(r) << r.error().describe();
  return r && *r ? (*r)->as_string() : std::string("<no reply>");
}

TEST(IdleStack, ReleasedStackKeepsStateAndTheNextCallWorks) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  auto compiled = load(*engine, "counter");
  auto c = engine->instantiate(*compiled, {id_of("counter"), {}, nullptr});
  ASSERT_TRUE(c) << c.error().describe();
  ASSERT_TRUE(c->init({{"start", "10"}}));
  EXPECT_EQ(send(*c, "inc"), "11");
  EXPECT_GT(c->stack_resident_pages(), 0) << "a call ran on the store's stack";

  EXPECT_TRUE(c->release_idle_stack());
  EXPECT_EQ(c->stack_resident_pages(), 0);

  // The counter lives in linear memory, not on the stack: it survives, and calls go on.
  EXPECT_EQ(send(*c, "inc"), "12");
  EXPECT_GT(c->stack_resident_pages(), 0);
  EXPECT_TRUE(c->release_idle_stack());
  EXPECT_EQ(send(*c, "add:100"), "112");
  EXPECT_TRUE(c->health());
}

TEST(IdleStack, ReleaseTouchesOnlyItsOwnInstancesStack) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  auto compiled = load(*engine, "counter");
  constexpr int kInstances = 8;
  std::vector<ComponentInstance> all;
  all.reserve(kInstances);
  for (int i = 0; i < kInstances; ++i) {
    auto c = engine->instantiate(*compiled, {id_of("counter", i), {}, nullptr});
    ASSERT_TRUE(c) << c.error().describe();
    ASSERT_TRUE(c->init({{"start", std::to_string(i * 100)}}));
    EXPECT_EQ(send(*c, "inc"), std::to_string(i * 100 + 1));
    all.push_back(std::move(*c));
  }
  // Every other instance lets go of its stack; the others keep theirs, page for page.
  std::vector<std::int64_t> before;
  before.reserve(all.size());
  for (auto& c : all) before.push_back(c.stack_resident_pages());
  for (std::size_t i = 0; i < all.size(); i += 2) EXPECT_TRUE(all[i].release_idle_stack());
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(all[i].stack_resident_pages(), 0) << "instance " << i;
    } else {
      EXPECT_EQ(all[i].stack_resident_pages(), before[i]) << "instance " << i;
    }
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(send(all[i], "get"), std::to_string(i * 100 + 1)) << "instance " << i;
  }
}

TEST(IdleStack, NotWhileACallIsInFlight) {
  auto engine = make_engine();
  ASSERT_TRUE(engine);
  auto compiled = load(*engine, "echo");
  auto c = engine->instantiate(*compiled, {id_of("echo"), {}, nullptr});
  ASSERT_TRUE(c) << c.error().describe();
  ASSERT_TRUE(c->init({}));
  const auto message = message_with(Payload::text("ping"));  // the call borrows it
  auto call = c->start_handle_message(message);
  EXPECT_FALSE(c->release_idle_stack()) << "the call borrows the store and its stack";
  run_to_completion(call);
  auto reply = call.reply();
  ASSERT_TRUE(reply) << reply.error().describe();
  EXPECT_EQ((*reply)->as_string(), "ping");
  EXPECT_TRUE(c->release_idle_stack());
}

TEST(IdleStack, UnpooledEnginesKeepTheirStacksAndStillAnswer) {
  EngineConfig config;
  config.pooling.enabled = false;
  auto engine = make_engine(config);
  ASSERT_TRUE(engine);
  auto compiled = load(*engine, "counter");
  auto c = engine->instantiate(*compiled, {id_of("counter"), {}, nullptr});
  ASSERT_TRUE(c) << c.error().describe();
  ASSERT_TRUE(c->init({}));
  EXPECT_EQ(send(*c, "inc"), "1");
  EXPECT_FALSE(c->release_idle_stack());
  EXPECT_EQ(c->stack_resident_pages(), -1);
  EXPECT_EQ(send(*c, "inc"), "2");
}

}  // namespace
}  // namespace capsule::wasm

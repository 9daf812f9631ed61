// Exactly one outcome per request, whatever floods the requester's mailbox: outcomes travel on
// the control lane, which no backpressure policy refuses, drops or evicts.
#include <algorithm>

#include "hostile_fixture.hpp"

namespace capsule::hostile {
namespace {

using security::Action;

class FloodedRequester : public HostileFixture,
                         public ::testing::WithParamInterface<rt::BackpressurePolicy> {};

TEST_P(FloodedRequester, GetsEveryOutcomeWhileItsMailboxIsFlooded) {
  component::ComponentSpec s;
  s.ns = "test";
  s.name = "hostile";
  s.component = *engine->load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) / "hostile.wasm");
  s.config = {{"attack", "requester"}};
  s.permissions = grants({{Action::kRequest, "test/canary/*", {}}});
  s.mailbox = rt::MailboxConfig::bounded(8, GetParam(), 5ms);
  s.supervision.backoff = rt::BackoffPolicy::none();
  auto ids = runtime->start(s);
  ASSERT_TRUE(ids) << ids.error().describe();
  const ComponentId requester = ids->front();

  // The flood starts before the requests go out and goes on while their outcomes come back:
  // bursts that fill the mailbox many times over, with short gaps for the test's own messages
  // ("go", "count") to get into the data lane at all.
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> flooded{0};
  std::jthread flood([&] {
    while (!stop.load()) {
      for (int i = 0; i < 200; ++i) {
        static_cast<void>(runtime->send(component::ComponentRuntime::privileged_caller(), requester,
                                        Payload::text("x")));
      }
      flooded.fetch_add(200);
      std::this_thread::sleep_for(200us);
    }
  });
  struct StopFlood {
    std::atomic<bool>& stop;
    ~StopFlood() { stop.store(true); }
  } stop_flood{stop};  // also when an assertion returns early: the jthread then joins
  while (flooded.load() < 1000) std::this_thread::sleep_for(1ms);
  // "go" itself may be dropped or refused by the flooded data lane: retried until it runs.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string sent;
  while (sent.rfind("ok=", 0) != 0 && std::chrono::steady_clock::now() < deadline) {
    auto r = runtime->call(requester, Payload::text("go"), 300ms);
    sent = r ? r->as_string() : "";
    if (!r) std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(sent.rfind("ok=50", 0), 0U) << sent;
  std::string count;
  while (count != "callbacks=50" && std::chrono::steady_clock::now() < deadline) {
    auto r = runtime->call(requester, Payload::text("count"), 300ms);
    if (r) count = r->as_string();
    if (!r) std::this_thread::sleep_for(1ms);
  }
  stop.store(true);
  flood.join();
  EXPECT_GE(flooded.load(), 1000U);  // the requests went out into a flood of at least this
  EXPECT_EQ(count, "callbacks=50") << "every request ends in exactly one delivered outcome";
  const auto stats = runtime->correlation_stats();
  EXPECT_EQ(stats.pending, 0U);
  expect_nothing_else_changed();
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, FloodedRequester,
                         ::testing::Values(rt::BackpressurePolicy::kDropOldest,
                                           rt::BackpressurePolicy::kDropNewest,
                                           rt::BackpressurePolicy::kError,
                                           rt::BackpressurePolicy::kBlock),
                         [](const ::testing::TestParamInfo<rt::BackpressurePolicy>& p) {
                           std::string name(rt::to_string(p.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace capsule::hostile

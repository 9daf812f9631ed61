// Confirmed sends pipelined across hosts (capsule:core 0.1.2 `messaging.send-batch`, and
// ComponentRuntime::send_batch for host code): real components on two hosts over a real
// nats-server. The sending guest is guest/examples/relay.c in mode=batch; it publishes
// "ok=A err=B outcomes=..." (each message's outcome, in order) when its batches are done.
#include <algorithm>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <capsule/security/policy_engine.hpp>

#include "cluster_fixture.hpp"
#include "silent_host.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;
using security::Action;
using security::Capability;

const ComponentId kCaller = ComponentRuntime::privileged_caller();

// The number a batch message starts with (relay.c pads it to 64 bytes; the forwarding relay
// appends "|tag").
int number_of(const std::string& text) {
  return std::atoi(text.c_str());
}

// A batcher relay on `host`: sends to `targets` (comma-separated ids) `batch` per call and
// reports on topic `<name>.done`, which `inbox` receives on `host`.
ComponentSpec batcher_spec(Host& host, const std::string& name, const std::string& targets,
                           unsigned batch) {
  ComponentSpec spec;
  spec.ns = "test";
  spec.name = name;
  auto c = host.runtime->engine().load_file(std::filesystem::path(CAPSULE_COMPONENTS_DIR) /
                                            "relay.wasm");
  EXPECT_TRUE(c) << c.error().describe();
  spec.component = *c;
  spec.config = {{"mode", "batch"},
                 {"targets", targets},
                 {"batch", std::to_string(batch)},
                 {"done_topic", name + ".done"}};
  spec.supervision.backoff = rt::BackoffPolicy::none();
  return spec;
}

class SendBatchTest : public ClusterFixture {
 protected:
  // Starts the batcher, sends it "count" and returns its report.
  static std::string run_batcher(Host& host, const ComponentSpec& spec, int count) {
    Inbox done;
    auto sub = host.runtime->subscribe_host(spec.name + ".done",
                                            [&](const ComponentMessage& m) { done.push(m); });
    EXPECT_TRUE(sub) << sub.error().describe();
    auto started = host.runtime->start(spec);
    EXPECT_TRUE(started) << started.error().describe();
    EXPECT_TRUE(host.runtime->send(kCaller, {"test", spec.name, "0"},
                                   Payload::text(std::to_string(count))));
    if (!done.wait_for(1, std::chrono::seconds(30))) return "no report";
    return done.messages().front();
  }
};

// 1,000 messages in batches of 100 to one component on the other host: every one confirmed, and
// every one arrives, in the order sent.
TEST_F(SendBatchTest, ABatchArrivesWholeAndInOrderOnTheOtherHost) {
  Inbox got;
  auto sub = b->runtime->subscribe_host("got", [&](const ComponentMessage& m) { got.push(m); });
  ASSERT_TRUE(sub);
  b->start("sink", "relay", {{"mode", "forward"}, {"topic", "got"}, {"tag", "b"}});
  ASSERT_TRUE(a->sees("beta", 1));
  constexpr int kCount = 1000;
  EXPECT_EQ(run_batcher(*a, batcher_spec(*a, "batcher", "test/sink/0", 100), kCount),
            "ok=1000 err=0");
  ASSERT_TRUE(got.wait_for(kCount));
  const auto received = got.messages();
  ASSERT_EQ(received.size(), std::size_t{kCount});
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(number_of(received[i]), i) << "message " << i << " out of order: " << received[i];
  }
  EXPECT_EQ(b->bridge->stats().inbound_dropped, 0u);
}

// One batch, six targets, six different fates, each reported at its own index: delivered, a full
// mailbox on the other host, a target the sender was not granted, a target no host runs, a host
// that never answers (its own deadline), delivered again.
TEST_F(SendBatchTest, EachMessageOfAMixedBatchGetsItsOwnOutcome) {
  auto policy = std::make_shared<security::PolicyEngine>();
  Host gamma("gamma", server.url(), engine_, {}, {}, policy);
  Inbox got;
  auto sub = b->runtime->subscribe_host("got", [&](const ComponentMessage& m) { got.push(m); });
  ASSERT_TRUE(sub);
  b->start("sink", "relay", {{"mode", "forward"}, {"topic", "got"}, {"tag", "b"}});
  // spin: one message keeps it busy for 5 s, and its mailbox holds one more.
  const auto spin = b->start("spin", "spin", {}, 1,
                             ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{5000}},
                             rt::MailboxConfig::bounded(1, rt::BackpressurePolicy::kError))
                        .front();
  const SilentHost ghost(server.url());
  ASSERT_TRUE(gamma.sees("beta", 2));
  ASSERT_TRUE(gamma.sees("ghost", 1));
  // Fill spin: two accepted (one running, one queued), and then it refuses.
  int accepted = 0;
  ASSERT_TRUE(eventually([&] {
    if (b->runtime->send(kCaller, spin, Payload::text("busy"))) ++accepted;
    return accepted == 2;
  }));
  auto refused = b->runtime->send(kCaller, spin, Payload::text("one more"));
  ASSERT_FALSE(refused);
  ASSERT_EQ(refused.error().code, ErrorCode::kMailboxFull) << refused.error().describe();
  const auto dropped_before = b->bridge->stats().inbound_dropped;

  ComponentSpec spec = batcher_spec(
      gamma, "batcher",
      "test/sink/0,test/spin/0,test/secret/0,test/nobody/0,test/ghost/0,test/sink/0", 6);
  const std::vector<Capability> grants{{Action::kSend, "test/sink/**", std::nullopt},
                                       {Action::kSend, "test/spin/**", std::nullopt},
                                       {Action::kSend, "test/nobody/**", std::nullopt},
                                       {Action::kSend, "test/ghost/**", std::nullopt},
                                       {Action::kPublish, "**", std::nullopt}};
  spec.permissions.declared = grants;
  spec.permissions.granted = grants;
  // A mailbox full on another host is the error a send alone gets (mailbox-full, which the WIT
  // `error` has no case for: `internal` with the text).
  EXPECT_EQ(run_batcher(gamma, spec, 6),
            "ok=2 err=4 outcomes=ok,internal,permission-denied,not-found,unavailable,ok");
  ASSERT_TRUE(got.wait_for(2));
  const auto received = got.messages();
  EXPECT_EQ(number_of(received.at(0)), 0);
  EXPECT_EQ(number_of(received.at(1)), 5);
  EXPECT_EQ(b->bridge->stats().inbound_dropped, dropped_before + 1) << "the full mailbox";
  EXPECT_GE(ghost.swallowed(), 1) << "the silent host got its message and never answered";
}

// Host code's batches: the same outcomes as its sends would get, with their codes and texts, and
// a batch over the limit refused whole, nothing sent.
TEST_F(SendBatchTest, HostBatchesGetExactOutcomesAndTheLimitIsRefusedWhole) {
  const auto sink = b->start("sink", "echo").front();
  ASSERT_TRUE(a->sees("beta", 1));
  const auto processed = [&] {
    for (const auto& info : b->runtime->list()) {
      if (info.id == sink) return info.mailbox.processed;
    }
    return std::uint64_t{0};
  };
  const auto run = [&](std::vector<OutgoingMessage> messages) {
    std::promise<BatchOutcome> outcome;
    a->runtime->send_batch(kCaller, std::move(messages),
                           [&](BatchOutcome o) { outcome.set_value(std::move(o)); });
    return outcome.get_future().get();
  };
  auto mixed = run({{sink, Payload::text("1")},
                    {{"test", "nobody", "0"}, Payload::text("2")},
                    {sink, Payload::text("3")}});
  ASSERT_TRUE(mixed) << mixed.error().describe();
  ASSERT_EQ(mixed->size(), 3u);
  EXPECT_TRUE((*mixed)[0]);
  ASSERT_FALSE((*mixed)[1]);
  EXPECT_EQ((*mixed)[1].error().code, ErrorCode::kNotFound);
  EXPECT_EQ(
      (*mixed)[1].error().message,
      a->runtime->send(kCaller, {"test", "nobody", "0"}, Payload::text("alone")).error().message)
      << "the refusal a send alone gets";
  EXPECT_TRUE((*mixed)[2]);
  EXPECT_TRUE(eventually([&] { return processed() == 2; }));

  std::vector<OutgoingMessage> too_many(kMaxSendBatch + 1, {sink, Payload::text("x")});
  auto refused = run(std::move(too_many));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("at most 1024"), std::string::npos)
      << refused.error().describe();
  auto last = run({{sink, Payload::text("after")}});
  ASSERT_TRUE(last && last->front());
  EXPECT_TRUE(eventually([&] { return processed() == 3; }));
  EXPECT_EQ(processed(), 3u) << "the refused batch sent nothing";
}

// A guest's batch over the limit: the whole call is invalid-argument, and the instance goes on.
TEST_F(SendBatchTest, AGuestBatchOverTheLimitIsRefusedWhole) {
  b->start("sink", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  EXPECT_EQ(run_batcher(*a, batcher_spec(*a, "batcher", "test/sink/0", 1025), 1025),
            "ok=0 err=1025 batch-error=invalid-argument");
  for (const auto& info : b->runtime->list()) {
    EXPECT_EQ(info.mailbox.enqueued, 0u) << "nothing of the refused batch was sent";
  }
}

// Batches waiting for a host that never answers hold no scheduler worker: more batchers than
// workers wait at once while a local canary keeps answering, and they end only when that host
// leaves (their confirmation deadline is a minute away).
TEST_F(SendBatchTest, BatchesInFlightDoNotHoldWorkers) {
  Host gamma("gamma", server.url(), engine_, {}, {}, nullptr, std::chrono::seconds(60));
  SilentHost ghost(server.url());
  ASSERT_TRUE(gamma.sees("ghost", 1));
  const auto canary = gamma.start("canary", "echo").front();
  const unsigned workers = std::max(2U, std::thread::hardware_concurrency());
  const unsigned batchers = workers + 2;
  Inbox done;
  std::vector<component::HostSubscription> subs;
  for (unsigned i = 0; i < batchers; ++i) {
    const std::string name = "batcher" + std::to_string(i);
    auto sub = gamma.runtime->subscribe_host(name + ".done",
                                             [&](const ComponentMessage& m) { done.push(m); });
    ASSERT_TRUE(sub);
    subs.push_back(std::move(*sub));
    ASSERT_TRUE(gamma.runtime->start(batcher_spec(gamma, name, "test/ghost/0", 8)));
    ASSERT_TRUE(
        gamma.runtime->send(kCaller, {"test", name, "0"}, Payload::text(std::to_string(8))));
  }
  ASSERT_TRUE(eventually([&] { return ghost.swallowed() >= static_cast<int>(batchers); }))
      << "every batch left for the silent host";
  for (int i = 0; i < 20; ++i) {
    auto r = gamma.runtime->call(canary, Payload::text("ping"), std::chrono::seconds(10));
    ASSERT_TRUE(r) << "ping " << i << ": " << r.error().describe();
  }
  EXPECT_TRUE(done.messages().empty()) << "a batch ended before its host answered or left";
  ghost.goodbye();
  ASSERT_TRUE(done.wait_for(batchers));
  for (const auto& report : done.messages()) {
    EXPECT_EQ(report,
              "ok=0 err=8 outcomes=unavailable,unavailable,unavailable,unavailable,unavailable,"
              "unavailable,unavailable,unavailable");
  }
}

}  // namespace
}  // namespace capsule::cluster

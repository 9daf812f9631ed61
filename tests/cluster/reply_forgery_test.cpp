// Replies that must not complete a request: from a responder that is not the request's target,
// sent to a previous life of the requesting host, or aimed at a request that never left this
// host. A plain NATS client on the cluster's server plays the forger.
#include <thread>

#include <capsule/cluster/wire.hpp>

#include "cluster_fixture.hpp"
#include "raw_client.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;

// A plain NATS client on the cluster's server that publishes hand-made replies: what any process
// that can reach the server could send.
class Forger {
 public:
  explicit Forger(const std::string& url) : client_(url) {}

  // Replies for correlation ids 1..n, as if from `responder`, to `subject`.
  void replies(const std::string& subject, const ComponentId& responder, int n) {
    for (int id = 1; id <= n; ++id) {
      WireMessage m;
      m.kind = WireMessage::Kind::kReply;
      m.origin_host = "beta";
      m.target = responder;
      m.correlation = static_cast<CorrelationId>(id);
      m.payload = Payload::text("forged");
      client_.publish(subject, encode(m), id == n);
    }
  }

 private:
  RawClient client_;
};

ResourceLimits spin_limits() {
  return ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{600}};
}

TEST_F(ClusterFixture, RepliesFromTheWrongResponderOrAnotherLifeAreDropped) {
  b->start("spin", "spin", {}, 1, spin_limits());
  ASSERT_TRUE(a->sees("beta", 1));
  auto pending =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Forger forger(server.url());
  const Subjects subjects{"test"};
  // The right life, the wrong responder.
  forger.replies(subjects.reply("alpha", a->bridge->boot(), "beta"), {"test", "other", "0"}, 20);
  // The right responder, a previous life of alpha: nobody listens there.
  forger.replies(subjects.reply("alpha", "0000000000000000", "beta"), {"test", "spin", "0"}, 20);
  ASSERT_TRUE(eventually([&] { return a->bridge->stats().mismatched_replies >= 1; }));
  auto r = pending.get();
  ASSERT_FALSE(r) << "a forged reply completed the request: " << r->as_string();
  EXPECT_NE(r.error().message.find("wall-time limit"), std::string::npos) << r.error().describe();
  EXPECT_EQ(a->runtime->correlation_stats().replied, 0u);
  // Where libnats has the reader hook, the forged replies were judged on the reader thread.
  if (a->bridge->delivers_on_reader()) {
    EXPECT_GE(a->bridge->stats().handled_on_reader, 20u);
  }
}

// Replies, requests and acks are handled on the NATS connection's reader thread (no hand-off to a
// delivery thread); heartbeats are not, and still keep the hosts in each other's view.
TEST_F(ClusterFixture, RepliesRequestsAndAcksAreHandledOnTheReaderThread) {
  if (!a->bridge->delivers_on_reader()) GTEST_SKIP() << "this libnats has no reader hook";
  b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  const auto a0 = a->bridge->stats().handled_on_reader;
  const auto b0 = b->bridge->stats().handled_on_reader;
  auto r =
      a->runtime->ask({"test", "echo", "0"}, Payload::text("over"), std::chrono::seconds(5)).get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "over");
  EXPECT_GE(a->bridge->stats().handled_on_reader, a0 + 1);  // the reply
  EXPECT_GE(b->bridge->stats().handled_on_reader, b0 + 1);  // the request
  const auto a1 = a->bridge->stats().handled_on_reader;
  ASSERT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(), {"test", "echo", "0"},
                               Payload::text("confirmed")));
  EXPECT_GE(a->bridge->stats().handled_on_reader, a1 + 1);  // its acknowledgement
  // Three heartbeat intervals of heartbeats only: none of them on the reader, beta still alive.
  const auto idle = a->bridge->stats().handled_on_reader;
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_EQ(a->bridge->stats().handled_on_reader, idle);
  EXPECT_TRUE(a->sees("beta", 1));
}

// The canary: with deliver_on_reader off everything goes through cnats' delivery threads, and
// the same replies are matched and the same forgeries dropped.
TEST_F(ClusterFixture, WithoutReaderDeliveryRepliesAreMatchedOnTheDeliveryThreads) {
  a.reset();
  b.reset();
  const auto pool = [](BridgeConfig& c) { c.deliver_on_reader = false; };
  a = std::make_unique<Host>("alpha", server.url(), engine_, "", "", nullptr,
                             std::chrono::seconds(2), nullptr, TlsFiles{}, true, nullptr, pool);
  b = std::make_unique<Host>("beta", server.url(), engine_, "", "", nullptr,
                             std::chrono::seconds(2), nullptr, TlsFiles{}, true, nullptr, pool);
  EXPECT_FALSE(a->bridge->delivers_on_reader());
  b->start("echo", "echo");
  b->start("spin", "spin", {}, 1, spin_limits());
  ASSERT_TRUE(a->sees("beta", 2));
  auto r =
      a->runtime->ask({"test", "echo", "0"}, Payload::text("pool"), std::chrono::seconds(5)).get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "pool");
  auto pending =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Forger forger(server.url());
  forger.replies(Subjects{"test"}.reply("alpha", a->bridge->boot(), "beta"), {"test", "other", "0"},
                 20);
  ASSERT_TRUE(eventually([&] { return a->bridge->stats().mismatched_replies >= 1; }));
  auto hung = pending.get();
  ASSERT_FALSE(hung) << "a forged reply completed the request: " << hung->as_string();
  EXPECT_EQ(a->bridge->stats().handled_on_reader, 0u);
  EXPECT_EQ(b->bridge->stats().handled_on_reader, 0u);
}

TEST_F(ClusterFixture, AWireReplyCannotCompleteALocalRequest) {
  a->start("spin", "spin", {}, 1, spin_limits());
  auto pending =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Forger forger(server.url());
  forger.replies(Subjects{"test"}.reply("alpha", a->bridge->boot(), "beta"), {"test", "spin", "0"},
                 20);
  ASSERT_TRUE(eventually([&] { return a->bridge->stats().unmatched_replies >= 1; }));
  auto r = pending.get();
  ASSERT_FALSE(r) << "a forged reply completed a local request: " << r->as_string();
  EXPECT_NE(r.error().message.find("wall-time limit"), std::string::npos) << r.error().describe();
}

}  // namespace
}  // namespace capsule::cluster

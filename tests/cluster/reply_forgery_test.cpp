// Replies that must not complete a request: from a responder that is not the request's target,
// sent to a previous life of the requesting host, or aimed at a request that never left this
// host. A plain NATS client on the cluster's server plays the forger.
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

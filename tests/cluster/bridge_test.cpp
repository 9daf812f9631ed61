// Two hosts in one process, each with its own actor system, runtime and NATS connection, over a
// real nats-server on loopback: the component semantics of docs/components.md across hosts.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <nats/nats.h>
#include <thread>

#include "cluster_fixture.hpp"
#include "silent_host.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;

constexpr auto kCaller = [] { return ComponentRuntime::privileged_caller(); };

TEST_F(ClusterFixture, HostsSeeEachOther) {
  b->start("echo", "echo", {}, 3);
  ASSERT_TRUE(a->sees("beta", 3));
  ASSERT_TRUE(b->sees("alpha", 0));
  EXPECT_TRUE(a->bridge->connected());
}

TEST_F(ClusterFixture, SendReachesAComponentOnTheOtherHost) {
  // alpha/relay "a" forwards to beta's "b", which publishes; alpha's host code subscribes.
  b->start("b", "relay", {{"mode", "forward"}, {"topic", "out"}, {"tag", "b"}});
  a->start("a", "relay", {{"mode", "forward"}, {"next", "test/b/0"}, {"tag", "a"}});
  ASSERT_TRUE(a->sees("beta", 1));
  Inbox inbox;
  auto sub = a->runtime->subscribe_host("out", [&](const ComponentMessage& m) { inbox.push(m); });
  ASSERT_TRUE(sub);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a->runtime->send(kCaller(), {"test", "a", "0"}, Payload::text(std::to_string(i))));
  }
  ASSERT_TRUE(inbox.wait_for(5));
  // One sender per hop and one NATS connection per host: order is kept end to end.
  EXPECT_EQ(inbox.messages(),
            (std::vector<std::string>{"0|a|b", "1|a|b", "2|a|b", "3|a|b", "4|a|b"}));
}

TEST_F(ClusterFixture, UnknownTargetIsStillAnImmediateError) {
  ASSERT_TRUE(a->sees("beta", 0));
  auto s = a->runtime->send(kCaller(), {"test", "ghost", "0"}, Payload::text("x"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kNotFound);
  EXPECT_NE(s.error().message.find("any host of cluster test"), std::string::npos);
  auto r = a->runtime->ask({"test", "ghost", "0"}, Payload::text("x"), std::chrono::seconds(1));
  EXPECT_EQ(r.get().error().code, ErrorCode::kNotFound);
  EXPECT_EQ(a->runtime->correlation_stats().pending, 0u);
}

TEST_F(ClusterFixture, HostRequestGetsTheReplyFromTheOtherHost) {
  auto ids = b->start("echo", "echo", {}, 2);
  ASSERT_TRUE(a->sees("beta", 2));
  for (int i = 0; i < 20; ++i) {
    Payload p{multicodec::kJson, {'{', '}', static_cast<std::uint8_t>('0' + i % 10)}};
    auto r = a->runtime->ask(ids[static_cast<std::size_t>(i) % 2], p, std::chrono::seconds(5));
    auto reply = r.get();
    ASSERT_TRUE(reply) << reply.error().describe();
    EXPECT_EQ(*reply, p) << "bytes and codec come back unchanged";
  }
  const auto stats = a->runtime->correlation_stats();
  EXPECT_EQ(stats.started, 20u);
  EXPECT_EQ(stats.replied, 20u);
  EXPECT_EQ(stats.pending + stats.failed + stats.timed_out + stats.late_replies, 0u);
  EXPECT_EQ(a->bridge->stats().replies, 20u);
}

TEST_F(ClusterFixture, ComponentRequestsAcrossHostsEndExactlyOnce) {
  b->start("echo", "echo", {}, 4);
  ASSERT_TRUE(a->sees("beta", 4));
  a->start("fan", "relay", fanout_config("test/echo", "fan.done"));
  a->start("ping", "relay", pinger_config("test/echo/1", "ping.done"));
  Inbox fan, ping;
  auto s1 = a->runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { fan.push(m); });
  auto s2 =
      a->runtime->subscribe_host("ping.done", [&](const ComponentMessage& m) { ping.push(m); });
  ASSERT_TRUE(a->runtime->send(kCaller(), {"test", "fan", "0"}, Payload::text("300")));
  ASSERT_TRUE(a->runtime->send(kCaller(), {"test", "ping", "0"}, Payload::text("50")));
  ASSERT_TRUE(fan.wait_for(1));
  ASSERT_TRUE(ping.wait_for(1));
  EXPECT_EQ(fan.messages()[0], "ok=300 err=0 timeout=0");
  EXPECT_EQ(ping.messages()[0], "done=50");
  const auto stats = a->runtime->correlation_stats();
  EXPECT_EQ(stats.replied, 350u);
  EXPECT_EQ(stats.pending + stats.failed + stats.timed_out + stats.late_replies, 0u);
}

TEST_F(ClusterFixture, RequestTimesOutAtTheRequesterAndTheLateReplyIsCounted) {
  b->start("spin", "spin", {}, 1, ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{400}});
  ASSERT_TRUE(a->sees("beta", 1));
  const auto t0 = std::chrono::steady_clock::now();
  auto r =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::milliseconds{80})
          .get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout);
  EXPECT_NE(r.error().message.find("no reply from test/spin/0 within 80 ms"), std::string::npos)
      << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{400});
  // The spin is interrupted on beta; that failure travels back and is dropped as late.
  ASSERT_TRUE(eventually([&] { return a->runtime->correlation_stats().late_replies == 1; }));
  const auto stats = a->runtime->correlation_stats();
  EXPECT_EQ(stats.timed_out, 1u);
  EXPECT_EQ(stats.replied + stats.failed, 0u);
}

TEST_F(ClusterFixture, ResponderFailureComesBackAsTheError) {
  b->start("trap", "trap");
  ASSERT_TRUE(a->sees("beta", 1));
  auto r =
      a->runtime->ask({"test", "trap", "0"}, Payload::text("boom"), std::chrono::seconds(5)).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTrap) << r.error().describe();
  EXPECT_EQ(a->runtime->correlation_stats().failed, 1u);
}

TEST_F(ClusterFixture, PublishReachesSubscribersOnBothHosts) {
  // beta: host code and a component subscribed; the component republishes what it gets.
  b->start("fwd", "relay", {{"mode", "forward"}, {"topic", "news.seen"}, {"tag", "beta"}});
  ASSERT_TRUE(b->runtime->subscribe("news", {"test", "fwd", "0"}));
  Inbox on_b, on_a, seen;
  auto sb = b->runtime->subscribe_host("news", [&](const ComponentMessage& m) { on_b.push(m); });
  auto sa = a->runtime->subscribe_host("news", [&](const ComponentMessage& m) { on_a.push(m); });
  auto ss =
      a->runtime->subscribe_host("news.seen", [&](const ComponentMessage& m) { seen.push(m); });
  ASSERT_TRUE(a->sees("beta", 1));
  for (int i = 0; i < 10; ++i) {
    auto n = a->runtime->publish(kCaller(), "news", Payload::text("n" + std::to_string(i)));
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 1u) << "the count is of this host's subscribers";
  }
  ASSERT_TRUE(on_b.wait_for(10));
  ASSERT_TRUE(seen.wait_for(10));
  ASSERT_TRUE(on_a.wait_for(10));
  EXPECT_EQ(on_b.messages().front(), "n0");
  EXPECT_EQ(seen.messages().back(), "n9|beta");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(on_a.messages().size(), 10u) << "a host does not receive its own publish twice";
}

TEST_F(ClusterFixture, HostThatSaysGoodbyeFailsItsPendingRequestsAtOnce) {
  b->start("spin", "spin", {}, 1, ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{1500}});
  ASSERT_TRUE(a->sees("beta", 1));
  auto pending =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::seconds(20));
  ASSERT_TRUE(eventually([&] { return b->runtime->correlation_stats().pending == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  b->bridge->detach();
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("host beta left the cluster"), std::string::npos)
      << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(a->bridge->stats().failed_by_host_loss, 1u);
  EXPECT_TRUE(a->bridge->hosts().empty());
}

TEST_F(ClusterFixture, SilentHostIsDeclaredDeadAndItsRequestsFailFast) {
  b->start("spin", "spin", {}, 1, ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{1500}});
  ASSERT_TRUE(a->sees("beta", 1));
  auto pending =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("hang"), std::chrono::seconds(20));
  ASSERT_TRUE(eventually([&] { return b->runtime->correlation_stats().pending == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  b->bridge->detach(NatsBridge::Farewell::kSilent);  // as if beta crashed
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("host beta left the cluster (no heartbeat for 300 ms)"),
            std::string::npos)
      << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  const auto stats = a->runtime->correlation_stats();
  EXPECT_EQ(stats.failed, 1u);
  EXPECT_EQ(stats.pending, 0u);
  // Nothing more can reach beta's components.
  EXPECT_EQ(a->runtime->send(kCaller(), {"test", "spin", "0"}, Payload::text("x")).error().code,
            ErrorCode::kNotFound);
}

TEST_F(ClusterFixture, AFullRemoteMailboxRefusesTheSendAtTheSender) {
  // One message keeps the spin busy for 1.5 s; its mailbox holds two more.
  b->start("spin", "spin", {}, 1, ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{1500}},
           rt::MailboxConfig::bounded(2, rt::BackpressurePolicy::kError));
  ASSERT_TRUE(a->sees("beta", 1));
  const ComponentId spin{"test", "spin", "0"};
  int accepted = 0;
  int full = 0;
  for (int i = 0; i < 6; ++i) {
    auto s = a->runtime->send(kCaller(), spin, Payload::text("m" + std::to_string(i)));
    if (s) {
      ++accepted;
    } else {
      EXPECT_EQ(s.error().code, ErrorCode::kMailboxFull) << s.error().describe();
      ++full;
    }
  }
  EXPECT_LE(accepted, 3) << "one running and two queued at most: an ok means it is in the mailbox";
  EXPECT_GE(full, 3);
  EXPECT_EQ(b->bridge->stats().inbound_dropped, static_cast<std::uint64_t>(full))
      << "every refusal the sender saw is the one the receiving host counted";
}

TEST_F(ClusterFixture, HostsReconnectAfterANatsRestart) {
  auto ids = b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  server.stop();
  ASSERT_TRUE(eventually([&] { return !a->bridge->connected() && !b->bridge->connected(); }));
  // While the connection is down nothing is accepted and then lost: sends are refused.
  auto refused = a->runtime->send(kCaller(), ids[0], Payload::text("during"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable) << refused.error().describe();
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(eventually([&] { return a->bridge->connected() && b->bridge->connected(); },
                         std::chrono::seconds(10)));
  // Subscriptions are restored by the client; beta's next heartbeat makes it a destination again.
  Result<Payload> r = make_error(ErrorCode::kInternal, "not tried");
  ASSERT_TRUE(eventually([&] {
    r = a->runtime->ask(ids[0], Payload::text("again"), std::chrono::seconds(5)).get();
    return static_cast<bool>(r);
  })) << r.error().describe();
  EXPECT_EQ(r->as_string(), "again");
  EXPECT_GE(a->bridge->stats().reconnects, 1u);
}

// A NATS outage much longer than the death timeout (300 ms here): neither host hears anyone, so
// neither declares the other dead, fails its requests or would adopt its components; after the
// reconnect both see each other again.
TEST_F(ClusterFixture, ACutOffHostDeclaresNobodyDead) {
  b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  ASSERT_TRUE(b->sees("alpha", 0));
  const auto alpha_knows_beta = [&] {
    const auto hosts = a->bridge->hosts();
    return std::any_of(hosts.begin(), hosts.end(), [](const auto& h) { return h.name == "beta"; });
  };
  server.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(alpha_knows_beta()) << "alpha forgot beta while cut off";
  EXPECT_EQ(a->bridge->stats().hosts_declared_dead, 0u);
  EXPECT_EQ(b->bridge->stats().hosts_declared_dead, 0u);
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(eventually([&] { return a->bridge->connected() && b->bridge->connected(); },
                         std::chrono::seconds(10)));
  EXPECT_TRUE(eventually(alpha_knows_beta, std::chrono::seconds(5)));
}

// Confirmed sends are matched to their acknowledgements when these arrive: 32 sends whose
// confirmations are swallowed by a silent host (half of them) start at once, without the
// sending thread or an I/O thread waiting for any, and every one ends exactly once: the answered
// ones ok, the swallowed ones "may or may not have been delivered" at their deadline.
TEST_F(ClusterFixture, ConfirmedSendsAreMatchedToAcksWithoutWaiting) {
  b->start("sink", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  const SilentHost ghost(server.url());
  ASSERT_TRUE(a->sees("ghost", 1));
  constexpr int kSends = 32;
  std::mutex mutex;
  std::vector<Status> outcomes;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kSends; ++i) {
    a->runtime->send_later(ComponentRuntime::privileged_caller(),
                           {"test", i % 2 == 0 ? "sink" : "ghost", "0"},
                           Payload::text("m" + std::to_string(i)), [&](Status s) {
                             const std::lock_guard lock(mutex);
                             outcomes.push_back(std::move(s));
                           });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1))
      << "starting the sends waited for confirmations (each swallowed one takes 2 s)";
  ASSERT_TRUE(eventually(
      [&] {
        const std::lock_guard lock(mutex);
        return outcomes.size() == kSends;
      },
      std::chrono::seconds(10)));
  int confirmed = 0;
  int unknown = 0;
  for (const auto& s : outcomes) {
    if (s) {
      ++confirmed;
    } else {
      EXPECT_EQ(s.error().code, ErrorCode::kUnavailable) << s.error().describe();
      EXPECT_NE(s.error().message.find("may or may not have been delivered"), std::string::npos)
          << s.error().describe();
      ++unknown;
    }
  }
  EXPECT_GT(confirmed, 0) << "the real host answered none";
  EXPECT_EQ(confirmed, kSends / 2) << "beta confirms every send to its sink";
  EXPECT_EQ(unknown, kSends / 2) << "the silent host answers none";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::lock_guard lock(mutex);
  EXPECT_EQ(outcomes.size(), std::size_t{kSends}) << "an outcome arrived twice";
}

}  // namespace
}  // namespace capsule::cluster

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;

// Guests whose confirmed sends to another host wait (the target's host is a plain NATS client
// that never confirms, so each send waits the whole confirm timeout) must not hold this host's
// scheduler workers: the guest's call is suspended until the acknowledgement or its deadline,
// and a local canary keeps answering. Before, each such send held a worker for the whole wait.
TEST_F(ClusterFixture, ConfirmedSendsThatWaitDoNotHoldWorkers) {
  b->start("sink", "echo");
  const auto canary = a->start("canary", "echo").front();
  for (int i = 0; i < 4; ++i) {
    a->start("relay" + std::to_string(i), "relay",
             {{"mode", "forward"}, {"next", "test/ghost/0"}, {"tag", "a"}});
  }
  ASSERT_TRUE(a->sees("beta", 1));
  const SilentHost ghost(server.url());
  ASSERT_TRUE(a->sees("ghost", 1));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(),
                                   {"test", "relay" + std::to_string(i), "0"}, Payload::text("m")));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // sends are waiting now
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = a->runtime->call(canary, Payload::text("ping"), std::chrono::seconds(5));
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_LT(took, std::chrono::milliseconds(100))
        << "ping " << i << " waited for a worker held by a send";
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
}

}  // namespace
}  // namespace capsule::cluster

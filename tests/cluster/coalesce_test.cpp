// Unconfirmed sends coalesced into one envelope per destination host (WireMessage::kCoalesced):
// real components on hosts over a real nats-server. The senders are guest/examples/relay.c in
// mode=burst (many messaging.send calls in one turn); a plain NATS client (RawClient) forges.
#include <algorithm>

#include <capsule/cluster/wire.hpp>
#include <capsule/security/policy_engine.hpp>

#include "cluster_fixture.hpp"
#include "raw_client.hpp"
#include "silent_host.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;

const ComponentId kCaller = ComponentRuntime::privileged_caller();

// Room for every message of a test: a peer's message to a full mailbox is refused, not waited for.
rt::MailboxConfig deep() {
  return rt::MailboxConfig::bounded(1 << 16, rt::BackpressurePolicy::kBlock);
}

std::uint64_t processed(Host& host, const ComponentId& id) {
  for (const auto& info : host.runtime->list()) {
    if (info.id == id) return info.mailbox.processed;
  }
  return 0;
}

class CoalesceTest : public ClusterFixture {
 protected:
  // A host whose sends to other hosts are not confirmed: guests' sends are coalesced.
  std::unique_ptr<Host> unconfirmed(const std::string& name,
                                    std::shared_ptr<security::PolicyEngine> policy = nullptr) {
    return std::make_unique<Host>(name, server.url(), engine_, "", "", std::move(policy),
                                  std::chrono::seconds(2), nullptr, TlsFiles{}, false);
  }
  // A fan-out relay "fan" on `host`: a message "N" makes N requests to `target` (ns/name)
  // instances 0..k-1, and it publishes "ok=A err=B timeout=C" on "fan.done" when all ended.
  static void start_fanout(Host& host, const std::string& target, unsigned instances,
                           unsigned timeout_ms) {
    host.start("fan", "relay",
               {{"mode", "fanout"},
                {"target", target},
                {"instances", std::to_string(instances)},
                {"timeout_ms", std::to_string(timeout_ms)},
                {"done_topic", "fan.done"}});
  }
  // A burst relay on `host` sending its numbered messages to `target` (ns/name) instances 0..k-1.
  static void start_burst(Host& host, const std::string& name, const std::string& target,
                          unsigned instances) {
    host.start(name, "relay",
               {{"mode", "burst"},
                {"target", target},
                {"instances", std::to_string(instances)},
                {"numbered", "1"}});
  }
};

// Two senders on one host, 2,000 messages each in one turn, to two sinks on another host: every
// message arrives, each sender's in the order sent, in a few dozen envelopes instead of 4,000
// NATS messages.
TEST_F(CoalesceTest, EachSendersOrderIsKeptAcrossEnvelopesAndNothingIsLost) {
  auto gamma = unconfirmed("gamma");
  Inbox got1, got2;
  auto sub1 = b->runtime->subscribe_host("got1", [&](const ComponentMessage& m) { got1.push(m); });
  auto sub2 = b->runtime->subscribe_host("got2", [&](const ComponentMessage& m) { got2.push(m); });
  ASSERT_TRUE(sub1 && sub2);
  b->start("sink1", "relay", {{"mode", "forward"}, {"topic", "got1"}, {"tag", "b"}}, 1, {}, deep());
  b->start("sink2", "relay", {{"mode", "forward"}, {"topic", "got2"}, {"tag", "b"}}, 1, {}, deep());
  start_burst(*gamma, "burst1", "test/sink1", 1);
  start_burst(*gamma, "burst2", "test/sink2", 1);
  ASSERT_TRUE(gamma->sees("beta", 2));
  const auto before = gamma->bridge->stats();
  constexpr int kCount = 2000;
  ASSERT_TRUE(gamma->runtime->send(kCaller, {"test", "burst1", "0"},
                                   Payload::text(std::to_string(kCount))));
  ASSERT_TRUE(gamma->runtime->send(kCaller, {"test", "burst2", "0"},
                                   Payload::text(std::to_string(kCount))));
  ASSERT_TRUE(got1.wait_for(kCount, std::chrono::seconds(30)));
  ASSERT_TRUE(got2.wait_for(kCount, std::chrono::seconds(30)));
  for (auto* got : {&got1, &got2}) {
    const auto received = got->messages();
    ASSERT_EQ(received.size(), std::size_t{kCount});
    for (int i = 0; i < kCount; ++i) {
      ASSERT_EQ(received[i], std::to_string(i) + "|b") << "message " << i << " out of order";
    }
  }
  const auto after = gamma->bridge->stats();
  EXPECT_EQ(after.coalesced - before.coalesced, 2u * kCount) << "every send went coalesced";
  EXPECT_EQ(after.coalesced_lost, 0u);
  // 256 per envelope at most: 16 of them, plus heartbeats; 4,000 if each went alone.
  EXPECT_LT(after.sent - before.sent, 400u);
  const auto beta = b->bridge->stats();
  EXPECT_EQ(beta.inbound_dropped, 0u);
  EXPECT_EQ(beta.forged, 0u);
  EXPECT_EQ(beta.malformed, 0u);
}

// One turn's sends to two instances on another host, in the same envelopes; that host's rules
// refuse the sender to one of them. Each send is checked alone: the refused ones are counted and
// dropped, the others delivered.
TEST_F(CoalesceTest, AnEnvelopeIsSplitAndEachSendCheckedOnItsOwn) {
  auto policy = std::make_shared<security::PolicyEngine>();
  ASSERT_TRUE(policy->add_rule({security::Effect::kDeny, "test/burst/*", security::Action::kSend,
                                "test/sink/1", std::nullopt, "closed-door"}));
  Host delta("delta", server.url(), engine_, "", "", policy);
  auto gamma = unconfirmed("gamma");
  const auto sinks = delta.start("sink", "echo", {}, 2, {}, deep());
  ASSERT_EQ(sinks.size(), 2u);
  start_burst(*gamma, "burst", "test/sink", 2);
  ASSERT_TRUE(gamma->sees("delta", 2));
  const auto before = gamma->bridge->stats();
  constexpr int kCount = 600;  // 300 each, alternating: both in every envelope
  ASSERT_TRUE(
      gamma->runtime->send(kCaller, {"test", "burst", "0"}, Payload::text(std::to_string(kCount))));
  ASSERT_TRUE(eventually(
      [&] {
        return processed(delta, sinks[0]) == kCount / 2 &&
               delta.bridge->stats().inbound_dropped == kCount / 2;
      },
      std::chrono::seconds(20)))
      << "delivered " << processed(delta, sinks[0]) << ", refused "
      << delta.bridge->stats().inbound_dropped;
  EXPECT_EQ(processed(delta, sinks[1]), 0u) << "a refused send reached its target";
  EXPECT_EQ(gamma->bridge->stats().coalesced - before.coalesced, std::uint64_t{kCount});
  EXPECT_EQ(delta.bridge->stats().forged, 0u);
}

WireMessage envelope(const std::string& origin, const ComponentId& sender, const ComponentId& to,
                     std::size_t sends) {
  WireMessage m;
  m.kind = WireMessage::Kind::kCoalesced;
  m.origin_host = origin;
  for (std::size_t i = 0; i < sends; ++i) {
    WireMessage& e = m.entries.emplace_back();
    e.kind = WireMessage::Kind::kSend;
    e.sender = sender;
    e.target = to;
    e.payload = Payload::text("forged");
  }
  return m;
}

// Garbled, truncated, overfull and forged envelopes reach beta: each is dropped and counted,
// none reaches its target, and a canary on beta keeps answering after each one.
TEST_F(CoalesceTest, ForgedOrGarbledEnvelopesAreDroppedAndCountedWhileACanaryAnswers) {
  const auto canary = b->start("canary", "echo").front();
  const auto sink = b->start("sink", "echo").front();
  a->start("client", "echo");
  ASSERT_TRUE(a->sees("beta", 2));
  ASSERT_TRUE(b->sees("alpha", 1));
  RawClient forger(server.url());
  const Subjects subjects{"test"};
  const ComponentId stranger{"test", "stranger", "0"};  // runs nowhere: a sender alpha may have
  const auto canary_answers = [&] {
    auto r = a->runtime->ask(canary, Payload::text("still there?"), std::chrono::seconds(5)).get();
    return r && r->as_string() == "still there?";
  };
  ASSERT_TRUE(canary_answers());
  const auto before = b->bridge->stats();

  // Garbage behind the envelope's first bytes, a truncated envelope, one with a request inside,
  // one over the limit: malformed.
  const auto valid = encode(envelope("alpha", stranger, sink, 3));
  forger.publish(subjects.coalesced("alpha", "beta"), {0x83, 0xa1, 'k', 0x06, 0xff, 0xff});
  EXPECT_TRUE(canary_answers());
  forger.publish(subjects.coalesced("alpha", "beta"),
                 std::vector<std::uint8_t>(valid.begin(), valid.end() - 3));
  EXPECT_TRUE(canary_answers());
  auto mixed = valid;
  const std::uint8_t entry_head[] = {0x95, 0x01};
  auto at = std::search(mixed.begin(), mixed.end(), std::begin(entry_head), std::end(entry_head));
  ASSERT_NE(at, mixed.end());
  *(at + 1) = 0x02;
  forger.publish(subjects.coalesced("alpha", "beta"), mixed);
  EXPECT_TRUE(canary_answers());
  forger.publish(subjects.coalesced("alpha", "beta"),
                 encode(envelope("alpha", stranger, sink, kMaxCoalesced + 1)));
  EXPECT_TRUE(canary_answers());
  // Claims to come from alpha, published under another name: forged, once for the envelope.
  forger.publish(subjects.coalesced("mallory", "beta"), valid);
  EXPECT_TRUE(canary_answers());
  // Published under alpha's name, but its senders are beta's own canary: forged, each of them.
  forger.publish(subjects.coalesced("alpha", "beta"), encode(envelope("alpha", canary, sink, 3)));
  EXPECT_TRUE(canary_answers());

  ASSERT_TRUE(eventually([&] {
    const auto s = b->bridge->stats();
    return s.malformed - before.malformed == 4 && s.forged - before.forged == 4;
  })) << "malformed "
      << b->bridge->stats().malformed - before.malformed << ", forged "
      << b->bridge->stats().forged - before.forged;
  EXPECT_EQ(processed(*b, sink), 0u) << "a forged or garbled send was delivered";
  // The canary: a well-formed envelope from alpha's name with a sender no host runs is delivered.
  forger.publish(subjects.coalesced("alpha", "beta"), valid);
  EXPECT_TRUE(eventually([&] { return processed(*b, sink) == 3; }));
}

// A guest's requests to another host leave with the turn's other messages for that host, in
// envelopes (confirmed sends or not): 600 requests from one fan-out relay to four echoes in a
// few envelopes, each answered once.
TEST_F(CoalesceTest, AGuestsRequestsLeaveInEnvelopesAndEachIsAnsweredOnce) {
  Inbox done;
  auto sub =
      a->runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { done.push(m); });
  ASSERT_TRUE(sub);
  b->start("echo", "echo", {}, 4, {}, deep());
  start_fanout(*a, "test/echo", 4, 10000);
  ASSERT_TRUE(a->sees("beta", 4));
  const auto before = a->bridge->stats();
  ASSERT_TRUE(a->runtime->send(kCaller, {"test", "fan", "0"}, Payload::text("600")));
  ASSERT_TRUE(done.wait_for(1));
  EXPECT_EQ(done.messages().at(0), "ok=600 err=0 timeout=0");
  const auto after = a->bridge->stats();
  EXPECT_EQ(after.coalesced - before.coalesced, 600u);
  EXPECT_LT(after.sent - before.sent, 60u) << "requests left one NATS message each";
  EXPECT_EQ(a->runtime->correlation_stats().late_replies, 0u);
}

// A host that predates coalesced envelopes (its heartbeats do not say it takes them) gets one
// NATS message per send, as before.
TEST_F(CoalesceTest, AnOlderHostGetsOneMessagePerSend) {
  auto gamma = unconfirmed("gamma");
  const SilentHost ghost(server.url());  // announces test/ghost/0, and no envelope format
  start_burst(*gamma, "burst", "test/ghost", 1);
  ASSERT_TRUE(gamma->sees("ghost", 1));
  const auto before = gamma->bridge->stats();
  ASSERT_TRUE(gamma->runtime->send(kCaller, {"test", "burst", "0"}, Payload::text("50")));
  ASSERT_TRUE(eventually([&] { return ghost.swallowed() >= 50; })) << ghost.swallowed();
  EXPECT_EQ(ghost.swallowed(), 50);
  EXPECT_EQ(gamma->bridge->stats().coalesced, before.coalesced);
}

// Nor does a host that takes coalesced sends but not requests in them (wire 2) get a request in
// an envelope: its decoder would refuse the envelope whole. Here the ghost (wire 1) swallows
// the fan-out's requests one NATS message each, and they time out at the requester.
TEST_F(CoalesceTest, AnOlderHostGetsOneMessagePerRequest) {
  Inbox done;
  auto sub =
      a->runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { done.push(m); });
  ASSERT_TRUE(sub);
  const SilentHost ghost(server.url());
  start_fanout(*a, "test/ghost", 1, 300);
  ASSERT_TRUE(a->sees("ghost", 1));
  const auto before = a->bridge->stats();
  ASSERT_TRUE(a->runtime->send(kCaller, {"test", "fan", "0"}, Payload::text("20")));
  ASSERT_TRUE(eventually([&] { return ghost.swallowed() >= 20; })) << ghost.swallowed();
  EXPECT_EQ(ghost.swallowed(), 20);
  EXPECT_EQ(a->bridge->stats().coalesced, before.coalesced);
  ASSERT_TRUE(done.wait_for(1));
  EXPECT_EQ(done.messages().at(0), "ok=0 err=0 timeout=20");
}

}  // namespace
}  // namespace capsule::cluster

// A lone request from another host to an idle component is answered on the receiving host's NATS
// reader thread (the component's turn runs there, its reply leaves from there): no scheduler
// worker is woken for it. What that thread must keep doing meanwhile: read, so a guest that runs
// long there gives it back at its first epoch tick and goes on on a worker.
#include <future>
#include <thread>

#include "cluster_fixture.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;

class AnswerOnReader : public ClusterFixture {
 protected:
  // Hosts that declare each other dead only after 3 s without a heartbeat (the fixture's 300 ms
  // trips on a loaded machine, and membership is not what these tests are about); `on_reader`:
  // BridgeConfig::deliver_on_reader.
  void patient_hosts(bool on_reader) {
    a.reset();
    b.reset();
    const auto tune = [on_reader](BridgeConfig& c) {
      c.missed_heartbeats = 30;
      c.deliver_on_reader = on_reader;
    };
    a = std::make_unique<Host>("alpha", server.url(), engine_, "", "", nullptr,
                               std::chrono::seconds(2), nullptr, TlsFiles{}, true, nullptr, tune);
    b = std::make_unique<Host>("beta", server.url(), engine_, "", "", nullptr,
                               std::chrono::seconds(2), nullptr, TlsFiles{}, true, nullptr, tune);
  }
};

TEST_F(AnswerOnReader, ALoneRequestIsAnsweredOnTheReaderThread) {
  patient_hosts(true);
  if (!b->bridge->delivers_on_reader()) GTEST_SKIP() << "this libnats has no reader hook";
  b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  // Once, so that the echo's init is behind it (a request that finds it still starting, or its
  // previous turn still ending on a worker, waits in its mailbox as for any busy component).
  ASSERT_TRUE(
      a->runtime->ask({"test", "echo", "0"}, Payload::text("warm"), std::chrono::seconds(5)).get());
  const auto before = b->bridge->stats().answered_on_reader;
  for (int i = 0; i < 20; ++i) {
    const std::string text = "lone " + std::to_string(i);
    auto r =
        a->runtime->ask({"test", "echo", "0"}, Payload::text(text), std::chrono::seconds(5)).get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), text);
  }
  // One after another, so the echo was idle each time: they ran on beta's reader (all of them but
  // one that came while the warm-up's turn, if a worker ran it, was still ending).
  EXPECT_GE(b->bridge->stats().answered_on_reader, before + 19);
  EXPECT_LE(b->bridge->stats().answered_on_reader, before + 20);
  EXPECT_EQ(a->bridge->stats().answered_on_reader, 0u);  // a only asked
}

// Requests a guest makes go to the workers, whether its turn made one (a request/reply
// ping-pong: an envelope of one) or many (a fan-out): answering an envelope of one on the reader
// was tried and made the component round trip slower on this VM (docs/benchmarks.md).
TEST_F(AnswerOnReader, RequestsInEnvelopesAreAnsweredByTheWorkers) {
  patient_hosts(true);
  if (!b->bridge->delivers_on_reader()) GTEST_SKIP() << "this libnats has no reader hook";
  b->start("echo", "echo", {}, 4);
  ASSERT_TRUE(a->sees("beta", 4));
  a->start("ping", "relay", pinger_config("test/echo/1", "ping.done"));
  a->start("fan", "relay", fanout_config("test/echo", "fan.done"));
  Inbox ping, fan;
  auto s1 =
      a->runtime->subscribe_host("ping.done", [&](const ComponentMessage& m) { ping.push(m); });
  auto s2 = a->runtime->subscribe_host("fan.done", [&](const ComponentMessage& m) { fan.push(m); });
  const auto before = b->bridge->stats().answered_on_reader;
  ASSERT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(), {"test", "ping", "0"},
                               Payload::text("30")));
  ASSERT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(), {"test", "fan", "0"},
                               Payload::text("400")));
  ASSERT_TRUE(ping.wait_for(1));
  ASSERT_TRUE(fan.wait_for(1));
  EXPECT_EQ(ping.messages()[0], "done=30");
  EXPECT_EQ(fan.messages()[0], "ok=400 err=0 timeout=0");
  EXPECT_EQ(b->bridge->stats().answered_on_reader, before);
  // The canary: a lone request from host code still is.
  auto r =
      a->runtime->ask({"test", "echo", "0"}, Payload::text("lone"), std::chrono::seconds(5)).get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(b->bridge->stats().answered_on_reader, before + 1);
}

// The canary: without reader delivery the requests go through the delivery pool to a worker, and
// none is answered on a reader.
TEST_F(AnswerOnReader, WithoutReaderDeliveryNoRequestIsAnsweredOnAReader) {
  patient_hosts(false);
  b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 1));
  for (int i = 0; i < 5; ++i) {
    auto r = a->runtime->ask({"test", "echo", "0"}, Payload::text("pool"), std::chrono::seconds(5))
                 .get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "pool");
  }
  EXPECT_EQ(b->bridge->stats().answered_on_reader, 0u);
}

// A guest that never returns, reached by a lone request: its turn starts on beta's reader. If it
// kept the reader until its wall-time limit, beta would read nothing else meanwhile; it yields at
// its first epoch tick and spins on on a worker, so a request to another component sent after it
// is answered while the spinning request is still running.
TEST_F(AnswerOnReader, AGuestThatRunsLongDoesNotHoldTheReader) {
  patient_hosts(true);
  if (!b->bridge->delivers_on_reader()) GTEST_SKIP() << "this libnats has no reader hook";
  b->start("spin", "spin", {}, 1, ResourceLimits{0, 1ULL << 62, std::chrono::milliseconds{3000}});
  b->start("echo", "echo");
  ASSERT_TRUE(a->sees("beta", 2));
  // The echo has run its init and answered once (on a loaded machine it may still be starting,
  // and then the canary below would wait in its mailbox like any request to a busy component).
  ASSERT_TRUE(
      a->runtime->ask({"test", "echo", "0"}, Payload::text("warm"), std::chrono::seconds(10))
          .get());
  auto spinning =
      a->runtime->ask({"test", "spin", "0"}, Payload::text("spin"), std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the spin's turn has started
  auto r = a->runtime->ask({"test", "echo", "0"}, Payload::text("canary"), std::chrono::seconds(10))
               .get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "canary");
  // The canary came back before the spin ended (3 s wall-time limit).
  EXPECT_EQ(spinning.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  const auto before_end = b->bridge->stats().answered_on_reader;
  auto spun = spinning.get();
  ASSERT_FALSE(spun) << "a guest that never returns replied: " << spun->as_string();
  EXPECT_NE(spun.error().message.find("wall-time limit"), std::string::npos)
      << spun.error().describe();
  // Its outcome came from the worker it went on on, not from the reader.
  EXPECT_EQ(b->bridge->stats().answered_on_reader, before_end);
}

}  // namespace
}  // namespace capsule::cluster

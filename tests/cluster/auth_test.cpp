// A cluster on a nats-server in authenticated mode, configured by ClusterAuth (what `capsule
// cluster init` writes): hosts log in with their own credentials and can only speak as
// themselves; clients without credentials, with a wrong password, or speaking as another host
// get nothing in.
#include <nats/nats.h>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/wire.hpp>

#include "cluster_fixture.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;
using namespace std::chrono_literals;

ClusterAuth make_auth() {
  auto auth = make_cluster_auth("test", {"alpha", "beta", "gamma"});
  EXPECT_TRUE(auth) << auth.error().describe();
  return *auth;
}

const HostCredentials& creds(const ClusterAuth& auth, const std::string& host) {
  for (const auto& h : auth.hosts) {
    if (h.host == host) return h;
  }
  throw std::logic_error("no credentials for " + host);
}

// A raw NATS client, logged in as `user` (or anonymous when empty).
struct Client {
  Client(const std::string& url, const std::string& user, const std::string& password) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetTimeout(opts, 2000);
    if (!user.empty()) natsOptions_SetUserInfo(opts, user.c_str(), password.c_str());
    status = natsConnection_Connect(&conn, opts);
    natsOptions_Destroy(opts);
  }
  ~Client() { natsConnection_Destroy(conn); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void publish(const std::string& subject, const WireMessage& m) const {
    const auto bytes = encode(m);
    natsConnection_Publish(conn, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()));
    natsConnection_FlushTimeout(conn, 2000);
  }

  natsConnection* conn = nullptr;
  natsStatus status = NATS_OK;
};

class AuthCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    wasm::EngineConfig config;
    config.pooling.enabled = false;
    engine_ = *wasm::WasmEngine::create(config);
  }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server.running());
    a = std::make_unique<Host>("alpha", server.url(), engine_, creds(auth, "alpha").user,
                               creds(auth, "alpha").password);
    b = std::make_unique<Host>("beta", server.url(), engine_, creds(auth, "beta").user,
                               creds(auth, "beta").password);
    echo = b->start("echo", "echo").front();
    ASSERT_TRUE(eventually([&] { return a->sees("beta", 1, 100ms); }));
  }

  // A message to beta's echo, as `origin` says it was, with `sender` as its sender.
  WireMessage send_to_echo(const std::string& origin, const ComponentId& sender) const {
    WireMessage m;
    m.kind = WireMessage::Kind::kSend;
    m.origin_host = origin;
    m.sender = sender;
    m.target = echo;
    m.payload = Payload::text("intruder");
    return m;
  }

  std::uint64_t echo_enqueued() const {
    auto ref = b->runtime->registry().lookup(echo);
    return ref ? ref->mailbox_stats().enqueued : 0;
  }

  ClusterAuth auth = make_auth();
  NatsServer server{NatsServer::Mode::kCore, auth.server_config()};
  static inline std::shared_ptr<wasm::WasmEngine> engine_;
  std::unique_ptr<Host> a, b;
  ComponentId echo;
};

TEST_F(AuthCluster, AuthenticatedHostsWorkAsBefore) {
  auto r = a->runtime->ask(echo, Payload::text("hi"), 5s).get();
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->as_string(), "hi");
  EXPECT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(), echo, Payload::text("x")));
  EXPECT_EQ(a->bridge->stats().forged, 0u);
  EXPECT_EQ(b->bridge->stats().forged, 0u);
}

TEST_F(AuthCluster, ClientsWithoutValidCredentialsAreRefused) {
  Client anonymous(server.url(), "", "");
  EXPECT_NE(anonymous.status, NATS_OK) << "an anonymous client connected";
  Client wrong(server.url(), "alpha", "not-the-password");
  EXPECT_NE(wrong.status, NATS_OK) << "a wrong password was accepted";
  BridgeConfig config;
  config.url = server.url();
  config.cluster = "test";
  config.host = "mallory";
  EXPECT_FALSE(NatsBridge::connect(config)) << "a host without credentials joined";
}

TEST_F(AuthCluster, AHostCannotSpeakAsAnother) {
  const auto before = echo_enqueued();
  // gamma's credentials, publishing under beta's... no: under alpha's name: the server drops it.
  Client gamma(server.url(), creds(auth, "gamma").user, creds(auth, "gamma").password);
  ASSERT_EQ(gamma.status, NATS_OK);
  const Subjects subjects{"test"};
  gamma.publish(subjects.component(echo, "alpha", "beta"),
                send_to_echo("alpha", ComponentRuntime::privileged_caller()));
  // Under its own name but claiming to be alpha: beta drops it as forged.
  gamma.publish(subjects.component(echo, "gamma", "beta"),
                send_to_echo("alpha", ComponentRuntime::privileged_caller()));
  // As itself, but with a sender component it does not run (beta's own echo): forged too.
  gamma.publish(subjects.component(echo, "gamma", "beta"), send_to_echo("gamma", echo));
  ASSERT_TRUE(eventually([&] { return b->bridge->stats().forged >= 2; }));
  std::this_thread::sleep_for(200ms);  // the first, refused by the server, would be here by now
  EXPECT_EQ(b->bridge->stats().forged, 2u);
  EXPECT_EQ(echo_enqueued(), before) << "an intruder's message reached the component";
  // gamma's host code, as itself, is an ordinary peer: its message gets through.
  gamma.publish(subjects.component(echo, "gamma", "beta"),
                send_to_echo("gamma", ComponentRuntime::privileged_caller()));
  EXPECT_TRUE(eventually([&] { return echo_enqueued() == before + 1; }));
}

TEST_F(AuthCluster, AHostCannotListenToAnothersComponentMessages) {
  // Component subjects name the host they are for: gamma may subscribe to its own only.
  Client gamma(server.url(), creds(auth, "gamma").user, creds(auth, "gamma").password);
  ASSERT_EQ(gamma.status, NATS_OK);
  natsSubscription* sub = nullptr;
  static_cast<void>(natsConnection_SubscribeSync(&sub, gamma.conn, "capsule.test.f.*.c.beta.>"));
  natsConnection_FlushTimeout(gamma.conn, 2000);
  auto r = a->runtime->ask(echo, Payload::text("for beta only"), 5s).get();
  ASSERT_TRUE(r) << r.error().describe();
  natsMsg* got = nullptr;
  EXPECT_NE(natsSubscription_NextMsg(&got, sub, 300), NATS_OK)
      << "gamma read a message addressed to beta's component";
  natsMsg_Destroy(got);
  natsSubscription_Destroy(sub);
}

TEST_F(AuthCluster, AHostCannotListenToAnothersReplies) {
  Client gamma(server.url(), creds(auth, "gamma").user, creds(auth, "gamma").password);
  ASSERT_EQ(gamma.status, NATS_OK);
  natsSubscription* sub = nullptr;
  const std::string alpha_replies = "capsule.test.f.*.h.alpha.>";
  static_cast<void>(natsConnection_SubscribeSync(&sub, gamma.conn, alpha_replies.c_str()));
  natsConnection_FlushTimeout(gamma.conn, 2000);
  auto r = a->runtime->ask(echo, Payload::text("secret"), 5s).get();
  ASSERT_TRUE(r) << r.error().describe();
  natsMsg* got = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&got, sub, 300);
  EXPECT_NE(s, NATS_OK) << "gamma read a reply meant for alpha";
  natsMsg_Destroy(got);
  natsSubscription_Destroy(sub);
}

}  // namespace
}  // namespace capsule::cluster

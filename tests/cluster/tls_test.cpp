// A cluster on a nats-server that requires TLS with client certificates, set up as `capsule
// cluster init --tls` does (make_cluster_pki + ClusterAuth::server_tls): hosts with their
// certificate and credentials exchange messages, requests, storage and leases over TLS; clients
// without a certificate, with one from another CA, or speaking plain NATS get nothing in; a host
// configured for TLS refuses a server that does not offer it. A canary request crosses after each
// hostile attempt.
#include <arpa/inet.h>
#include <fstream>
#include <nats/nats.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/cluster_pki.hpp>
#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/nats_kv_backend.hpp>

#include "cluster_fixture.hpp"
#include "tls_helpers.hpp"

namespace capsule::cluster {
namespace {

using namespace capsule::cluster::testing;
using namespace std::chrono_literals;

class TlsCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = cluster_test_engine(); }
  static void TearDownTestSuite() { engine_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(server.running());
    a = host("alpha");
    b = host("beta");
    echo = b->start("echo", "echo").front();
    ASSERT_TRUE(eventually([&] { return a->sees("beta", 1, 100ms); }));
  }

  [[nodiscard]] const HostCredentials& login(const std::string& name) const {
    for (const auto& h : auth.hosts) {
      if (h.host == name) return h;
    }
    throw std::logic_error("no credentials for " + name);
  }
  std::unique_ptr<Host> host(const std::string& name) {
    return std::make_unique<Host>(name, server.url(), engine_, login(name).user,
                                  login(name).password, nullptr, 2s, nullptr, dir.files("", name));
  }
  BridgeConfig bridge_config(const std::string& name, const TlsFiles& tls) const {
    BridgeConfig config;
    config.url = server.url();
    config.cluster = "test";
    config.host = name;
    config.user = login(name).user;
    config.password = login(name).password;
    config.tls = tls;
    return config;
  }

  // The canary: alpha's request to beta's echo still gets its answer.
  void expect_canary_answers() const {
    auto r = a->runtime->ask(echo, Payload::text("canary"), 5s).get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "canary");
  }
  std::uint64_t echo_enqueued() const {
    auto ref = b->runtime->registry().lookup(echo);
    return ref ? ref->mailbox_stats().enqueued : 0;
  }

  PemDir dir;
  ClusterPki pki = make_pki({"alpha", "beta", "gamma"});
  ClusterPki foreign = make_pki({"gamma"});  // same names, another CA
  bool written = (dir.write_all(pki, ""), dir.write_all(foreign, "foreign-"), true);
  ClusterAuth auth = *make_cluster_auth("test", {"alpha", "beta", "gamma"});
  NatsServer server{NatsServer::Mode::kJetStream, server_config(auth, dir)};
  static inline std::shared_ptr<wasm::WasmEngine> engine_;
  std::unique_ptr<Host> a, b;
  ComponentId echo;
};

TEST_F(TlsCluster, HostsExchangeMessagesAndRequestsOverTls) {
  expect_canary_answers();
  for (int i = 0; i < 50; ++i) {
    auto r = a->runtime->ask(echo, Payload::text("r" + std::to_string(i)), 5s).get();
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->as_string(), "r" + std::to_string(i));
  }
  const auto before = echo_enqueued();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(a->runtime->send(ComponentRuntime::privileged_caller(), echo, Payload::text("s")));
  }
  EXPECT_TRUE(eventually([&] { return echo_enqueued() == before + 20; }));
  EXPECT_EQ(b->bridge->stats().forged, 0u);
}

TEST_F(TlsCluster, StorageAndLeasesGoOverTlsToo) {
  NatsKvBackend::Options kv;
  kv.url = server.url();
  kv.user = login("alpha").user;
  kv.password = login("alpha").password;
  kv.tls = dir.files("", "alpha");
  auto backend = NatsKvBackend::connect(kv);
  ASSERT_TRUE(backend) << backend.error().describe();
  security::StorageQuota quota;
  ASSERT_TRUE((*backend)->set("bank", "balance", {'4', '2'}, quota));
  auto got = (*backend)->get("bank", "balance");
  ASSERT_TRUE(got && *got) << (got ? "absent" : got.error().describe());
  EXPECT_EQ(**got, (storage::Bytes{'4', '2'}));

  LeaseConfig lc;
  lc.url = server.url();
  lc.bucket = lease_bucket("test");
  lc.host = "alpha";
  lc.user = kv.user;
  lc.password = kv.password;
  lc.tls = kv.tls;
  auto leases = LeaseKeeper::connect(lc);
  ASSERT_TRUE(leases) << leases.error().describe();
  auto attempt = (*leases)->try_acquire("bank/ledger");
  ASSERT_TRUE(attempt) << attempt.error().describe();
  EXPECT_EQ(*attempt, LeaseAttempt::kAcquired);

  // The same storage without TLS does not get a connection.
  kv.tls = {};
  EXPECT_FALSE(NatsKvBackend::connect(kv)) << "storage connected in plain text";
  expect_canary_answers();
}

TEST_F(TlsCluster, AClientWithoutACertificateIsRefused) {
  Client raw(server.url(), login("gamma"), {dir.files("", "gamma").ca, {}, {}});
  EXPECT_NE(raw.status, NATS_OK) << "a client without a certificate connected";
  TlsFiles ca_only{dir.files("", "gamma").ca, {}, {}};
  auto bridge = NatsBridge::connect(bridge_config("gamma", ca_only));
  EXPECT_FALSE(bridge) << "a host without a certificate joined";
  expect_canary_answers();
}

TEST_F(TlsCluster, ACertificateFromAnotherCaIsRefused) {
  // gamma's certificate from the foreign CA, with the right password, trusting the real server.
  const TlsFiles forged{dir.files("", "gamma").ca, dir.files("foreign-", "gamma").cert,
                        dir.files("foreign-", "gamma").key};
  Client raw(server.url(), login("gamma"), forged);
  EXPECT_NE(raw.status, NATS_OK) << "a certificate of another CA was accepted";
  auto bridge = NatsBridge::connect(bridge_config("gamma", forged));
  EXPECT_FALSE(bridge) << "a host with another CA's certificate joined";
  // The other way round: a host that trusts only the foreign CA refuses the real server.
  auto distrustful = NatsBridge::connect(bridge_config("gamma", dir.files("foreign-", "gamma")));
  ASSERT_FALSE(distrustful) << "a host accepted a server its CA did not sign";
  EXPECT_NE(distrustful.error().message.find("TLS handshake failed"), std::string::npos)
      << distrustful.error().message;
  // Its own certificate is fine: gamma joins.
  auto genuine = NatsBridge::connect(bridge_config("gamma", dir.files("", "gamma")));
  EXPECT_TRUE(genuine) << genuine.error().describe();
  expect_canary_answers();
}

TEST_F(TlsCluster, AHostWithoutTlsFilesIsRefusedAndToldWhy) {
  auto bridge = NatsBridge::connect(bridge_config("gamma", {}));
  ASSERT_FALSE(bridge) << "a host without TLS joined a TLS cluster";
  EXPECT_NE(bridge.error().message.find("[host.cluster_tls]"), std::string::npos)
      << bridge.error().message;
  auto config = bridge_config("gamma", {});
  config.url = "tls" + server.url().substr(4);  // tls://: refused before connecting
  auto early = NatsBridge::connect(config);
  ASSERT_FALSE(early);
  EXPECT_NE(early.error().message.find("a tls:// URL needs this host's TLS files"),
            std::string::npos)
      << early.error().message;
  expect_canary_answers();
}

TEST_F(TlsCluster, APlainClientGetsNothingIn) {
  // cnats itself, told nothing of TLS, tries the TLS the server asks for and cannot verify it.
  Client plain(server.url(), login("gamma"), {});
  EXPECT_NE(plain.status, NATS_OK) << "a client without TLS settings connected";
  std::printf("plain cnats client: %s\n", natsStatus_GetText(plain.status));
  // Below cnats: the NATS protocol in plain text on the socket, with gamma's valid password, a
  // send to beta's echo from gamma's own subject. The server wants a TLS handshake and closes.
  const auto before = echo_enqueued();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto port = std::stoi(server.url().substr(server.url().rfind(':') + 1));
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string subject = Subjects{"test"}.component(echo, "gamma", "beta");
  WireMessage m;
  m.kind = WireMessage::Kind::kSend;
  m.origin_host = "gamma";
  m.sender = ComponentRuntime::privileged_caller();
  m.target = echo;
  m.payload = Payload::text("plain");
  const auto body = encode(m);
  std::string wire = "CONNECT {\"verbose\":false,\"user\":\"" + login("gamma").user +
                     "\",\"pass\":\"" + login("gamma").password + "\"}\r\nPUB " + subject + " " +
                     std::to_string(body.size()) + "\r\n";
  wire.append(body.begin(), body.end());
  wire += "\r\nPING\r\n";
  static_cast<void>(::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL));
  // Whatever comes back (the INFO line), the server ends the connection without a PONG.
  timeval two_seconds{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) received.append(buffer, n);
  ::close(fd);
  EXPECT_EQ(received.find("PONG"), std::string::npos) << received;
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(echo_enqueued(), before) << "a plain-text message reached the component";
  expect_canary_answers();
}

TEST(TlsHost, AgainstAPlainServerFailsWithAClearError) {
  PemDir dir;
  dir.write_all(make_pki({"alpha"}), "");
  NatsServer plain;
  ASSERT_TRUE(plain.running());
  BridgeConfig config;
  config.url = plain.url();
  config.cluster = "test";
  config.host = "alpha";
  config.tls = dir.files("", "alpha");
  auto bridge = NatsBridge::connect(config);
  ASSERT_FALSE(bridge) << "a TLS host connected to a plain server";
  EXPECT_NE(bridge.error().message.find("configured for TLS but the server does not offer it"),
            std::string::npos)
      << bridge.error().message;
}

TEST(TlsHost, AMissingFileOrAServerListIsAnErrorNamingIt) {
  PemDir dir;
  dir.write_all(make_pki({"alpha"}), "");
  NatsServer plain;
  BridgeConfig config;
  config.url = plain.url();
  config.cluster = "test";
  config.host = "alpha";
  config.tls = dir.files("", "alpha");
  config.tls.key = dir.path() / "no-such.key";
  auto bridge = NatsBridge::connect(config);
  ASSERT_FALSE(bridge);
  EXPECT_NE(bridge.error().message.find("no-such.key: cannot read"), std::string::npos)
      << bridge.error().message;
  // A file that is not PEM is an error too (OpenSSL's), never a crash.
  config.tls = dir.files("", "alpha");
  config.tls.ca = dir.write("garbage.pem", "not a certificate\n");
  auto garbage = NatsBridge::connect(config);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("garbage.pem"), std::string::npos)
      << garbage.error().message;
  // A list of servers would have all checked against the first one's name: refused.
  config.tls = dir.files("", "alpha");
  config.url = plain.url() + "," + plain.url();
  auto list = NatsBridge::connect(config);
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("one server URL"), std::string::npos) << list.error().message;
}

TEST(TlsHost, RefusesAServerCertificateForAnotherName) {
  // The server's certificate comes from the right CA but names another server: a host that
  // reaches 127.0.0.1 refuses it (anyone holding a certificate of the CA could otherwise pose as
  // the server). TlsCluster's servers, named 127.0.0.1, are the control.
  PemDir dir;
  auto pki = make_cluster_pki("test", {"alpha"}, {"other.example"});
  ASSERT_TRUE(pki) << pki.error().describe();
  dir.write_all(*pki, "");
  ClusterAuth open_auth = *make_cluster_auth("test", {"alpha"});
  NatsServer server{NatsServer::Mode::kCore, server_config(open_auth, dir)};
  ASSERT_TRUE(server.running());
  BridgeConfig config;
  config.url = server.url();
  config.cluster = "test";
  config.host = "alpha";
  config.user = open_auth.hosts[0].user;
  config.password = open_auth.hosts[0].password;
  config.tls = dir.files("", "alpha");
  auto bridge = NatsBridge::connect(config);
  ASSERT_FALSE(bridge) << "a host accepted a server certificate for another name";
  EXPECT_NE(bridge.error().message.find("address mismatch"), std::string::npos)
      << bridge.error().message;
}

TEST(ClusterPkiTest, CertificatesSayWhoTheyAreAndWhoSignedThem) {
  auto pki = make_cluster_pki("prod", {"p1", "s1"}, {"nats.internal", "10.0.0.5"});
  ASSERT_TRUE(pki) << pki.error().describe();
  const ParsedCert ca(pki->ca.certificate);
  const ParsedCert server(pki->server.certificate);
  const ParsedCert p1(pki->hosts[0].client.certificate);
  ASSERT_NE(ca.cert, nullptr);
  ASSERT_NE(server.cert, nullptr);
  ASSERT_NE(p1.cert, nullptr);
  EXPECT_EQ(p1.common_name(), "p1");
  EXPECT_EQ(ParsedCert(pki->hosts[1].client.certificate).common_name(), "s1");
  // Signed by the CA, which is a CA; the leaves are not, and each is for its one purpose.
  EXPECT_EQ(X509_verify(p1.cert, X509_get0_pubkey(ca.cert)), 1);
  EXPECT_EQ(X509_verify(server.cert, X509_get0_pubkey(ca.cert)), 1);
  EXPECT_EQ(X509_check_ca(ca.cert), 1);
  EXPECT_EQ(X509_check_ca(p1.cert), 0);
  EXPECT_EQ(X509_check_purpose(p1.cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(p1.cert, X509_PURPOSE_SSL_SERVER, 0), 0);
  EXPECT_EQ(X509_check_purpose(server.cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  // The server names are what the hosts check.
  EXPECT_EQ(X509_check_host(server.cert, "nats.internal", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server.cert, "10.0.0.5", 0), 1);
  EXPECT_NE(X509_check_host(server.cert, "other.internal", 0, 0, nullptr), 1);
  // A second run is another CA: its certificates do not verify under the first.
  auto other = make_cluster_pki("prod", {"p1"}, {"nats.internal"});
  ASSERT_TRUE(other);
  const ParsedCert stranger(other->hosts[0].client.certificate);
  EXPECT_NE(X509_verify(stranger.cert, X509_get0_pubkey(ca.cert)), 1);
}

TEST(ClusterPkiTest, RefusesNamesThatCouldInjectAltNames) {
  EXPECT_FALSE(make_cluster_pki("test", {"a"}, {"ok.example,IP:10.0.0.1"}));
  EXPECT_FALSE(make_cluster_pki("test", {"a b"}, {"localhost"}));
  EXPECT_FALSE(make_cluster_pki("test", {"a"}, {}));
  auto fine = make_cluster_pki("test", {"a", "b"}, {"*.example.org", "::1", "10.0.0.5"});
  ASSERT_TRUE(fine) << fine.error().describe();
  EXPECT_EQ(fine->hosts.size(), 2u);
  EXPECT_NE(fine->ca.certificate.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(fine->hosts[1].client.private_key.find("BEGIN PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace capsule::cluster

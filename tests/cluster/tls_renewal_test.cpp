// Certificates issued later from a kept cluster CA (`capsule cluster init --tls --keep-ca-key`,
// then `capsule cluster renew`): a renewed host certificate and a new host's get in, a renewed
// server certificate is accepted by hosts that trust the same CA; an expired certificate, one of
// another CA, and one from a CA whose key does not match are refused. A real nats-server that
// requires TLS with client certificates; a host with its original certificate is the canary.
#include <algorithm>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/cluster_pki.hpp>

#include "nats_server.hpp"
#include "tls_helpers.hpp"

namespace capsule::cluster::testing {
namespace {

class TlsRenewal : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server.running()); }

  // Connects as `host` with its password and the certificate files `<prefix><host>.pem/.key`.
  [[nodiscard]] natsStatus connect_as(const std::string& host, const std::string& prefix) const {
    const HostCredentials& login = *std::find_if(auth.hosts.begin(), auth.hosts.end(),
                                                 [&](const auto& h) { return h.host == host; });
    const TlsFiles files{dir.path() / "ca.pem", dir.path() / (prefix + host + ".pem"),
                         dir.path() / (prefix + host + ".key")};
    return Client(server.url(), login, files).status;
  }

  void write(const std::string& prefix, const std::string& host, const CertifiedKey& leaf) const {
    dir.write(prefix + host + ".pem", leaf.certificate);
    dir.write(prefix + host + ".key", leaf.private_key);
  }

  void expect_canary() const { EXPECT_EQ(connect_as("alpha", ""), NATS_OK) << "the canary"; }

  PemDir dir;
  // gamma is a host the server knows (its user) that `cluster init` gave no certificate yet.
  ClusterPki pki = make_pki({"alpha", "beta"});
  ClusterPki foreign = make_pki({"beta"});
  bool written = (dir.write_all(pki, ""), true);
  ClusterAuth auth = *make_cluster_auth("test", {"alpha", "beta", "gamma"});
  NatsServer server{NatsServer::Mode::kCore, server_config(auth, dir)};
};

TEST_F(TlsRenewal, ARenewedHostCertificateAndANewHostsGetIn) {
  expect_canary();
  auto renewed = issue_host_certificate(pki.ca, "beta");
  ASSERT_TRUE(renewed) << renewed.error().describe();
  write("renewed-", "beta", *renewed);
  EXPECT_EQ(connect_as("beta", "renewed-"), NATS_OK) << "a renewed certificate was refused";
  auto added = issue_host_certificate(pki.ca, "gamma");
  ASSERT_TRUE(added) << added.error().describe();
  write("", "gamma", *added);
  EXPECT_EQ(connect_as("gamma", ""), NATS_OK) << "a new host's certificate was refused";
  const ParsedCert cert(added->certificate);
  EXPECT_EQ(cert.common_name(), "gamma");
  EXPECT_EQ(X509_verify(cert.cert, X509_get0_pubkey(ParsedCert(pki.ca.certificate).cert)), 1);
  EXPECT_EQ(X509_check_purpose(cert.cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  expect_canary();
}

TEST_F(TlsRenewal, AnExpiredOrForeignCertificateIsRefused) {
  auto expired = issue_host_certificate(pki.ca, "beta", -1);
  ASSERT_TRUE(expired) << expired.error().describe();
  write("expired-", "beta", *expired);
  EXPECT_NE(connect_as("beta", "expired-"), NATS_OK) << "an expired certificate got in";
  auto stranger = issue_host_certificate(foreign.ca, "beta");
  ASSERT_TRUE(stranger) << stranger.error().describe();
  write("foreign-", "beta", *stranger);
  EXPECT_NE(connect_as("beta", "foreign-"), NATS_OK) << "another CA's certificate got in";
  expect_canary();
}

TEST_F(TlsRenewal, ARenewedServerCertificateIsTrustedByTheSameHosts) {
  auto renewed = issue_server_certificate(pki.ca, {"localhost", "127.0.0.1"});
  ASSERT_TRUE(renewed) << renewed.error().describe();
  dir.write("nats-server.pem", renewed->certificate);
  dir.write("nats-server.key", renewed->private_key);
  server.stop();
  ASSERT_TRUE(server.start());
  EXPECT_EQ(connect_as("alpha", ""), NATS_OK) << "hosts refused the renewed server certificate";
  EXPECT_EQ(ParsedCert(renewed->certificate).common_name(), "nats-server");
}

TEST(ClusterCaTest, IssuesOnlyFromACaCertificateWithItsOwnKey) {
  auto pki = make_cluster_pki("prod", {"p1"}, {"localhost"});
  auto other = make_cluster_pki("prod", {"p1"}, {"localhost"});
  ASSERT_TRUE(pki && other);
  // The canary: the real pair issues, with the CA's organization.
  auto leaf = issue_host_certificate(pki->ca, "p2");
  ASSERT_TRUE(leaf) << leaf.error().describe();
  char org[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ParsedCert(leaf->certificate).cert),
                            NID_organizationName, org, sizeof org);
  EXPECT_STREQ(org, "capsule cluster prod");
  const CertifiedKey mismatched{pki->ca.certificate, other->ca.private_key};
  auto refused = issue_host_certificate(mismatched, "p2");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not the CA certificate's key"), std::string::npos)
      << refused.error().message;
  const CertifiedKey not_a_ca{pki->hosts[0].client.certificate, pki->hosts[0].client.private_key};
  EXPECT_FALSE(issue_host_certificate(not_a_ca, "p2"));
  EXPECT_FALSE(issue_host_certificate({"garbage", "garbage"}, "p2"));
  EXPECT_FALSE(issue_host_certificate(pki->ca, "p 2")) << "a host name with a space";
  EXPECT_FALSE(issue_server_certificate(pki->ca, {"ok.example,IP:10.0.0.1"}));
}

}  // namespace
}  // namespace capsule::cluster::testing

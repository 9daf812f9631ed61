#pragma once

#include <string>
#include <vector>

#include <capsule/core/result.hpp>

namespace capsule::cluster {

// A certificate and its private key, both PEM.
struct CertifiedKey {
  std::string certificate;
  std::string private_key;  // PKCS#8, unencrypted: written with mode 0600
};

// A private certificate authority for one cluster's NATS connections, as `capsule cluster init
// --tls` writes it: the CA, a server certificate for nats-server, and one client certificate per
// host whose common name is the host's name. Keys are ECDSA P-256, signatures SHA-256.
struct ClusterPki {
  CertifiedKey ca;      // CA:TRUE, pathlen 0: signs the two kinds below and nothing else
  CertifiedKey server;  // serverAuth, subjectAltName = the server names given
  struct Host {
    std::string name;
    CertifiedKey client;  // clientAuth, CN = name
  };
  std::vector<Host> hosts;
};

// Days a generated certificate is valid: the CA ten years, the server and host certificates about
// two (renewed from the CA's key when it was kept: `cluster init --tls --keep-ca-key`, then
// `cluster renew`).
inline constexpr int kCaValidDays = 3650;
inline constexpr int kLeafValidDays = 825;

// A fresh CA and the certificates it signs. `server_names`: the names and addresses clients use
// to reach nats-server (each a DNS name, possibly with a leading "*.", or an IPv4/IPv6 address);
// the server certificate carries each as a subjectAltName (DNS or IP), and hosts check the host of
// their URL against them. Host names must be [A-Za-z0-9._-]+.
[[nodiscard]] Result<ClusterPki> make_cluster_pki(const std::string& cluster,
                                                  const std::vector<std::string>& hosts,
                                                  const std::vector<std::string>& server_names);

// Another certificate from a kept CA (`ca`: its certificate and key, as `cluster init --tls
// --keep-ca-key` wrote them), to renew a host's or the server's certificate or to give a new host
// one. The same kinds, names and checks as make_cluster_pki, with the CA's organization. Refused
// when `ca` is not a CA's certificate with its own key. `valid_days` < 0 makes a certificate that
// has already expired (tests).
[[nodiscard]] Result<CertifiedKey> issue_host_certificate(const CertifiedKey& ca,
                                                          const std::string& host,
                                                          int valid_days = kLeafValidDays);
[[nodiscard]] Result<CertifiedKey> issue_server_certificate(
    const CertifiedKey& ca, const std::vector<std::string>& server_names,
    int valid_days = kLeafValidDays);

}  // namespace capsule::cluster

#pragma once

#include <string>
#include <vector>

#include <capsule/cluster/tls_files.hpp>
#include <capsule/core/result.hpp>

namespace capsule::cluster {

// One host's NATS login, as `capsule cluster init` writes it to <host>.creds.
struct HostCredentials {
  std::string cluster;
  std::string host;
  std::string user;
  std::string password;  // 256 random bits, hex
  // TLS to the server (`cluster init --tls`); paths as written into the .creds file, relative to
  // it when relative. Not enabled: plain TCP.
  TlsFiles tls;
};

// The credentials of every host of a cluster and the nats-server configuration that admits
// exactly those hosts, each with subject permissions that let it publish only under its own name
// (capsule.<cluster>.f.<host>.>, see Subjects) and subscribe only to what a host of this cluster
// serves: the component subjects addressed to it, its own replies, topics and heartbeats. Anonymous
// clients are refused. JetStream KV is allowed on `kv_bucket` (storage_backend = "nats-kv") and on
// the cluster's lease bucket (lease_bucket(), failover) only.
struct ClusterAuth {
  std::string cluster;
  std::string kv_bucket = "capsule_kv";
  std::vector<HostCredentials> hosts;
  // When enabled, the server accepts TLS connections only (its certificate `cert`, key `key`)
  // and requires each client to present a certificate signed by `ca` (`verify: true`), on top of
  // its user and password. Paths as nats-server reads them (absolute: it resolves relative paths
  // against its working directory, not the configuration file).
  TlsFiles server_tls;

  [[nodiscard]] std::string server_config() const;
};

// Fresh random passwords for `hosts` (names [A-Za-z0-9._-]+, unique).
[[nodiscard]] Result<ClusterAuth> make_cluster_auth(const std::string& cluster,
                                                    const std::vector<std::string>& hosts,
                                                    const std::string& kv_bucket = "capsule_kv");

// The text of a <host>.creds file (TOML, read back by the CLI).
[[nodiscard]] std::string credentials_file(const HostCredentials& credentials);

}  // namespace capsule::cluster

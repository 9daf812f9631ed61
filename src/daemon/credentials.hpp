#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/cluster/cluster_pki.hpp>
#include <capsule/core/result.hpp>

namespace capsule::daemon {

// Reads a <host>.creds file written by `capsule cluster init`. Errors name the file and field.
[[nodiscard]] Result<cluster::HostCredentials> load_credentials(const std::filesystem::path& file);

// `capsule cluster init`: writes <out>/nats-server.conf and <out>/<host>.creds (mode 0600) for a
// new cluster; with `pki` (`--tls`) also ca.pem, nats-server.{pem,key} and <host>.{pem,key}
// (keys 0600), a server configuration that requires TLS with client certificates, and .creds files
// that name the host's TLS files. Refuses to overwrite existing files. Returns the paths written.
// `keep_ca_key` (`--keep-ca-key`): ca.key too (0600), from which `cluster renew` issues more.
[[nodiscard]] Result<std::vector<std::filesystem::path>> write_cluster_files(
    cluster::ClusterAuth auth, const std::filesystem::path& out,
    const std::optional<cluster::ClusterPki>& pki = std::nullopt, bool keep_ca_key = false);

// `capsule cluster renew`: new certificates signed by the CA kept in `ca_dir` (ca.pem, ca.key) -
// <host>.pem/.key for each of `hosts`, and nats-server.pem/.key when `server_names` is not empty -
// written to `out` (keys 0600, certificates 0644). An existing file is replaced only with `force`
// (a new file renamed over it, so a reader never sees half of one). Returns the paths written.
[[nodiscard]] Result<std::vector<std::filesystem::path>> renew_cluster_certificates(
    const std::filesystem::path& ca_dir, const std::filesystem::path& out,
    const std::vector<std::string>& hosts, const std::vector<std::string>& server_names, bool force,
    int valid_days = cluster::kLeafValidDays);

// `capsule cluster add-host`: a host joins a cluster made by `cluster init` in `dir`: its
// <host>.creds (a fresh password), with TLS its certificate from the kept CA (ca.key needed), and
// nats-server.conf written again with every host's user (read from the .creds files of `dir`)
// plus the new one, replacing the old file. `kv_bucket` must be the one `cluster init` was given.
// Refuses a host already there. Returns the paths written.
[[nodiscard]] Result<std::vector<std::filesystem::path>> add_cluster_host(
    const std::filesystem::path& dir, const std::string& host, const std::string& kv_bucket);

}  // namespace capsule::daemon

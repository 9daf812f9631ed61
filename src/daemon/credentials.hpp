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
[[nodiscard]] Result<std::vector<std::filesystem::path>> write_cluster_files(
    cluster::ClusterAuth auth, const std::filesystem::path& out,
    const std::optional<cluster::ClusterPki>& pki = std::nullopt);

}  // namespace capsule::daemon

#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <capsule/cluster/cluster_auth.hpp>
#include <capsule/core/result.hpp>

namespace capsule::daemon {

// Reads a <host>.creds file written by `capsule cluster init`. Errors name the file and field.
[[nodiscard]] Result<cluster::HostCredentials> load_credentials(const std::filesystem::path& file);

// `capsule cluster init`: writes <out>/nats-server.conf and <out>/<host>.creds (mode 0600) for a
// new cluster. Refuses to overwrite existing files. Returns the paths written.
[[nodiscard]] Result<std::vector<std::filesystem::path>> write_cluster_files(
    const cluster::ClusterAuth& auth, const std::filesystem::path& out);

}  // namespace capsule::daemon

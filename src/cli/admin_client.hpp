#pragma once

#include <string>

#include <capsule/core/result.hpp>

#include "daemon/http.hpp"

namespace capsule::cli {

// How the CLI was told to reach a host (flags; empty = not given).
struct AdminClientOptions {
  std::string admin;       // --admin: a socket path (has a '/') or a loopback host:port
  std::string data_dir;    // --data-dir: the host's data dir (admin.sock, admin.token in it)
  std::string token_file;  // --token-file: for TCP
};

// Where the admin endpoint is, in this order: --admin, $CAPSULE_ADMIN, then the Unix socket
// <data dir>/admin.sock with the data dir from --data-dir, $CAPSULE_DATA_DIR, or ".capsule" (the
// manifest default, for a CLI run next to the manifest). For TCP the token comes from
// --token-file, $CAPSULE_ADMIN_TOKEN, or <data dir>/admin.token when it exists; none found is not
// an error here (the host answers 401 naming where it is).
[[nodiscard]] Result<daemon::AdminEndpoint> resolve_admin(const AdminClientOptions& options);

}  // namespace capsule::cli

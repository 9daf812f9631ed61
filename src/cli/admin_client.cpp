#include "admin_client.hpp"

#include <cstdlib>
#include <filesystem>

#include "daemon/admin_auth.hpp"

namespace capsule::cli {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once, at start
  return value != nullptr ? value : "";
}

std::string first_of(const std::string& a, const std::string& b) {
  return a.empty() ? b : a;
}

}  // namespace

Result<daemon::AdminEndpoint> resolve_admin(const AdminClientOptions& options) {
  const std::filesystem::path data_dir =
      first_of(options.data_dir, first_of(env("CAPSULE_DATA_DIR"), ".capsule"));
  const std::string admin = first_of(options.admin, env("CAPSULE_ADMIN"));
  if (admin.empty()) return daemon::AdminEndpoint{true, (data_dir / "admin.sock").string(), ""};
  // A path names a socket ("./admin.sock" for one in the working directory); host:port is TCP.
  if (admin.find('/') != std::string::npos) return daemon::AdminEndpoint{true, admin, ""};
  daemon::AdminEndpoint tcp{false, admin, ""};
  if (!options.token_file.empty()) {
    auto token = daemon::AdminToken::load(options.token_file);
    if (!token) return std::move(token).error();
    tcp.token = token->text();
  } else if (const std::string from_env = env("CAPSULE_ADMIN_TOKEN"); !from_env.empty()) {
    tcp.token = from_env;
  } else if (std::filesystem::exists(data_dir / "admin.token")) {
    auto token = daemon::AdminToken::load(data_dir / "admin.token");
    if (!token) return std::move(token).error();
    tcp.token = token->text();
  }
  return tcp;
}

}  // namespace capsule::cli

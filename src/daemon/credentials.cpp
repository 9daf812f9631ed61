#include "credentials.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

namespace capsule::daemon {
namespace {

// Creates `path` with `mode`, failing if it exists, and writes `text`.
Status write_new_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return make_error(ErrorCode::kAlreadyExists,
                      path.string() + ": cannot create (" + std::strerror(errno) +
                          "); capsule cluster init never overwrites a file");
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) {
    return make_error(ErrorCode::kInternal, path.string() + ": write failed");
  }
  return ok();
}

}  // namespace

Result<cluster::HostCredentials> load_credentials(const std::filesystem::path& file) {
  auto parsed = toml::parse_file(file.string());
  if (!parsed) {
    return make_error(ErrorCode::kInvalidArgument,
                      file.string() + ": " + std::string(parsed.error().description()));
  }
  cluster::HostCredentials c;
  for (auto [field, out] : {std::pair<const char*, std::string*>{"cluster", &c.cluster},
                            {"host", &c.host},
                            {"user", &c.user},
                            {"password", &c.password}}) {
    auto v = parsed.table()[field].value<std::string>();
    if (!v || v->empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        file.string() + ": " + field + ": expected a non-empty string");
    }
    *out = *v;
  }
  return c;
}

Result<std::vector<std::filesystem::path>> write_cluster_files(const cluster::ClusterAuth& auth,
                                                               const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      out.string() + ": cannot create directory: " + ec.message());
  }
  std::vector<std::filesystem::path> written;
  const auto conf = out / "nats-server.conf";
  if (Status s = write_new_file(conf, auth.server_config(), 0600); !s) return std::move(s).error();
  written.push_back(conf);
  for (const auto& h : auth.hosts) {
    const auto creds = out / (h.host + ".creds");
    if (Status s = write_new_file(creds, cluster::credentials_file(h), 0600); !s) {
      return std::move(s).error();
    }
    written.push_back(creds);
  }
  return written;
}

}  // namespace capsule::daemon

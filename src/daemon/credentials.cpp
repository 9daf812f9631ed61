#include "credentials.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <toml++/toml.h>
#include <tuple>
#include <unistd.h>

#include <capsule/core/readable_file.hpp>

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
  // TLS files (`cluster init --tls`), relative to the .creds file; all three or none.
  const auto dir = file.parent_path();
  int tls_given = 0;
  for (auto [field, out] : {std::pair<const char*, std::filesystem::path*>{"tls_ca", &c.tls.ca},
                            {"tls_cert", &c.tls.cert},
                            {"tls_key", &c.tls.key}}) {
    const auto* node = parsed.table().get(field);
    if (node == nullptr) continue;
    auto v = node->value<std::string>();
    if (!v || v->empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        file.string() + ": " + field + ": expected a non-empty path");
    }
    *out = dir / *v;
    ++tls_given;
    if (const std::string why = why_unreadable(*out); !why.empty()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          file.string() + ": " + field + ": " + out->string() + ": cannot read (" + why + ")");
    }
  }
  if (tls_given != 0 && tls_given != 3) {
    return make_error(ErrorCode::kInvalidArgument,
                      file.string() + ": tls_ca, tls_cert and tls_key come together");
  }
  return c;
}

Result<std::vector<std::filesystem::path>> write_cluster_files(
    cluster::ClusterAuth auth, const std::filesystem::path& out,
    const std::optional<cluster::ClusterPki>& pki) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      out.string() + ": cannot create directory: " + ec.message());
  }
  std::vector<std::filesystem::path> written;
  if (pki) {
    const auto dir = std::filesystem::absolute(out).lexically_normal();
    if (dir.string().find_first_of("\"\\\n") != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        dir.string() +
                            ": a directory for nats-server's TLS files cannot contain "
                            "quotes, backslashes or newlines");
    }
    // Certificates are public (0644); keys 0600. The CA's key is not written: nothing can sign
    // another certificate for this cluster, so a new host means a new `cluster init`.
    std::vector<std::tuple<std::string, const std::string*, mode_t>> files{
        {"ca.pem", &pki->ca.certificate, 0644},
        {"nats-server.pem", &pki->server.certificate, 0644},
        {"nats-server.key", &pki->server.private_key, 0600}};
    for (const auto& h : pki->hosts) {
      files.emplace_back(h.name + ".pem", &h.client.certificate, 0644);
      files.emplace_back(h.name + ".key", &h.client.private_key, 0600);
    }
    for (const auto& [name, text, mode] : files) {
      if (Status s = write_new_file(out / name, *text, mode); !s) return std::move(s).error();
      written.push_back(out / name);
    }
    auth.server_tls = {dir / "ca.pem", dir / "nats-server.pem", dir / "nats-server.key"};
    for (auto& h : auth.hosts) h.tls = {"ca.pem", h.host + ".pem", h.host + ".key"};
  }
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

#include "credentials.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
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

// Writes `text` to `path` with `mode`, replacing an existing file only when `force` is set: a new
// file next to it, renamed over it.
Status write_file(const std::filesystem::path& path, const std::string& text, mode_t mode,
                  bool force) {
  if (!force) return write_new_file(path, text, mode);
  auto next = path;
  next += ".new";
  std::error_code ignored;
  std::filesystem::remove(next, ignored);
  if (Status s = write_new_file(next, text, mode); !s) return s;
  if (::rename(next.c_str(), path.c_str()) != 0) {
    return make_error(ErrorCode::kInternal,
                      path.string() + ": cannot replace (" + std::strerror(errno) + ")");
  }
  return ok();
}

Result<std::string> read_text(const std::filesystem::path& file) {
  if (const std::string why = why_unreadable(file); !why.empty()) {
    return make_error(ErrorCode::kInvalidArgument, file.string() + ": cannot read (" + why + ")");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The CA `cluster init --tls --keep-ca-key` left in `dir`.
Result<cluster::CertifiedKey> load_kept_ca(const std::filesystem::path& dir) {
  auto cert = read_text(dir / "ca.pem");
  if (!cert) return std::move(cert).error();
  auto key = read_text(dir / "ca.key");
  if (!key) {
    Error e = std::move(key).error();
    e.message += "; the CA's key is kept only by `capsule cluster init --tls --keep-ca-key`";
    return e;
  }
  return cluster::CertifiedKey{std::move(*cert), std::move(*key)};
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
    const std::optional<cluster::ClusterPki>& pki, bool keep_ca_key) {
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
    // Certificates are public (0644); keys 0600. The CA's key only when asked for: whoever has
    // it can make certificates this cluster trusts; without it nothing can sign another
    // certificate for this cluster, so a new host or a renewal means a new `cluster init`.
    std::vector<std::tuple<std::string, const std::string*, mode_t>> files{
        {"ca.pem", &pki->ca.certificate, 0644},
        {"nats-server.pem", &pki->server.certificate, 0644},
        {"nats-server.key", &pki->server.private_key, 0600}};
    if (keep_ca_key) files.emplace_back("ca.key", &pki->ca.private_key, 0600);
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

namespace capsule::daemon {

Result<std::vector<std::filesystem::path>> renew_cluster_certificates(
    const std::filesystem::path& ca_dir, const std::filesystem::path& out,
    const std::vector<std::string>& hosts, const std::vector<std::string>& server_names, bool force,
    int valid_days) {
  if (hosts.empty() && server_names.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "nothing to renew: give --hosts or --server");
  }
  auto kept = load_kept_ca(ca_dir);
  if (!kept) return std::move(kept).error();
  const cluster::CertifiedKey& ca = *kept;
  // Everything is issued before anything is written: a bad name or CA changes no file.
  std::vector<std::pair<std::string, cluster::CertifiedKey>> issued;
  for (const auto& h : hosts) {
    auto leaf = cluster::issue_host_certificate(ca, h, valid_days);
    if (!leaf) return std::move(leaf).error();
    issued.emplace_back(h, std::move(*leaf));
  }
  if (!server_names.empty()) {
    auto leaf = cluster::issue_server_certificate(ca, server_names, valid_days);
    if (!leaf) return std::move(leaf).error();
    issued.emplace_back("nats-server", std::move(*leaf));
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      out.string() + ": cannot create directory: " + ec.message());
  }
  if (!force) {
    for (const auto& [name, leaf] : issued) {
      for (const char* ext : {".pem", ".key"}) {
        if (std::filesystem::exists(out / (name + ext))) {
          return make_error(ErrorCode::kAlreadyExists,
                            (out / (name + ext)).string() +
                                " exists: `capsule cluster renew --force` replaces it");
        }
      }
    }
  }
  std::vector<std::filesystem::path> written;
  for (const auto& [name, leaf] : issued) {
    // The key first: a certificate never names a key that is not there yet.
    for (const auto& [ext, text, mode] :
         {std::tuple<const char*, const std::string*, mode_t>{".key", &leaf.private_key, 0600},
          {".pem", &leaf.certificate, 0644}}) {
      const auto path = out / (name + ext);
      if (Status s = write_file(path, *text, mode, force); !s) return std::move(s).error();
      written.push_back(path);
    }
  }
  return written;
}

}  // namespace capsule::daemon

namespace capsule::daemon {

Result<std::vector<std::filesystem::path>> add_cluster_host(const std::filesystem::path& dir,
                                                            const std::string& host,
                                                            const std::string& kv_bucket) {
  // The hosts as `cluster init` (or an earlier add-host) wrote them: every .creds file of `dir`.
  cluster::ClusterAuth auth;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".creds") continue;
    auto c = load_credentials(entry.path());
    if (!c) return std::move(c).error();
    if (!auth.hosts.empty() && c->cluster != auth.cluster) {
      return make_error(
          ErrorCode::kInvalidArgument,
          entry.path().string() + ": of cluster '" + c->cluster + "', not '" + auth.cluster + "'");
    }
    auth.cluster = c->cluster;
    auth.hosts.push_back(std::move(*c));
  }
  if (ec || auth.hosts.empty()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        dir.string() + ": no .creds files: not a directory of `capsule cluster init`");
  }
  for (const auto& h : auth.hosts) {
    if (h.host == host) {
      std::string why = "host '" + host + "' is already in " + dir.string();
      why += " (to renew its certificate: `capsule cluster renew --hosts " + host + " --force`)";
      return make_error(ErrorCode::kAlreadyExists, std::move(why));
    }
  }
  auto fresh = cluster::make_cluster_auth(auth.cluster, {host}, kv_bucket);
  if (!fresh) return std::move(fresh).error();
  auth.kv_bucket = kv_bucket;
  // The server must already allow that bucket: `cluster init` wrote it for every host.
  const auto conf = dir / "nats-server.conf";
  auto old_conf = read_text(conf);
  if (!old_conf) return std::move(old_conf).error();
  if (old_conf->find("\"$KV." + kv_bucket + ".>\"") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, conf.string() + " does not allow KV bucket '" +
                                                       kv_bucket +
                                                       "': give --kv-bucket as to `cluster init`");
  }
  cluster::HostCredentials added = fresh->hosts.front();
  std::vector<std::pair<std::string, std::pair<const std::string*, mode_t>>> files;
  std::optional<cluster::CertifiedKey> leaf;
  if (auth.hosts.front().tls.enabled()) {
    auto ca = load_kept_ca(dir);
    if (!ca) return std::move(ca).error();
    auto issued = cluster::issue_host_certificate(*ca, host);
    if (!issued) return std::move(issued).error();
    leaf = std::move(*issued);
    files.push_back({host + ".key", {&leaf->private_key, 0600}});
    files.push_back({host + ".pem", {&leaf->certificate, 0644}});
    const auto abs = std::filesystem::absolute(dir).lexically_normal();
    auth.server_tls = {abs / "ca.pem", abs / "nats-server.pem", abs / "nats-server.key"};
    added.tls = {"ca.pem", host + ".pem", host + ".key"};
  }
  auth.hosts.push_back(added);
  const std::string creds = cluster::credentials_file(added);
  const std::string server = auth.server_config();
  files.push_back({host + ".creds", {&creds, 0600}});
  std::vector<std::filesystem::path> written;
  for (const auto& [name, what] : files) {
    if (Status s = write_file(dir / name, *what.first, what.second, false); !s) {
      return std::move(s).error();
    }
    written.push_back(dir / name);
  }
  // Last, replacing the old one: the server admits the new host once it reloads this.
  if (Status s = write_file(conf, server, 0600, true); !s) return std::move(s).error();
  written.push_back(conf);
  return written;
}

}  // namespace capsule::daemon

// [host.cluster_tls]: the PEM files of the host's TLS connections to the cluster's NATS server.
#include <capsule/core/readable_file.hpp>

#include "field_names.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

Status parse_cluster_tls(const Checker& c, const toml::node& n, const std::filesystem::path& file,
                         ClusterTlsPaths& out) {
  static constexpr std::string_view kTlsFields[] = {"ca", "cert", "key"};
  const auto* t = n.as_table();
  if (t == nullptr) return c.error(&n, 1, "host.cluster_tls: expected a table");
  for (const auto& [k, v] : *t) {
    const std::string where = "host.cluster_tls." + std::string(k.str());
    if (!known(k.str(), kTlsFields)) {
      return c.error(&v, 1, where + ": unknown field (known: " + field_list(kTlsFields) + ")");
    }
    auto text = v.value<std::string>();
    if (!text || text->empty()) return c.error(&v, 1, where + ": expected a path");
    const std::filesystem::path path = file.parent_path() / *text;  // relative to the manifest
    // Read now, so a wrong path stops `capsule run` here with its line, not at the first connect.
    if (const std::string why = why_unreadable(path); !why.empty()) {
      std::string what = where;
      what.append(": ").append(path.string()).append(": cannot read (").append(why).append(")");
      return c.error(&v, 1, what);
    }
    (k == "ca" ? out.ca : k == "cert" ? out.cert : out.key) = path;
  }
  if (out.cert.empty() != out.key.empty()) {
    return c.error(&n, 1, "host.cluster_tls: cert and key come together");
  }
  if (out.ca.empty()) {
    return c.error(&n, 1,
                   "host.cluster_tls.ca: required (the CA that signed the server's "
                   "certificate)");
  }
  return ok();
}

}  // namespace capsule::manifest

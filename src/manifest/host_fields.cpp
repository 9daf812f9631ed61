// [host] and [host.quotas], and the host group lists [component.placement] shares.
#include "field_names.hpp"
#include "quota_fields.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

Result<std::vector<std::string>> parse_groups(const Checker& c, const toml::node& n, int line,
                                              const std::string& where, bool wildcard) {
  const auto* arr = n.as_array();
  if (arr == nullptr) return c.error(&n, line, where + ": expected a list of host group names");
  std::vector<std::string> out;
  for (const auto& item : *arr) {
    auto g = item.value<std::string>();
    if (!g || (!is_valid_id_segment(*g) && !(wildcard && *g == "*"))) {
      return c.error(&item, line,
                     where + ": group names are [A-Za-z0-9._-]+" +
                         std::string(wildcard ? " or \"*\" (any host)" : ""));
    }
    out.push_back(*g);
  }
  return out;
}

Status parse_quota(const Checker& c, std::string_view key, const toml::node& v,
                   const std::string& where, GuestQuotas& out) {
  std::optional<std::uint64_t> bytes;
  if (auto text = v.value<std::string>()) bytes = parse_size(*text);
  if (auto why = set_quota(out, key, v.value<std::int64_t>(), bytes)) {
    return c.error(&v, 0, where + std::string(key) + ": " + *why + ", not " + shown(v));
  }
  return ok();
}

Result<HostSection> parse_host(const Checker& c, const toml::node* h,
                               const std::filesystem::path& file, const HostOverrides& overrides) {
  HostSection host;
  // The default data dir is relative to the manifest too, not to the working directory (a [host]
  // table without data_dir once put the socket, state and audit log wherever `capsule run` ran).
  bool data_dir_given = false;
  if (h != nullptr) {
    const auto* t = h->as_table();
    if (t == nullptr) return c.error(h, 1, "host: expected a table");
    static constexpr std::string_view kHostFields[] = {
        "name",         "data_dir",        "components_dir", "admin",
        "upgrade_dirs", "storage",         "audit_log",      "cluster",
        "groups",       "storage_backend", "kv_bucket",      "confirm_remote_sends",
        "quotas",       "cluster_tls",     "kv_replicas"};
    for (const auto& [k, v] : *t) {
      if (!known(k.str(), kHostFields)) {
        return c.error(&v, 1,
                       "host." + std::string(k.str()) +
                           ": unknown field (known: " + field_list(kHostFields) + ")");
      }
      if (k == "groups") {
        auto groups = parse_groups(c, v, 1, "host.groups", false);
        if (!groups) return std::move(groups).error();
        host.groups = std::move(*groups);
        continue;
      }
      if (k == "cluster_tls") {
        if (Status s = parse_cluster_tls(c, v, file, host.cluster_tls); !s) {
          return std::move(s).error();
        }
        continue;
      }
      if (k == "quotas") {
        const auto* q = v.as_table();
        if (q == nullptr) return c.error(&v, 1, "host.quotas: expected a table");
        for (const auto& [qk, qv] : *q) {
          if (!known(qk.str(), kQuotaFields)) {
            return c.error(&qv, 1,
                           "host.quotas." + std::string(qk.str()) +
                               ": unknown field (known: " + field_list(kQuotaFields) + ")");
          }
          if (Status s = parse_quota(c, qk.str(), qv, "host.quotas.", host.quotas); !s) {
            return std::move(s).error();
          }
        }
        continue;
      }
      if (k == "upgrade_dirs") {
        const auto* dirs = v.as_array();
        if (dirs == nullptr) return c.error(&v, 1, "host.upgrade_dirs: expected a list of paths");
        for (const auto& d : *dirs) {
          auto dir = d.value<std::string>();
          if (!dir || dir->empty()) return c.error(&d, 1, "host.upgrade_dirs: expected a path");
          host.upgrade_dirs.push_back(file.parent_path() / *dir);  // relative to the manifest
        }
        continue;
      }
      if (k == "kv_replicas") {
        // JetStream keeps at most 5 copies of a stream.
        auto n = v.value<std::int64_t>();
        if (!n || !v.is_integer() || *n < 1 || *n > 5) {
          return c.error(&v, 1,
                         "host.kv_replicas: expected 1 to 5 (3 on a 3-server JetStream cluster)");
        }
        host.kv_replicas = static_cast<int>(*n);
        continue;
      }
      if (k == "confirm_remote_sends") {
        auto b = v.value<bool>();
        if (!b) return c.error(&v, 1, "host.confirm_remote_sends: expected true or false");
        host.confirm_remote_sends = *b;
        continue;
      }
      auto s = v.value<std::string>();
      if (!s) return c.error(&v, 1, "host." + std::string(k.str()) + ": expected a string");
      if (k == "name") {
        host.name = *s;
      } else if (k == "data_dir") {
        host.data_dir = file.parent_path() / *s;
        data_dir_given = true;
      } else if (k == "components_dir") {
        host.components_dir = *s;
      } else if (k == "admin") {
        host.admin = *s;
      } else if (k == "storage") {
        host.storage = *s;
      } else if (k == "audit_log") {
        host.audit_log = *s;
      } else if (k == "cluster") {
        if (!is_valid_id_segment(*s))
          return c.error(&v, 1, "host.cluster: cluster names are [A-Za-z0-9._-]+");
        host.cluster = *s;
      } else if (k == "storage_backend") {
        if (*s != "sqlite" && *s != "nats-kv")
          return c.error(&v, 1, "host.storage_backend: expected \"sqlite\" or \"nats-kv\"");
        host.storage_backend = *s;
      } else if (k == "kv_bucket") {
        host.kv_bucket = *s;
      }
    }
  }
  if (!data_dir_given) host.data_dir = file.parent_path() / host.data_dir;
  if (host.upgrade_dirs.empty()) {
    host.upgrade_dirs.emplace_back(file.has_parent_path() ? file.parent_path() : ".");
  }
  if (!overrides.name.empty()) host.name = overrides.name;
  if (overrides.groups) host.groups = *overrides.groups;
  if (!overrides.data_dir.empty()) host.data_dir = std::filesystem::absolute(overrides.data_dir);
  if (!overrides.cluster.empty()) host.cluster = overrides.cluster;
  if (!is_valid_id_segment(host.name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "host name '" + host.name + "' must be [A-Za-z0-9._-]+");
  }
  for (const auto& g : host.groups) {
    if (!is_valid_id_segment(g)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "host group '" + g + "' must be [A-Za-z0-9._-]+");
    }
  }
  if (!is_valid_id_segment(host.cluster)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster name '" + host.cluster + "' must be [A-Za-z0-9._-]+");
  }
  const auto resolve = [&](std::filesystem::path& p, const char* fallback) {
    if (p.empty()) p = fallback;
    if (p.is_relative()) p = host.data_dir / p;
  };
  resolve(host.storage, "state.db");
  resolve(host.audit_log, "audit.jsonl");
  return host;
}

}  // namespace capsule::manifest

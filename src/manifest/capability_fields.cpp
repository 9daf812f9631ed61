// [component.capabilities] and [grants."ns/name"]: what a component declares and what this host
// grants it, with the storage quota.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "field_names.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

namespace {

std::optional<security::Clock::time_point> parse_time(const toml::node& n) {
  if (auto dt = n.value<toml::date_time>()) {
    std::tm tm{};
    tm.tm_year = dt->date.year - 1900;
    tm.tm_mon = dt->date.month - 1;
    tm.tm_mday = dt->date.day;
    tm.tm_hour = dt->time.hour;
    tm.tm_min = dt->time.minute;
    tm.tm_sec = dt->time.second;
    const auto offset = dt->offset ? dt->offset->minutes * 60 : 0;
    return security::Clock::from_time_t(timegm(&tm) - offset);
  }
  if (auto text = n.value<std::string>()) {
    std::tm tm{};
    if (std::sscanf(text->c_str(), "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      return security::Clock::from_time_t(timegm(&tm));
    }
  }
  return std::nullopt;
}

constexpr std::string_view kStorageQuotaFields[] = {"bytes", "keys"};
constexpr std::string_view kEntryFields[] = {"target", "expires"};

// A quota field: a positive count, or for `bytes` a size ("4MiB"). Anything else is an error: a
// quota that silently fell back to the default would grant more (or less) than was written.
Result<std::uint64_t> quota_value(const Checker& c, const toml::node& v, const std::string& where,
                                  bool size) {
  std::optional<std::uint64_t> n;
  if (auto i = v.value<std::int64_t>(); i && *i > 0 && v.is_integer()) {
    n = static_cast<std::uint64_t>(*i);
  }
  if (auto text = v.value<std::string>(); text && size) n = parse_size(*text);
  if (!n || *n == 0 || (size && *n > kMaxManifestSize)) {
    return c.error(&v, 0,
                   where + ": expected " +
                       (size ? "a byte count or a size like \"1MiB\" (at most 1PiB)"
                             : "a positive whole number") +
                       ", not " + shown(v));
  }
  return *n;
}

// storage_quota = { bytes = N, keys = N }: either may be left out (then the default stands).
Result<security::StorageQuota> parse_storage_quota(const Checker& c, const toml::node& v,
                                                   const std::string& where) {
  const auto* q = v.as_table();
  if (q == nullptr) return c.error(&v, 0, where + ": expected { bytes = N, keys = N }");
  security::StorageQuota sq;
  for (const auto& [k, field] : *q) {
    const std::string name = where + "." + std::string(k.str());
    if (!known(k.str(), kStorageQuotaFields)) {
      return c.error(&field, 0,
                     name + ": unknown field (known: " + field_list(kStorageQuotaFields) + ")");
    }
    auto n = quota_value(c, field, name, k == "bytes");
    if (!n) return std::move(n).error();
    (k == "bytes" ? sq.max_bytes : sq.max_keys) = *n;
  }
  return sq;
}

}  // namespace

// A table of `"action" = ["target", {target = "...", expires = 2026-12-31T00:00:00Z}, ...]`.
Result<std::vector<security::Capability>> parse_capabilities(
    const Checker& c, const toml::table& t, const std::string& where,
    std::optional<security::StorageQuota>* quota) {
  std::vector<security::Capability> out;
  for (const auto& [k, v] : t) {
    if (k == "storage_quota" && quota != nullptr) {
      auto sq = parse_storage_quota(c, v, where + "storage_quota");
      if (!sq) return std::move(sq).error();
      *quota = *sq;
      continue;
    }
    auto action = security::parse_action(k.str());
    if (!action)
      return c.error(&v, 0, where + std::string(k.str()) + ": " + action.error().message);
    const auto* targets = v.as_array();
    if (targets == nullptr)
      return c.error(&v, 0, where + std::string(k.str()) + ": expected a list of targets");
    for (const auto& item : *targets) {
      security::Capability cap;
      cap.action = *action;
      if (auto s = item.value<std::string>()) {
        cap.target = *s;
      } else if (const auto* tbl = item.as_table()) {
        for (const auto& [field, value] : *tbl) {
          if (!known(field.str(), kEntryFields)) {
            return c.error(&value, 0,
                           where + std::string(k.str()) + "." + std::string(field.str()) +
                               ": unknown field (known: " + field_list(kEntryFields) + ")");
          }
        }
        auto target = (*tbl)["target"].value<std::string>();
        if (!target)
          return c.error(&item, 0, where + std::string(k.str()) + ": entry needs target = \"...\"");
        cap.target = *target;
        if (const toml::node* e = tbl->get("expires")) {
          cap.expires = parse_time(*e);
          if (!cap.expires) {
            return c.error(e, 0,
                           where + std::string(k.str()) +
                               ".expires: expected a date like 2026-12-31T00:00:00Z");
          }
        }
      } else {
        return c.error(
            &item, 0,
            where + std::string(k.str()) + ": targets are strings or { target, expires }");
      }
      out.push_back(std::move(cap));
    }
  }
  return out;
}

Status parse_grants(const Checker& c, const toml::node& g, std::vector<ComponentEntry>& components,
                    std::vector<HttpRouteEntry>& routes) {
  const auto* grants = g.as_table();
  if (grants == nullptr) return c.error(&g, 1, "grants: expected [grants.\"ns/name\"] tables");
  for (const auto& [name, v] : *grants) {
    const auto* tbl = v.as_table();
    security::ComponentPermissions* permissions = nullptr;
    for (auto& ce : components) {
      if (ce.ns + "/" + ce.name == name.str()) permissions = &ce.permissions;
    }
    for (auto& route : routes) {
      if (!route.wasm.empty() && route.ns + "/" + route.name == name.str()) {
        permissions = &route.permissions;
      }
    }
    if (tbl == nullptr || permissions == nullptr) {
      return c.error(&v, 1,
                     "grants.\"" + std::string(name.str()) +
                         "\": no [[component]] or wasi:http/proxy [[http.route]] of that name "
                         "(grants are keyed by namespace/name)");
    }
    std::optional<security::StorageQuota> quota;
    auto granted =
        parse_capabilities(c, *tbl, "grants.\"" + std::string(name.str()) + "\".", &quota);
    if (!granted) return std::move(granted).error();
    permissions->granted = std::move(*granted);
    if (quota) permissions->storage_quota = *quota;
  }
  return ok();
}

}  // namespace capsule::manifest

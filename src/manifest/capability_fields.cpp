// [component.capabilities] and [grants."ns/name"]: what a component declares and what this host
// grants it, with the storage quota.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "table_parsers.hpp"

namespace capsule::cli {

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

}  // namespace

// A table of `"action" = ["target", {target = "...", expires = 2026-12-31T00:00:00Z}, ...]`.
Result<std::vector<security::Capability>> parse_capabilities(
    const Checker& c, const toml::table& t, const std::string& where,
    std::optional<security::StorageQuota>* quota) {
  std::vector<security::Capability> out;
  for (const auto& [k, v] : t) {
    if (k == "storage_quota" && quota != nullptr) {
      const auto* q = v.as_table();
      if (q == nullptr)
        return c.error(&v, 0, where + "storage_quota: expected { bytes = N, keys = N }");
      security::StorageQuota sq;
      if (auto b = (*q)["bytes"].value<std::int64_t>(); b && *b > 0)
        sq.max_bytes = static_cast<std::uint64_t>(*b);
      if (auto n = (*q)["keys"].value<std::int64_t>(); n && *n > 0)
        sq.max_keys = static_cast<std::uint64_t>(*n);
      *quota = sq;
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

Status parse_grants(const Checker& c, const toml::node& g,
                    std::vector<ComponentEntry>& components) {
  const auto* grants = g.as_table();
  if (grants == nullptr) return c.error(&g, 1, "grants: expected [grants.\"ns/name\"] tables");
  for (const auto& [name, v] : *grants) {
    const auto* tbl = v.as_table();
    auto it = std::find_if(components.begin(), components.end(), [&](const ComponentEntry& ce) {
      return ce.ns + "/" + ce.name == name.str();
    });
    if (tbl == nullptr || it == components.end()) {
      return c.error(&v, 1,
                     "grants.\"" + std::string(name.str()) +
                         "\": no [[component]] of that name (grants are keyed by namespace/name)");
    }
    std::optional<security::StorageQuota> quota;
    auto granted =
        parse_capabilities(c, *tbl, "grants.\"" + std::string(name.str()) + "\".", &quota);
    if (!granted) return std::move(granted).error();
    it->permissions.granted = std::move(*granted);
    if (quota) it->permissions.storage_quota = *quota;
  }
  return ok();
}

}  // namespace capsule::cli

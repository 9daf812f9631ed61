// [component.limits] (resources per call, and overrides of [host.quotas]) and [component.mailbox].
#include <capsule/component/component_runtime.hpp>

#include "field_names.hpp"
#include "quota_fields.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

namespace {

// A component's [limits]: these, and any of kQuotaFields (its overrides of [host.quotas]).
constexpr std::string_view kLimitFields[] = {"memory", "fuel", "wall_time_ms", "max_payload"};

// A [component.mailbox] size field: a non-negative integer, kept in `out` when present.
Status parse_mailbox_size(const Checker& c, const toml::table& t, const std::string& where,
                          const char* key, const char* expected, std::size_t& out) {
  auto value = optional_value<std::int64_t>(c, t, key, where + "mailbox.", expected);
  if (!value) return std::move(value).error();
  if (!*value) return ok();
  if (**value < 0) {
    return c.error(t.get(key), 0, where + "mailbox." + key + ": must not be negative");
  }
  out = static_cast<std::size_t>(**value);
  return ok();
}

}  // namespace

Status parse_limits(const Checker& c, const toml::table& t, const std::string& where,
                    ResourceLimits& out) {
  for (const auto& [k, v] : t) {
    if (known(k.str(), kQuotaFields)) {
      if (Status s = parse_quota(c, k.str(), v, where + "limits.", out.quotas); !s) return s;
      continue;
    }
    if (!known(k.str(), kLimitFields)) {
      return c.error(&v, 0,
                     where + "limits." + std::string(k.str()) + ": unknown field (known: " +
                         field_list(kLimitFields) + ", " + field_list(kQuotaFields) + ")");
    }
  }
  for (const char* name : {"memory", "max_payload"}) {
    const toml::node* m = t.get(name);
    if (m == nullptr) continue;
    std::optional<std::uint64_t> bytes;
    if (auto s = m->value<std::string>()) bytes = parse_size(*s);
    if (auto i = m->value<std::int64_t>(); i && *i > 0) bytes = static_cast<std::uint64_t>(*i);
    if (!bytes || *bytes == 0 || *bytes > kMaxManifestSize) {
      return c.error(m, 0,
                     where + "limits." + name +
                         ": expected a size like \"16MiB\" or a byte count (at most 1PiB), not " +
                         shown(*m));
    }
    (std::string_view(name) == "memory" ? out.memory_bytes : out.max_payload_bytes) = *bytes;
  }
  auto fuel = optional_value<std::int64_t>(c, t, "fuel", where + "limits.", "a positive integer");
  if (!fuel) return std::move(fuel).error();
  if (*fuel) {
    if (**fuel <= 0) return c.error(t.get("fuel"), 0, where + "limits.fuel: must be positive");
    out.fuel_per_call = static_cast<std::uint64_t>(**fuel);
  }
  auto wall = optional_value<std::int64_t>(c, t, "wall_time_ms", where + "limits.", "milliseconds");
  if (!wall) return std::move(wall).error();
  if (*wall) {
    if (**wall <= 0)
      return c.error(t.get("wall_time_ms"), 0, where + "limits.wall_time_ms: must be positive");
    out.wall_time_per_call = std::chrono::milliseconds(**wall);
  }
  return ok();
}

Status parse_mailbox(const Checker& c, const toml::table& t, const std::string& where,
                     std::optional<rt::MailboxConfig>& out) {
  static constexpr std::string_view kMailboxFields[] = {"capacity", "max_bytes", "policy"};
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kMailboxFields)) {
      return c.error(&v, 0,
                     where + "mailbox." + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kMailboxFields) + ")");
    }
  }
  rt::MailboxConfig m = component::default_component_mailbox();
  if (Status s = parse_mailbox_size(c, t, where, "max_bytes", "an integer (0 = no bound on bytes)",
                                    m.max_bytes);
      !s) {
    return s;
  }
  if (Status s =
          parse_mailbox_size(c, t, where, "capacity", "an integer (0 = unbounded)", m.capacity);
      !s) {
    return s;
  }
  if (const toml::node* p = t.get("policy")) {
    auto v = p->value<std::string>();
    if (v == "block") {
      m.policy = rt::BackpressurePolicy::kBlock;
    } else if (v == "drop-newest") {
      m.policy = rt::BackpressurePolicy::kDropNewest;
    } else if (v == "drop-oldest") {
      m.policy = rt::BackpressurePolicy::kDropOldest;
    } else if (v == "error") {
      m.policy = rt::BackpressurePolicy::kError;
    } else {
      return c.error(p, 0,
                     where + "mailbox.policy: expected block, drop-newest, drop-oldest or error");
    }
  }
  out = m;
  return ok();
}

}  // namespace capsule::manifest

#include "manifest.hpp"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <span>
#include <sstream>
#include <toml++/toml.h>
#include <utility>

#include <capsule/component/component_runtime.hpp>

#include "activation_fields.hpp"
#include "field_names.hpp"
#include "http_manifest.hpp"
#include "quota_fields.hpp"

namespace capsule::cli {
namespace {

class Checker {
 public:
  explicit Checker(std::filesystem::path file) : file_(std::move(file)) {}

  Error error(const toml::node* node, int fallback_line, const std::string& what) const {
    const int line = node != nullptr ? static_cast<int>(node->source().begin.line) : fallback_line;
    return make_error(ErrorCode::kInvalidArgument,
                      file_.filename().string() + ":" + std::to_string(line) + ": " + what);
  }

 private:
  std::filesystem::path file_;
};

const std::array<std::string_view, 6> kComponentKeys{"name",    "path",      "instances",
                                                     "restart", "subscribe", "links"};
const std::array<std::string_view, 6> kComponentTables{"config",  "limits",       "supervision",
                                                       "mailbox", "capabilities", "placement"};

// A list of host group names ("*" only where `wildcard` allows it).
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

constexpr std::string_view kPlacementFields[] = {"groups", "failover"};

Status parse_placement(const Checker& c, const toml::table& t, const std::string& where,
                       ComponentEntry& e) {
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kPlacementFields)) {
      return c.error(&v, e.line,
                     where + "placement." + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kPlacementFields) + ")");
    }
  }
  if (const toml::node* g = t.get("groups")) {
    auto groups = parse_groups(c, *g, e.line, where + "placement.groups", false);
    if (!groups) return std::move(groups).error();
    e.groups = std::move(*groups);
  }
  if (const toml::node* f = t.get("failover")) {
    auto groups = parse_groups(c, *f, e.line, where + "placement.failover", true);
    if (!groups) return std::move(groups).error();
    if (!groups->empty() && e.groups.empty()) {
      return c.error(f, e.line,
                     where +
                         "placement.failover: needs placement.groups (without groups the "
                         "component already runs on every host)");
    }
    e.failover = std::move(*groups);
  }
  return ok();
}

template <typename T>
Result<std::optional<T>> optional_value(const Checker& c, const toml::table& t,
                                        std::string_view key, const std::string& where,
                                        std::string_view expected) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return std::optional<T>{};
  auto v = n->value<T>();
  if (!v) return c.error(n, 0, where + std::string(key) + ": expected " + std::string(expected));
  return v;
}

Status parse_quota(const Checker& c, std::string_view key, const toml::node& v,
                   const std::string& where, GuestQuotas& out) {
  std::optional<std::uint64_t> bytes;
  if (auto text = v.value<std::string>()) bytes = parse_size(*text);
  if (auto why = set_quota(out, key, v.value<std::int64_t>(), bytes)) {
    return c.error(&v, 0, where + std::string(key) + ": " + *why);
  }
  return ok();
}

// A component's [limits]: these, and any of kQuotaFields (its overrides of [host.quotas]).
constexpr std::string_view kLimitFields[] = {"memory", "fuel", "wall_time_ms", "max_payload"};

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
    if (!bytes || *bytes == 0) {
      return c.error(m, 0,
                     where + "limits." + name + ": expected a size like \"16MiB\" or a byte count");
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

constexpr std::string_view kSupervisionFields[] = {"strategy",
                                                   "max_restarts",
                                                   "window_ms",
                                                   "backoff_ms",
                                                   "health_interval_ms",
                                                   "escalation",
                                                   "escalation_max_restarts",
                                                   "escalation_window_ms"};

// What the runtime (every group's parent) does when this supervisor gives up: `escalation` =
// "stay-down" (default) or "restart-group", at most `escalation_max_restarts` times within
// `escalation_window_ms` (component::GroupEscalation).
Status parse_escalation(const Checker& c, const toml::table& t, const std::string& where,
                        component::GroupEscalation& out) {
  if (const toml::node* e = t.get("escalation")) {
    const auto v = e->value<std::string>();
    if (v == "stay-down") {
      out.action = component::GroupEscalation::Action::kStayDown;
    } else if (v == "restart-group") {
      out.action = component::GroupEscalation::Action::kRestartGroup;
    } else {
      return c.error(e, 0, where + "supervision.escalation: expected stay-down or restart-group");
    }
  }
  const bool restarts = t.contains("escalation_max_restarts");
  const bool window = t.contains("escalation_window_ms");
  if ((restarts || window) && out.action != component::GroupEscalation::Action::kRestartGroup) {
    return c.error(t.get(restarts ? "escalation_max_restarts" : "escalation_window_ms"), 0,
                   where + "supervision." +
                       (restarts ? "escalation_max_restarts" : "escalation_window_ms") +
                       ": only with escalation = \"restart-group\"");
  }
  auto max = optional_value<std::int64_t>(c, t, "escalation_max_restarts", where + "supervision.",
                                          "a positive integer");
  if (!max) return std::move(max).error();
  if (*max) {
    if (**max <= 0 || **max > 1'000'000) {
      return c.error(t.get("escalation_max_restarts"), 0,
                     where + "supervision.escalation_max_restarts: must be 1 to 1000000");
    }
    out.max_restarts = static_cast<std::uint32_t>(**max);
  }
  auto ms = optional_value<std::int64_t>(c, t, "escalation_window_ms", where + "supervision.",
                                         "milliseconds");
  if (!ms) return std::move(ms).error();
  if (*ms) {
    if (**ms <= 0) {
      return c.error(t.get("escalation_window_ms"), 0,
                     where + "supervision.escalation_window_ms: must be positive");
    }
    out.window = std::chrono::milliseconds(**ms);
  }
  return ok();
}

Status parse_supervision(const Checker& c, const toml::table& t, const std::string& where,
                         rt::SupervisorConfig& out, component::GroupEscalation& escalation) {
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kSupervisionFields)) {
      return c.error(&v, 0,
                     where + "supervision." + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kSupervisionFields) + ")");
    }
  }
  if (Status s = parse_escalation(c, t, where, escalation); !s) return s;
  if (const toml::node* s = t.get("strategy")) {
    auto v = s->value<std::string>();
    if (v == "one-for-one") {
      out.strategy = rt::RestartStrategy::kOneForOne;
    } else if (v == "one-for-all") {
      out.strategy = rt::RestartStrategy::kOneForAll;
    } else if (v == "rest-for-one") {
      out.strategy = rt::RestartStrategy::kRestForOne;
    } else {
      return c.error(
          s, 0, where + "supervision.strategy: expected one-for-one, one-for-all or rest-for-one");
    }
  }
  auto int_field = [&](std::string_view key, auto&& apply) -> Status {
    auto v =
        optional_value<std::int64_t>(c, t, key, where + "supervision.", "a non-negative integer");
    if (!v) return std::move(v).error();
    if (*v) {
      if (**v < 0) {
        return c.error(t.get(key), 0,
                       where + "supervision." + std::string(key) + ": must not be negative");
      }
      apply(**v);
    }
    return ok();
  };
  Status s = int_field("max_restarts",
                       [&](std::int64_t v) { out.max_restarts = static_cast<std::uint32_t>(v); });
  if (s)
    s = int_field("window_ms", [&](std::int64_t v) { out.window = std::chrono::milliseconds(v); });
  if (s) {
    s = int_field("backoff_ms",
                  [&](std::int64_t v) { out.backoff.initial = std::chrono::milliseconds(v); });
  }
  if (s) {
    s = int_field("health_interval_ms",
                  [&](std::int64_t v) { out.health_interval = std::chrono::milliseconds(v); });
  }
  return s;
}

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

// activation = "on-demand" and what it excludes: its activations are neither counted, linked,
// subscribed nor supervised, and one host serves them (no failover yet).
Status check_on_demand(const Checker& c, const toml::table& t, const std::string& where,
                       ComponentEntry& e) {
  auto fields = parse_activation(t);
  if (fields.error) return c.error(fields.error->at, e.line, where + fields.error->text);
  e.on_demand = fields.on_demand;
  if (!e.on_demand) return ok();
  for (std::string_view key : {"instances", "links", "subscribe", "restart", "supervision"}) {
    if (const toml::node* n = t.get(key)) {
      return c.error(n, e.line,
                     where + std::string(key) +
                         ": not for activation = \"on-demand\" (names are activated by their "
                         "messages, unsupervised; see docs/components.md)");
    }
  }
  if (!e.failover.empty()) {
    return c.error(t.get("placement"), e.line,
                   where + "placement.failover: not for activation = \"on-demand\" yet");
  }
  return ok();
}

Result<ComponentEntry> parse_component(const Checker& c, const toml::table& t, std::size_t index,
                                       const Manifest& manifest) {
  ComponentEntry e;
  e.line = static_cast<int>(t.source().begin.line);
  std::string where = "component[" + std::to_string(index) + "] ";
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kComponentKeys) && !known(k.str(), kComponentTables) &&
        !known(k.str(), kActivationKeys)) {
      return c.error(&v, e.line,
                     where + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kComponentKeys) + ", " +
                         field_list(kActivationKeys) + ", " + field_list(kComponentTables) + ")");
    }
  }
  const toml::node* name = t.get("name");
  auto name_text = name != nullptr ? name->value<std::string>() : std::nullopt;
  if (!name_text) return c.error(name, e.line, where + "name: required, like \"shop/cart\"");
  auto id = ComponentId::parse(*name_text);
  if (!id || std::count(name_text->begin(), name_text->end(), '/') != 1) {
    return c.error(name, e.line,
                   where + "name: expected namespace/name, got \"" + *name_text + "\"");
  }
  e.ns = id->ns;
  e.name = id->name;
  where = "component '" + e.ns + "/" + e.name + "' ";

  const toml::node* path = t.get("path");
  auto path_text = path != nullptr ? path->value<std::string>() : std::nullopt;
  if (!path_text) return c.error(path, e.line, where + "path: required (the .wasm file)");
  std::filesystem::path p(*path_text);
  const auto base = manifest.file.parent_path();
  if (p.is_relative()) {
    const auto near = base / p;
    const auto in_dir = base / manifest.host.components_dir / p;
    p = std::filesystem::exists(near) || manifest.host.components_dir.empty() ? near : in_dir;
  }
  if (!std::filesystem::exists(p)) {
    return c.error(path, e.line, where + "path: no such file " + p.lexically_normal().string());
  }
  e.wasm = p.lexically_normal();

  auto instances = optional_value<std::int64_t>(c, t, "instances", where, "a positive integer");
  if (!instances) return std::move(instances).error();
  if (*instances) {
    if (**instances < 1 || **instances > 100000) {
      return c.error(t.get("instances"), e.line, where + "instances: must be between 1 and 100000");
    }
    e.instances = static_cast<std::uint32_t>(**instances);
  }
  if (const toml::node* r = t.get("restart")) {
    auto v = r->value<std::string>();
    if (v == "permanent") {
      e.restart = rt::RestartPolicy::kPermanent;
    } else if (v == "transient") {
      e.restart = rt::RestartPolicy::kTransient;
    } else if (v == "temporary") {
      e.restart = rt::RestartPolicy::kTemporary;
    } else {
      return c.error(r, e.line, where + "restart: expected permanent, transient or temporary");
    }
  }
  if (const toml::node* s = t.get("subscribe")) {
    const auto* arr = s->as_array();
    if (arr == nullptr)
      return c.error(s, e.line, where + "subscribe: expected a list of topic names");
    for (const auto& item : *arr) {
      auto topic = item.value<std::string>();
      if (!topic || topic->empty())
        return c.error(&item, e.line, where + "subscribe: topics are non-empty strings");
      e.subscribe.push_back(*topic);
    }
  }
  if (const toml::node* l = t.get("links")) {
    const auto* arr = l->as_array();
    if (arr == nullptr) return c.error(l, e.line, where + "links: expected a list of \"ns/name\"");
    for (const auto& item : *arr) {
      auto link = item.value<std::string>();
      if (!link || !ComponentId::parse(*link) || std::count(link->begin(), link->end(), '/') != 1) {
        return c.error(&item, e.line, where + "links: expected \"ns/name\" entries");
      }
      if (*link == e.ns + "/" + e.name) {
        return c.error(&item, e.line, where + "links: a component cannot link to itself");
      }
      e.links.push_back(*link);
    }
  }
  if (const toml::node* cfg = t.get("config")) {
    const auto* tbl = cfg->as_table();
    if (tbl == nullptr) return c.error(cfg, e.line, where + "config: expected a table of strings");
    for (const auto& [k, v] : *tbl) {
      std::string value;
      if (auto s = v.value<std::string>()) {
        value = *s;
      } else if (auto i = v.value<std::int64_t>()) {
        value = std::to_string(*i);
      } else if (auto b = v.value<bool>()) {
        value = *b ? "true" : "false";
      } else {
        return c.error(
            &v, e.line,
            where + "config." + std::string(k.str()) + ": expected a string, integer or boolean");
      }
      e.config.emplace_back(std::string(k.str()), std::move(value));
    }
  }
  if (const toml::node* caps = t.get("capabilities")) {
    const auto* tbl = caps->as_table();
    if (tbl == nullptr)
      return c.error(caps, e.line, where + "capabilities: expected a table of action = [targets]");
    auto declared = parse_capabilities(c, *tbl, where + "capabilities.", nullptr);
    if (!declared) return std::move(declared).error();
    e.permissions.declared = std::move(*declared);
  }
  struct Sub {
    std::string_view key;
    Status (*parse)(const Checker&, const toml::table&, const std::string&, ComponentEntry&);
  };
  static constexpr Sub kSubs[] = {
      {"limits", [](const Checker& ch, const toml::table& tb, const std::string& w,
                    ComponentEntry& en) { return parse_limits(ch, tb, w, en.limits); }},
      {"supervision",
       [](const Checker& ch, const toml::table& tb, const std::string& w, ComponentEntry& en) {
         return parse_supervision(ch, tb, w, en.supervision, en.escalation);
       }},
      {"mailbox", [](const Checker& ch, const toml::table& tb, const std::string& w,
                     ComponentEntry& en) { return parse_mailbox(ch, tb, w, en.mailbox); }},
      {"placement", &parse_placement},
  };
  e.own_supervision = t.contains("supervision");
  for (const auto& sub : kSubs) {
    if (const toml::node* n = t.get(sub.key)) {
      const auto* tbl = n->as_table();
      if (tbl == nullptr)
        return c.error(n, e.line, where + std::string(sub.key) + ": expected a table");
      if (Status s = sub.parse(c, *tbl, where, e); !s) return std::move(s).error();
    }
  }
  if (Status s = check_on_demand(c, t, where, e); !s) return std::move(s).error();
  return e;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > (1ULL << 50)) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string unit(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  if (unit.empty() || unit == "B") return n;
  if (unit == "KiB" || unit == "K") return n << 10;
  if (unit == "MiB" || unit == "M") return n << 20;
  if (unit == "GiB" || unit == "G") return n << 30;
  return std::nullopt;
}

namespace {

Result<GroupEntry> parse_group(const Checker& c, const toml::table& t, std::size_t index,
                               const Manifest& m) {
  GroupEntry g;
  g.line = static_cast<int>(t.source().begin.line);
  std::string where = "group[" + std::to_string(index) + "] ";
  static constexpr std::string_view kGroupFields[] = {"name", "members", "supervision"};
  for (const auto& [k, v] : t) {
    if (!known(k.str(), kGroupFields)) {
      return c.error(&v, g.line,
                     where + std::string(k.str()) +
                         ": unknown field (known: " + field_list(kGroupFields) + ")");
    }
  }
  const toml::node* name = t.get("name");
  auto name_text = name != nullptr ? name->value<std::string>() : std::nullopt;
  if (!name_text || !is_valid_id_segment(*name_text)) {
    return c.error(name, g.line, where + "name: required, [A-Za-z0-9._-]+ like \"payments\"");
  }
  g.name = *name_text;
  where = "group '" + g.name + "' ";
  for (const auto& other : m.groups) {
    if (other.name == g.name) {
      return c.error(
          &t, g.line,
          where + "is declared twice (first on line " + std::to_string(other.line) + ")");
    }
  }
  const toml::node* members = t.get("members");
  const auto* arr = members != nullptr ? members->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) {
    return c.error(members, g.line,
                   where + "members: required, a list of components like [\"bank/ledger\"]");
  }
  const ComponentEntry* first = nullptr;
  for (const auto& item : *arr) {
    auto member = item.value<std::string>();
    const auto it = std::find_if(m.components.begin(), m.components.end(), [&](const auto& e) {
      return member && e.ns + "/" + e.name == *member;
    });
    if (it == m.components.end()) {
      return c.error(&item, g.line,
                     where + "members: " + (member ? "\"" + *member + "\"" : "a non-string") +
                         " is not a [[component]] of this manifest");
    }
    if (std::find(g.members.begin(), g.members.end(), *member) != g.members.end()) {
      return c.error(&item, g.line, where + "members: \"" + *member + "\" is listed twice");
    }
    for (const auto& other : m.groups) {
      if (std::find(other.members.begin(), other.members.end(), *member) != other.members.end()) {
        return c.error(&item, g.line,
                       where + "members: \"" + *member + "\" is already in group '" + other.name +
                           "' (line " + std::to_string(other.line) + ")");
      }
    }
    if (it->on_demand) {
      return c.error(&item, g.line,
                     where + "members: \"" + *member +
                         "\" is on-demand; its activations are not supervised by a group");
    }
    if (it->own_supervision) {
      return c.error(&item, it->line,
                     "component '" + *member + "' supervision: it is supervised by group '" +
                         g.name + "' (line " + std::to_string(g.line) +
                         "); set [group.supervision] there instead");
    }
    // One supervisor lives on one host: every member must be placed alike and cannot move alone.
    if (!it->failover.empty()) {
      return c.error(&item, it->line,
                     "component '" + *member + "' placement.failover: members of group '" + g.name +
                         "' cannot fail over one by one");
    }
    if (first != nullptr && first->groups != it->groups) {
      return c.error(&item, it->line,
                     "component '" + *member + "' placement.groups: differs from '" + first->ns +
                         "/" + first->name + "' in the same group '" + g.name + "'");
    }
    if (first == nullptr) first = &*it;
    g.members.push_back(*member);
  }
  if (const toml::node* sup = t.get("supervision")) {
    const auto* tbl = sup->as_table();
    if (tbl == nullptr) return c.error(sup, g.line, where + "supervision: expected a table");
    if (Status s = parse_supervision(c, *tbl, where, g.supervision, g.escalation); !s) {
      return std::move(s).error();
    }
  }
  return g;
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view text, const std::filesystem::path& file,
                                const HostOverrides& overrides) {
  const Checker c(file);
  toml::parse_result parsed = toml::parse(text, file.string());
  if (!parsed) {
    const auto& err = parsed.error();
    return make_error(ErrorCode::kInvalidArgument, file.filename().string() + ":" +
                                                       std::to_string(err.source().begin.line) +
                                                       ": " + std::string(err.description()));
  }
  const toml::table& root = parsed.table();
  Manifest m;
  m.file = file;
  // As a manifest writes them (a table or [[an array of tables]]): the key is inside the brackets.
  static constexpr std::string_view kSections[] = {"[host]", "[[component]]", "[[group]]",
                                                   "[grants]", "[http]"};
  const auto is_section = [](std::string_view key) {
    return std::any_of(std::begin(kSections), std::end(kSections), [&](std::string_view shown) {
      const auto name = shown.find_first_not_of('[');
      return shown.substr(name, shown.find(']') - name) == key;
    });
  };
  for (const auto& [k, v] : root) {
    if (!is_section(k.str())) {
      return c.error(
          &v, 1, std::string(k.str()) + ": unknown section (known: " + field_list(kSections) + ")");
    }
  }
  // The default data dir is relative to the manifest too, not to the working directory (a [host]
  // table without data_dir once put the socket, state and audit log wherever `capsule run` ran).
  bool data_dir_given = false;
  if (const toml::node* h = root.get("host")) {
    const auto* t = h->as_table();
    if (t == nullptr) return c.error(h, 1, "host: expected a table");
    static constexpr std::string_view kHostFields[] = {
        "name",         "data_dir",        "components_dir", "admin",
        "upgrade_dirs", "storage",         "audit_log",      "cluster",
        "groups",       "storage_backend", "kv_bucket",      "confirm_remote_sends",
        "quotas"};
    for (const auto& [k, v] : *t) {
      if (!known(k.str(), kHostFields)) {
        return c.error(&v, 1,
                       "host." + std::string(k.str()) +
                           ": unknown field (known: " + field_list(kHostFields) + ")");
      }
      if (k == "groups") {
        auto groups = parse_groups(c, v, 1, "host.groups", false);
        if (!groups) return std::move(groups).error();
        m.host.groups = std::move(*groups);
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
          if (Status s = parse_quota(c, qk.str(), qv, "host.quotas.", m.host.quotas); !s) {
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
          m.host.upgrade_dirs.push_back(file.parent_path() / *dir);  // relative to the manifest
        }
        continue;
      }
      if (k == "confirm_remote_sends") {
        auto b = v.value<bool>();
        if (!b) return c.error(&v, 1, "host.confirm_remote_sends: expected true or false");
        m.host.confirm_remote_sends = *b;
        continue;
      }
      auto s = v.value<std::string>();
      if (!s) return c.error(&v, 1, "host." + std::string(k.str()) + ": expected a string");
      if (k == "name") {
        m.host.name = *s;
      } else if (k == "data_dir") {
        m.host.data_dir = file.parent_path() / *s;
        data_dir_given = true;
      } else if (k == "components_dir") {
        m.host.components_dir = *s;
      } else if (k == "admin") {
        m.host.admin = *s;
      } else if (k == "storage") {
        m.host.storage = *s;
      } else if (k == "audit_log") {
        m.host.audit_log = *s;
      } else if (k == "cluster") {
        if (!is_valid_id_segment(*s))
          return c.error(&v, 1, "host.cluster: cluster names are [A-Za-z0-9._-]+");
        m.host.cluster = *s;
      } else if (k == "storage_backend") {
        if (*s != "sqlite" && *s != "nats-kv")
          return c.error(&v, 1, "host.storage_backend: expected \"sqlite\" or \"nats-kv\"");
        m.host.storage_backend = *s;
      } else if (k == "kv_bucket") {
        m.host.kv_bucket = *s;
      }
    }
  }
  if (!data_dir_given) m.host.data_dir = file.parent_path() / m.host.data_dir;
  if (m.host.upgrade_dirs.empty()) {
    m.host.upgrade_dirs.emplace_back(file.has_parent_path() ? file.parent_path() : ".");
  }
  if (!overrides.name.empty()) m.host.name = overrides.name;
  if (overrides.groups) m.host.groups = *overrides.groups;
  if (!overrides.data_dir.empty()) m.host.data_dir = std::filesystem::absolute(overrides.data_dir);
  if (!overrides.cluster.empty()) m.host.cluster = overrides.cluster;
  if (!is_valid_id_segment(m.host.name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "host name '" + m.host.name + "' must be [A-Za-z0-9._-]+");
  }
  for (const auto& g : m.host.groups) {
    if (!is_valid_id_segment(g)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "host group '" + g + "' must be [A-Za-z0-9._-]+");
    }
  }
  if (!is_valid_id_segment(m.host.cluster)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster name '" + m.host.cluster + "' must be [A-Za-z0-9._-]+");
  }
  const toml::node* comps = root.get("component");
  const auto* arr = comps != nullptr ? comps->as_array() : nullptr;
  if (arr == nullptr || arr->empty()) {
    return c.error(comps, 1, "no [[component]] tables: a manifest declares at least one component");
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto* t = (*arr)[i].as_table();
    if (t == nullptr)
      return c.error(&(*arr)[i], 1, "component[" + std::to_string(i) + "]: expected a table");
    auto e = parse_component(c, *t, i, m);
    if (!e) return std::move(e).error();
    for (const auto& prev : m.components) {
      if (prev.ns == e->ns && prev.name == e->name) {
        return c.error(t, e->line,
                       "component '" + e->ns + "/" + e->name +
                           "' is declared twice (first on line " + std::to_string(prev.line) + ")");
      }
    }
    m.components.push_back(std::move(*e));
  }
  for (const auto& e : m.components) {
    for (const auto& link : e.links) {
      const bool known_target =
          std::any_of(m.components.begin(), m.components.end(),
                      [&](const ComponentEntry& o) { return o.ns + "/" + o.name == link; });
      if (!known_target) {
        return c.error(nullptr, e.line,
                       "component '" + e.ns + "/" + e.name + "' links: \"" + link +
                           "\" is not a [[component]] of this manifest");
      }
    }
  }
  const auto resolve = [&](std::filesystem::path& p, const char* fallback) {
    if (p.empty()) p = fallback;
    if (p.is_relative()) p = m.host.data_dir / p;
  };
  resolve(m.host.storage, "state.db");
  resolve(m.host.audit_log, "audit.jsonl");
  if (const toml::node* g = root.get("grants")) {
    const auto* grants = g->as_table();
    if (grants == nullptr) return c.error(g, 1, "grants: expected [grants.\"ns/name\"] tables");
    for (const auto& [name, v] : *grants) {
      const auto* tbl = v.as_table();
      auto it = std::find_if(
          m.components.begin(), m.components.end(),
          [&](const ComponentEntry& ce) { return ce.ns + "/" + ce.name == name.str(); });
      if (tbl == nullptr || it == m.components.end()) {
        return c.error(
            &v, 1,
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
  }
  if (const toml::node* g = root.get("group")) {
    const auto* groups = g->as_array();
    if (groups == nullptr) return c.error(g, 1, "group: expected [[group]] tables");
    for (std::size_t i = 0; i < groups->size(); ++i) {
      const auto* t = (*groups)[i].as_table();
      if (t == nullptr) {
        return c.error(&(*groups)[i], 1, "group[" + std::to_string(i) + "]: expected a table");
      }
      auto group = parse_group(c, *t, i, m);
      if (!group) return std::move(group).error();
      m.groups.push_back(std::move(*group));
    }
  }
  if (const toml::node* h = root.get("http")) {
    const auto* t = h->as_table();
    if (t == nullptr) return c.error(h, 1, "http: expected a table ([http])");
    std::vector<std::string> names;
    std::vector<std::string> on_demand;
    for (const auto& e : m.components) {
      names.push_back(e.ns + "/" + e.name);
      if (e.on_demand) on_demand.push_back(names.back());
    }
    auto http = parse_http_section(*t, file, names, on_demand);
    if (!http) return std::move(http).error();
    m.http = std::move(*http);
  }
  return m;
}

const GroupEntry* Manifest::group_of(const ComponentEntry& entry) const {
  const std::string key = entry.ns + "/" + entry.name;
  for (const auto& g : groups) {
    if (std::find(g.members.begin(), g.members.end(), key) != g.members.end()) return &g;
  }
  return nullptr;
}

Result<Manifest> load_manifest(const std::filesystem::path& file, const HostOverrides& overrides) {
  std::ifstream in(file);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read manifest " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_manifest(text.str(), std::filesystem::absolute(file), overrides);
}

component::ComponentSpec to_spec(const ComponentEntry& e,
                                 std::shared_ptr<const wasm::CompiledComponent> c) {
  component::ComponentSpec s;
  s.ns = e.ns;
  s.name = e.name;
  s.component = std::move(c);
  s.instances = e.instances;
  s.config = e.config;
  s.limits = e.limits;
  s.mailbox = e.mailbox;
  s.restart = e.restart;
  s.supervision = e.supervision;
  s.escalation = e.escalation;
  s.permissions = e.permissions;
  s.links = e.links;
  s.on_demand = e.on_demand;
  return s;
}

}  // namespace capsule::cli

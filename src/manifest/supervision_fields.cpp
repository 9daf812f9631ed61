// [component.supervision] and [group.supervision]: the supervisor's strategy and restart limits,
// and what the runtime does when it gives up (escalation).
#include <limits>

#include "field_names.hpp"
#include "table_parsers.hpp"

namespace capsule::manifest {

namespace {

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

}  // namespace

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
  if (auto v = t.get("max_restarts") != nullptr ? t.get("max_restarts")->value<std::int64_t>()
                                                : std::nullopt;
      v && *v > std::int64_t{std::numeric_limits<std::uint32_t>::max()}) {
    // The supervisor counts in 32 bits: more would wrap to a small limit.
    return c.error(t.get("max_restarts"), 0,
                   where + "supervision.max_restarts: " + std::to_string(*v) + " is more than " +
                       std::to_string(std::numeric_limits<std::uint32_t>::max()));
  }
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

}  // namespace capsule::manifest

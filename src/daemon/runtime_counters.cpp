#include "runtime_counters.hpp"

#include <capsule/core/component_id.hpp>

namespace capsule::daemon {

namespace {

// "demo/transform/0" (the child whose failure was one too many) -> "demo/transform".
std::string component_of(const std::string& child) {
  auto id = ComponentId::parse(child);
  return id ? id->ns + "/" + id->name : child;
}

// Which actor failed, for the dashboard: component instances are unnamed actors, but their
// errors start with "component ns/name/instance "; otherwise the actor's name or number.
std::string failed_actor(const rt::MonitoringEvent& e) {
  if (!e.name.empty()) return e.name;
  static constexpr std::string_view kPrefix = "component ";
  if (e.error && e.error->message.rfind(kPrefix, 0) == 0) {
    const std::string rest = e.error->message.substr(kPrefix.size());
    if (auto id = ComponentId::parse(rest.substr(0, rest.find(' ')))) return id->to_string();
  }
  return "actor " + std::to_string(e.actor);
}

}  // namespace

void RuntimeCounters::on_event(const rt::MonitoringEvent& e) {
  switch (e.kind) {
    case rt::EventKind::kActorFailed:
      failures.fetch_add(1, std::memory_order_relaxed);
      if (feed_) {
        feed_->failures.push({{"kind", "failed"},
                              {"instance", failed_actor(e)},
                              {"reason", e.error ? e.error->message : e.detail}});
      }
      return;
    case rt::EventKind::kHealthCheckFailed:
      health_check_failures.fetch_add(1, std::memory_order_relaxed);
      return;
    case rt::EventKind::kMailboxBackpressure:
      backpressure.fetch_add(1, std::memory_order_relaxed);
      return;
    case rt::EventKind::kRestartLimitExceeded:
      break;
    default:
      return;
  }
  gave_up.fetch_add(1, std::memory_order_relaxed);
  const std::string why = e.error ? e.error->message : "restart intensity exceeded";
  if (feed_) {
    feed_->failures.push({{"kind", "gave up"}, {"instance", e.child}, {"reason", why}});
  }
  reporter_.error("supervisor gave up: " + component_of(e.child) +
                      " is down until restarted (capsule restart <ns/name>)",
                  {{"reason", why}, {"intensity", e.detail}});
}

void RuntimeCounters::on_dead_letter(const rt::DeadLetter& letter) noexcept {
  const auto reason = static_cast<std::size_t>(letter.reason);
  if (reason < dead_letters.size()) dead_letters[reason].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace capsule::daemon

#include <algorithm>
#include <utility>

#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/monitoring.hpp>
#include <capsule/rt/signal.hpp>

namespace capsule::rt {

std::string_view to_string(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::kActorStarted:
      return "actor-started";
    case EventKind::kActorStopped:
      return "actor-stopped";
    case EventKind::kActorFailed:
      return "actor-failed";
    case EventKind::kChildRestarted:
      return "child-restarted";
    case EventKind::kRestartLimitExceeded:
      return "restart-limit-exceeded";
    case EventKind::kHealthCheckFailed:
      return "health-check-failed";
    case EventKind::kMailboxBackpressure:
      return "mailbox-backpressure";
    case EventKind::kMessageDropped:
      return "message-dropped";
    case EventKind::kDeadLetter:
      return "dead-letter";
  }
  return "unknown";
}

std::string_view to_string(BackpressurePolicy policy) noexcept {
  switch (policy) {
    case BackpressurePolicy::kBlock:
      return "block";
    case BackpressurePolicy::kDropNewest:
      return "drop-newest";
    case BackpressurePolicy::kDropOldest:
      return "drop-oldest";
    case BackpressurePolicy::kError:
      return "error";
  }
  return "unknown";
}

std::string_view to_string(DeadLetterReason reason) noexcept {
  switch (reason) {
    case DeadLetterReason::kActorTerminated:
      return "actor-terminated";
    case DeadLetterReason::kActorStopping:
      return "actor-stopping";
    case DeadLetterReason::kMailboxFull:
      return "mailbox-full";
    case DeadLetterReason::kNoSubscribers:
      return "no-subscribers";
    case DeadLetterReason::kNoSuchName:
      return "no-such-name";
  }
  return "unknown";
}

std::string_view to_string(ExitReason reason) noexcept {
  switch (reason) {
    case ExitReason::kNormal:
      return "normal";
    case ExitReason::kFailed:
      return "failed";
    case ExitReason::kShutdown:
      return "shutdown";
    case ExitReason::kKilled:
      return "killed";
    case ExitReason::kNoProc:
      return "noproc";
  }
  return "unknown";
}

std::string_view to_string(ErrorAction action) noexcept {
  switch (action) {
    case ErrorAction::kResume:
      return "resume";
    case ErrorAction::kStop:
      return "stop";
    case ErrorAction::kRestart:
      return "restart";
    case ErrorAction::kEscalate:
      return "escalate";
  }
  return "unknown";
}

ActorId ActorAddress::id() const noexcept {
  return cell_ ? cell_->id() : 0;
}

const std::string& ActorAddress::name() const noexcept {
  static const std::string kEmpty;
  return cell_ ? cell_->name() : kEmpty;
}

bool ActorAddress::alive() const noexcept {
  return cell_ && !cell_->terminated();
}

const ActorAddress& ActorAddress::parent() const noexcept {
  static const ActorAddress kNone;
  return cell_ ? cell_->parent() : kNone;
}

void InMemoryRecorder::on_event(const MonitoringEvent& event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  changed_.notify_all();
}

std::vector<MonitoringEvent> InMemoryRecorder::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::size_t InMemoryRecorder::count(EventKind kind) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(),
                                                [kind](const auto& e) { return e.kind == kind; }));
}

std::size_t InMemoryRecorder::count(EventKind kind, ActorId actor) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(),
                    [kind, actor](const auto& e) { return e.kind == kind && e.actor == actor; }));
}

bool InMemoryRecorder::wait_for(
    const std::function<bool(const std::vector<MonitoringEvent>&)>& pred,
    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return pred(events_); });
}

bool InMemoryRecorder::wait_for_count(EventKind kind, std::size_t n,
                                      std::chrono::milliseconds timeout) const {
  return wait_for(
      [kind, n](const std::vector<MonitoringEvent>& events) {
        return static_cast<std::size_t>(
                   std::count_if(events.begin(), events.end(),
                                 [kind](const auto& e) { return e.kind == kind; })) >= n;
      },
      timeout);
}

void InMemoryRecorder::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
}

namespace detail {

void Telemetry::dead_letter(const DeadLetter& letter) {
  dead_letters_.fetch_add(1, std::memory_order_relaxed);
  if (observer_) {
    observer_->on_event(
        MonitoringEvent{EventKind::kDeadLetter, letter.target, letter.target_name, 0, std::nullopt,
                        std::string(to_string(letter.reason)) + " " + letter.message_type});
  }
  if (has_sinks_.load(std::memory_order_acquire)) {
    // Called outside the lock: a sink may itself send (and so produce another dead letter).
    std::vector<std::function<void(const DeadLetter&)>> sinks;
    {
      std::lock_guard lock(sinks_mutex_);
      sinks = sinks_;
    }
    for (const auto& sink : sinks) sink(letter);
  }
}

void Telemetry::subscribe_dead_letters(std::function<void(const DeadLetter&)> sink) {
  std::lock_guard lock(sinks_mutex_);
  sinks_.push_back(std::move(sink));
  has_sinks_.store(true, std::memory_order_release);
}

}  // namespace detail
}  // namespace capsule::rt

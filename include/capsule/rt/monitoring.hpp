#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/error.hpp>
#include <capsule/rt/fwd.hpp>

namespace capsule::rt {

enum class EventKind : std::uint8_t {
  kActorStarted,
  kActorStopped,
  kActorFailed,
  kChildRestarted,
  kRestartLimitExceeded,
  kHealthCheckFailed,
  kMailboxBackpressure,  // a bounded mailbox refused or delayed a message
  kMessageDropped,       // a bounded mailbox dropped a message (DropNewest/DropOldest)
  kDeadLetter,
};

[[nodiscard]] std::string_view to_string(EventKind kind) noexcept;

// One monitoring event. `actor` is the subject (the child for supervisor events); `detail` is a
// short human-readable note (policy, reason, message type).
struct MonitoringEvent {
  EventKind kind = EventKind::kActorStarted;
  ActorId actor = 0;
  std::string name;
  ActorId supervisor = 0;
  std::optional<Error> error;
  std::string detail;
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
  // Supervisor events: the child's ChildSpec id (its actor may have no name).
  std::string child{};
};

// The single sink for runtime events. Called on whatever thread the event happens (scheduler
// workers, timer thread, senders): implementations must be thread-safe and quick.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_event(const MonitoringEvent& event) = 0;
};

// Keeps every event in memory; made for tests and debugging.
class InMemoryRecorder final : public Observer {
 public:
  void on_event(const MonitoringEvent& event) override;

  [[nodiscard]] std::vector<MonitoringEvent> events() const;
  [[nodiscard]] std::size_t count(EventKind kind) const;
  [[nodiscard]] std::size_t count(EventKind kind, ActorId actor) const;
  // Waits until `pred` holds for the recorded events or the timeout passes; returns pred's value.
  bool wait_for(const std::function<bool(const std::vector<MonitoringEvent>&)>& pred,
                std::chrono::milliseconds timeout) const;
  // Waits until at least `n` events of `kind` were recorded.
  bool wait_for_count(EventKind kind, std::size_t n, std::chrono::milliseconds timeout) const;
  void clear();

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<MonitoringEvent> events_;
};

}  // namespace capsule::rt

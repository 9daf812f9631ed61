#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/monitoring.hpp>

#include "recent_events.hpp"
#include "reporter.hpp"

namespace capsule::daemon {

// Counts what the actor runtime reports only as events (its one observer interface) for
// /metrics, and says once, at error level, when a supervisor gives up: the component then stays
// down until an operator restarts it, and every later message to it fails (a user once found out
// only from 177k warnings).
class RuntimeCounters final : public rt::Observer {
 public:
  // Dead letters by DeadLetterReason (its values are 0..kNoSuchName).
  static constexpr std::size_t kDeadLetterReasons =
      static_cast<std::size_t>(rt::DeadLetterReason::kNoSuchName) + 1;

  // `feed` (may be null): where the dashboard finds the recent failures and give-ups.
  explicit RuntimeCounters(Reporter& reporter, std::shared_ptr<DashboardFeed> feed = nullptr)
      : reporter_(reporter), feed_(std::move(feed)) {}
  void on_event(const rt::MonitoringEvent& e) override;
  // The dead-letter sink (ActorSystem::subscribe_dead_letters): the event alone carries the
  // reason only as text.
  void on_dead_letter(const rt::DeadLetter& letter) noexcept;

  std::atomic<std::uint64_t> failures{0};               // kActorFailed
  std::atomic<std::uint64_t> gave_up{0};                // kRestartLimitExceeded
  std::atomic<std::uint64_t> health_check_failures{0};  // kHealthCheckFailed
  std::atomic<std::uint64_t> backpressure{0};           // kMailboxBackpressure
  std::array<std::atomic<std::uint64_t>, kDeadLetterReasons> dead_letters{};

 private:
  Reporter& reporter_;
  std::shared_ptr<DashboardFeed> feed_;
};

}  // namespace capsule::daemon

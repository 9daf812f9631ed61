#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/rt/fwd.hpp>
#include <capsule/rt/monitoring.hpp>

namespace capsule::rt {

enum class DeadLetterReason : std::uint8_t {
  kActorTerminated,  // sent to (or left in the mailbox of) an actor that is gone
  kActorStopping,    // arrived during a graceful stop
  kMailboxFull,      // refused or dropped by a bounded mailbox
  kNoSubscribers,    // published to a topic nobody listens to
  kNoSuchName,       // sent to a registry name that is not bound
};

[[nodiscard]] std::string_view to_string(DeadLetterReason reason) noexcept;

struct DeadLetter {
  ActorId target = 0;  // 0 when there was no target (e.g. a topic)
  std::string target_name;
  std::string message_type;
  DeadLetterReason reason = DeadLetterReason::kActorTerminated;
};

namespace detail {

// Shared by the system and every actor cell, so that a message sent to an actor that outlived
// its system still ends up counted and reported instead of vanishing.
class Telemetry {
 public:
  explicit Telemetry(std::shared_ptr<Observer> observer) : observer_(std::move(observer)) {}

  [[nodiscard]] bool observed() const noexcept { return observer_ != nullptr; }
  void emit(const MonitoringEvent& event) const {
    if (observer_) observer_->on_event(event);
  }
  void dead_letter(const DeadLetter& letter);
  [[nodiscard]] std::uint64_t dead_letter_count() const noexcept {
    return dead_letters_.load(std::memory_order_relaxed);
  }
  // Link set entries held by live actors (a link between two actors is two entries).
  void links_changed(std::int64_t delta) noexcept {
    link_entries_.fetch_add(delta, std::memory_order_relaxed);
  }
  [[nodiscard]] std::int64_t link_entries() const noexcept {
    return link_entries_.load(std::memory_order_relaxed);
  }
  // Subscribers see every dead letter on the thread that produced it.
  void subscribe_dead_letters(std::function<void(const DeadLetter&)> sink);

 private:
  std::shared_ptr<Observer> observer_;
  std::atomic<std::uint64_t> dead_letters_{0};
  std::atomic<std::int64_t> link_entries_{0};
  std::atomic<bool> has_sinks_{false};
  std::mutex sinks_mutex_;
  std::vector<std::function<void(const DeadLetter&)>> sinks_;
};

}  // namespace detail
}  // namespace capsule::rt

#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace capsule {

// Until when this host may serve a component that only one host may serve at a time (a
// failover unit, whose ownership is a lease; see docs/cluster.md). The lease keeper moves the
// end forward after each renewal it knows reached the lease store, and closes it when the lease is
// lost; the runtime reads it before it hands a message to the guest and before a storage write.
// A host that was paused (SIGSTOP, a long GC-like stall, a VM freeze) wakes up past the end and
// serves nothing until it has renewed, whatever its threads were doing when it stopped.
class ServingWindow {
 public:
  using Clock = std::chrono::steady_clock;

  // The lease's fencing token: the revision at which this host acquired it (0: none yet).
  void open_until(Clock::time_point end, std::uint64_t token) noexcept {
    token_.store(token, std::memory_order_relaxed);
    end_ns_.store(end.time_since_epoch().count(), std::memory_order_release);
  }
  void close() noexcept { end_ns_.store(0, std::memory_order_release); }
  [[nodiscard]] bool is_open(Clock::time_point now = Clock::now()) const noexcept {
    return now.time_since_epoch().count() < end_ns_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t token() const noexcept {
    return token_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<Clock::rep> end_ns_{0};
  std::atomic<std::uint64_t> token_{0};
};

}  // namespace capsule

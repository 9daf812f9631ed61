#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

namespace capsule::rt {

namespace detail {
struct TimerState {
  explicit TimerState(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::atomic<bool> cancelled{false};
};
}  // namespace detail

// Cancels a pending send_after / periodic tick. Cheap to copy; cancelling twice, or after the
// timer fired, does nothing. Must not race with the destruction of the owning ActorSystem.
class TimerHandle {
 public:
  TimerHandle() = default;
  explicit TimerHandle(const std::shared_ptr<detail::TimerState>& state) : state_(state) {}

  void cancel() const {
    if (auto state = state_.lock()) {
      state->cancelled.store(true, std::memory_order_release);
      // The timer object belongs to the Asio thread: cancel it there.
      asio::post(state->timer.get_executor(), [state] { state->timer.cancel(); });
    }
  }
  [[nodiscard]] bool pending() const {
    auto state = state_.lock();
    return state && !state->cancelled.load(std::memory_order_acquire);
  }

 private:
  std::weak_ptr<detail::TimerState> state_;
};

}  // namespace capsule::rt

#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include <capsule/core/message.hpp>

namespace capsule::component {

// Request deadlines on one Asio timer. Deadlines go into a min-heap; the timer is armed for the
// earliest one and fires `on_expired` for each id whose deadline passed. Replies do not remove
// their entry (the tracker ignores an expiry for an ended request); the heap is compacted when it
// grows well past the number of live requests, so memory stays proportional to what is pending.
class TimeoutHandler {
 public:
  using Clock = std::chrono::steady_clock;
  TimeoutHandler(asio::io_context& io, std::function<void(CorrelationId)> on_expired,
                 std::function<bool(CorrelationId)> still_pending);
  ~TimeoutHandler();
  TimeoutHandler(const TimeoutHandler&) = delete;
  TimeoutHandler& operator=(const TimeoutHandler&) = delete;

  void schedule(CorrelationId id, Clock::time_point deadline);
  [[nodiscard]] std::size_t queued() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace capsule::component

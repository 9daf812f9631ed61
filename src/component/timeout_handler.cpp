#include <mutex>
#include <queue>
#include <utility>
#include <vector>

#include <capsule/component/timeout_handler.hpp>

namespace capsule::component {

struct TimeoutHandler::State : std::enable_shared_from_this<State> {
  struct Entry {
    Clock::time_point deadline;
    CorrelationId id;
    bool operator>(const Entry& o) const { return deadline > o.deadline; }
  };
  using Heap = std::priority_queue<Entry, std::vector<Entry>, std::greater<>>;

  State(asio::io_context& io, std::function<void(CorrelationId)> expired,
        std::function<bool(CorrelationId)> pending)
      : io_context(io),
        timer(io),
        on_expired(std::move(expired)),
        still_pending(std::move(pending)) {}

  asio::io_context& io_context;
  asio::steady_timer timer;  // touched only on the io thread
  std::function<void(CorrelationId)> on_expired;
  std::function<bool(CorrelationId)> still_pending;
  std::mutex firing;  // taken before `mutex`, never the other way round
  mutable std::mutex mutex;
  Heap heap;
  Clock::time_point armed_for = Clock::time_point::max();
  std::size_t live_after_compaction = 0;
  bool stopped = false;

  // Drops entries of requests that already ended once they dominate the heap.
  void compact_locked() {
    std::vector<Entry> live;
    live.reserve(heap.size() / 2);
    while (!heap.empty()) {
      if (still_pending(heap.top().id)) live.push_back(heap.top());
      heap.pop();
    }
    live_after_compaction = live.size();
    heap = Heap(std::greater<>{}, std::move(live));
  }

  void rearm() {  // io thread
    std::lock_guard lock(mutex);
    if (stopped || heap.empty()) {
      armed_for = Clock::time_point::max();
      return;
    }
    armed_for = heap.top().deadline;
    timer.expires_at(armed_for);
    timer.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;  // re-armed earlier, or stopping
      if (auto self = weak.lock()) self->fire();
    });
  }

  void fire() {  // io thread
    // Held while expiring: the handler's destructor waits for it, so no expiry runs into a
    // runtime that is being destroyed, and none starts after it stopped.
    std::lock_guard firing_lock(firing);
    std::vector<CorrelationId> due;
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      const auto now = Clock::now();
      while (!heap.empty() && heap.top().deadline <= now) {
        due.push_back(heap.top().id);
        heap.pop();
      }
    }
    for (CorrelationId id : due) on_expired(id);
    rearm();
  }
};

TimeoutHandler::TimeoutHandler(asio::io_context& io, std::function<void(CorrelationId)> on_expired,
                               std::function<bool(CorrelationId)> still_pending)
    : state_(std::make_shared<State>(io, std::move(on_expired), std::move(still_pending))) {}

TimeoutHandler::~TimeoutHandler() {
  {
    std::lock_guard firing_lock(state_->firing);  // an expiry in progress ends first
    std::lock_guard lock(state_->mutex);
    state_->stopped = true;
  }
  // The timer belongs to the io thread; cancel it there. The pending handler holds only a weak
  // reference, so it does nothing once this handler's state is gone.
  asio::post(state_->io_context, [state = state_] { state->timer.cancel(); });
}

void TimeoutHandler::schedule(CorrelationId id, Clock::time_point deadline) {
  bool earlier = false;
  {
    std::lock_guard lock(state_->mutex);
    // Amortised O(1): a compaction happens only after the heap doubled past its live size.
    if (state_->heap.size() > 2 * state_->live_after_compaction + 4096) state_->compact_locked();
    state_->heap.push({deadline, id});
    if (deadline < state_->armed_for) {
      state_->armed_for = deadline;  // claims the re-arm, so concurrent schedules post once
      earlier = true;
    }
  }
  if (earlier) asio::post(state_->io_context, [state = state_] { state->rearm(); });
}

std::size_t TimeoutHandler::queued() const {
  std::lock_guard lock(state_->mutex);
  return state_->heap.size();
}

}  // namespace capsule::component

#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/timer.hpp>

namespace capsule::rt {

namespace detail {
template <typename Resp>
struct ReplyState {
  std::atomic<bool> done{false};
  std::function<void(Result<Resp>)> on_reply;
  std::mutex timer_mutex;
  TimerHandle timer;

  bool complete(Result<Resp> outcome) {
    if (done.exchange(true, std::memory_order_acq_rel)) return false;
    {
      std::lock_guard lock(timer_mutex);
      timer.cancel();
    }
    on_reply(std::move(outcome));
    on_reply = nullptr;  // release what the callback captured as early as possible
    return true;
  }
};
}  // namespace detail

// The answering half of a request: put it in the request message, call reply() once. Whatever
// comes first, the reply or the timeout, completes the request; the other is ignored.
template <typename Resp>
class Replier {
 public:
  Replier() = default;
  explicit Replier(std::shared_ptr<detail::ReplyState<Resp>> state) : state_(std::move(state)) {}

  bool reply(Resp response) const { return state_ && state_->complete(std::move(response)); }
  bool fail(Error error) const { return state_ && state_->complete(std::move(error)); }
  [[nodiscard]] bool pending() const noexcept {
    return state_ && !state_->done.load(std::memory_order_acquire);
  }

 private:
  std::shared_ptr<detail::ReplyState<Resp>> state_;
};

// Request/reply: builds the request with `make(replier)`, sends it to `target` and calls
// `on_reply` exactly once, with the response (on the responder's thread) or a kTimeout error
// (on the timer thread) or the send error (on this thread).
template <typename Resp, typename Msg, typename Make>
void ask(ActorSystem& system, const ActorRef<Msg>& target, Make&& make,
         std::chrono::steady_clock::duration timeout, std::function<void(Result<Resp>)> on_reply) {
  auto state = std::make_shared<detail::ReplyState<Resp>>();
  state->on_reply = std::move(on_reply);
  {
    std::lock_guard lock(state->timer_mutex);
    state->timer = system.run_after(timeout, [state] {
      state->complete(make_error(ErrorCode::kTimeout, "request timed out"));
    });
  }
  if (auto sent = target.send(make(Replier<Resp>(state))); !sent) {
    state->complete(std::move(sent).error());
  }
}

}  // namespace capsule::rt

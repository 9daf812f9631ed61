#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <capsule/core/component_id.hpp>
#include <capsule/core/health.hpp>
#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>

namespace capsule::wasm {

namespace detail {
struct GuestCallImpl;
}

// Told when a suspended guest call can make progress: a WASI timer fired, or the guest yielded at
// an epoch tick (then from inside poll() itself). Called from any thread; must not block.
class CallWaker {
 public:
  virtual ~CallWaker() = default;
  virtual void wake() noexcept = 0;
};

// One call into a guest export that may suspend. Whoever owns it drives it: poll() runs the guest
// until it finishes or waits (a WASI sleep, a poll on a clock, an epoch yield), and returns
// kPending with `waker` registered; poll again after the wake. No thread ever blocks on a guest.
//
// The wall-time limit covers the whole call, waits included: once deadline() has passed the
// owner calls expire(), which drops the guest's suspended stack and fails the instance with
// kInterrupted. Destroying a pending call cancels it the same way. A call borrows the inputs it
// was started with and its instance: both must outlive it. While it is alive the instance takes
// no other call.
class GuestCall {
 public:
  enum class State : std::uint8_t { kPending, kReady };

  explicit GuestCall(std::unique_ptr<detail::GuestCallImpl> impl);
  ~GuestCall();
  GuestCall(GuestCall&&) noexcept;
  GuestCall& operator=(GuestCall&&) noexcept;
  GuestCall(const GuestCall&) = delete;
  GuestCall& operator=(const GuestCall&) = delete;

  [[nodiscard]] State poll(const std::shared_ptr<CallWaker>& waker);
  [[nodiscard]] bool ready() const noexcept;
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const noexcept;
  // Fails a pending call for exceeding the wall-time limit. Does nothing once ready.
  void expire();

  // The outcome, once ready. A guest's own `err(...)` keeps its WIT code and leaves the instance
  // usable; a trap, a limit or expiry is a failure of the instance (ComponentInstance::failed()).
  [[nodiscard]] Result<std::optional<Payload>> reply() const;  // handle-message
  [[nodiscard]] Status status() const;                         // init, handle-callback, shutdown
  [[nodiscard]] Result<HealthStatus> health() const;
  [[nodiscard]] Result<ComponentMetadata> metadata() const;

  [[nodiscard]] detail::GuestCallImpl& impl() { return *impl_; }

 private:
  std::unique_ptr<detail::GuestCallImpl> impl_;
};

// Drives `call` to completion on this thread, sleeping between wakes, bounded by its deadline.
// For callers with nothing else to do (start-up, shutdown, tools, tests): an actor polls instead.
void run_to_completion(GuestCall& call);

}  // namespace capsule::wasm

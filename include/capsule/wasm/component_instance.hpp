#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
#include <capsule/wasm/guest_call.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::wasm {

namespace detail {
struct ComponentInstanceImpl;
}

struct CallStats {
  std::uint64_t calls = 0;
  std::uint64_t fuel_consumed_total = 0;
  std::uint64_t fuel_consumed_last = 0;
};

// One live instance of a component: its own Store (memory limit, fuel, epoch deadline) and host
// bindings. Not thread-safe by design: exactly one caller (its actor) drives it at a time; many
// instances run in parallel on different threads without any shared lock.
//
// Every lifecycle call runs under a fresh fuel budget and wall-time deadline; the deadline covers
// the whole call, time the guest spends waiting in WASI included. A trap, fuel or time exhaustion
// fails the call with an error naming the component and the cause, and leaves the instance
// `failed()`: Wasmtime forbids re-entering a trapped instance, so its owner restarts it.
//
// Two ways to call: `start_*` returns a GuestCall that the owner polls (an actor does this, so a
// waiting guest never holds a thread), and the blocking forms below drive that call to
// completion on the calling thread.
class ComponentInstance {
 public:
  explicit ComponentInstance(std::unique_ptr<detail::ComponentInstanceImpl> impl);
  ~ComponentInstance();
  ComponentInstance(const ComponentInstance&) = delete;
  ComponentInstance& operator=(const ComponentInstance&) = delete;
  ComponentInstance(ComponentInstance&&) noexcept;
  ComponentInstance& operator=(ComponentInstance&&) noexcept;

  // Resumable calls; the inputs must outlive the returned call, and so must this instance.
  [[nodiscard]] GuestCall start_init(const KeyValues& config);
  [[nodiscard]] GuestCall start_handle_message(const ComponentMessage& message);
  [[nodiscard]] GuestCall start_handle_callback(const CallbackResponse& response);
  [[nodiscard]] GuestCall start_health();
  [[nodiscard]] GuestCall start_shutdown();
  [[nodiscard]] GuestCall start_metadata();

  [[nodiscard]] Status init(const KeyValues& config);
  [[nodiscard]] Result<std::optional<Payload>> handle_message(const ComponentMessage& message);
  [[nodiscard]] Status handle_callback(const CallbackResponse& response);
  [[nodiscard]] Result<HealthStatus> health();
  [[nodiscard]] Status shutdown();
  [[nodiscard]] Result<ComponentMetadata> metadata();

  [[nodiscard]] const ComponentId& id() const;
  [[nodiscard]] const ResourceLimits& limits() const;
  [[nodiscard]] bool failed() const;
  // A call is in flight: the instance takes no other until it is ready.
  [[nodiscard]] bool busy() const;
  [[nodiscard]] CallStats stats() const;

  // Hands the pages of the fiber stack the instance keeps between calls back to the kernel
  // (nothing lives on it between calls; the next call maps fresh zero pages). An idle instance
  // then holds no stack memory. False: a call is in flight, or the engine does not pool stacks,
  // or no call has run guest code yet (nothing to release).
  bool release_idle_stack();
  // Resident pages of that stack (-1: not known, as for release_idle_stack); for tests.
  [[nodiscard]] std::int64_t stack_resident_pages() const;

 private:
  std::unique_ptr<detail::ComponentInstanceImpl> impl_;
};

}  // namespace capsule::wasm

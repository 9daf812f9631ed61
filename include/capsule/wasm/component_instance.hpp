#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
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
// Every lifecycle call runs under a fresh fuel budget and wall-time deadline. A trap, fuel or time
// exhaustion fails the call with an error naming the component and the cause, and leaves the
// instance `failed()`: Wasmtime forbids re-entering a trapped instance, so its owner restarts it.
class ComponentInstance {
 public:
  explicit ComponentInstance(std::unique_ptr<detail::ComponentInstanceImpl> impl);
  ~ComponentInstance();
  ComponentInstance(const ComponentInstance&) = delete;
  ComponentInstance& operator=(const ComponentInstance&) = delete;
  ComponentInstance(ComponentInstance&&) noexcept;
  ComponentInstance& operator=(ComponentInstance&&) noexcept;

  [[nodiscard]] Status init(const KeyValues& config);
  [[nodiscard]] Result<std::optional<Payload>> handle_message(const ComponentMessage& message);
  [[nodiscard]] Status handle_callback(const CallbackResponse& response);
  [[nodiscard]] Result<HealthStatus> health();
  [[nodiscard]] Status shutdown();
  [[nodiscard]] Result<ComponentMetadata> metadata();

  [[nodiscard]] const ComponentId& id() const;
  [[nodiscard]] const ResourceLimits& limits() const;
  [[nodiscard]] bool failed() const;
  [[nodiscard]] CallStats stats() const;

 private:
  std::unique_ptr<detail::ComponentInstanceImpl> impl_;
};

}  // namespace capsule::wasm

#pragma once

// The implementation structs behind the pimpl'd public wasm types. Only src/wasm sees these.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/wasm/compiled_component.hpp>
#include <capsule/wasm/component_instance.hpp>
#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/guest_call.hpp>

#include "engine_side.hpp"
#include "host_bridge.hpp"
#include "shim.hpp"

namespace capsule::wasm::detail {

// Lifecycle exports in the order ComponentInstanceImpl keeps their handles.
enum class LifecycleExport : std::uint8_t {
  kInit,
  kHandleMessage,
  kHandleCallback,
  kHealth,
  kShutdown,
  kMetadata,
  kInstantiate,  // not an export: the start-up code that instantiation runs
  kHttpHandle,   // a wasi:http/proxy component's incoming-handler (src/wasm/http_proxy.cpp)
};
inline constexpr std::array<std::string_view, 6> kLifecycleExportNames{
    "init", "handle-message", "handle-callback", "health", "shutdown", "metadata"};
inline std::string_view call_site(LifecycleExport e) {
  if (e == LifecycleExport::kInstantiate) return "instantiation";
  if (e == LifecycleExport::kHttpHandle) return "wasi:http/incoming-handler.handle";
  return kLifecycleExportNames[static_cast<std::size_t>(e)];
}

struct CompiledComponentImpl {
  std::string name;
  std::string content_hash;
  ComponentInterfaces interfaces;
  bool from_cache = false;
  bool needs_wasi = false;
  wasmtime::component::Component component;
  ComponentKind kind = ComponentKind::kCapsule;
  // The engine side it was compiled for, whose engine and linkers its stores must use: the main
  // side, or the async-ABI side. Sides live as long as the engine, which instances need anyway.
  EngineSide* side = nullptr;
  // A capsule component pre-instantiated against side->linker: every instance shares its resolved
  // imports and export indices instead of resolving its own (null for wasi:http/proxy ones).
  shim::ComponentPre pre;
};

struct EngineImpl {
  EngineConfig config;
  std::unique_ptr<EngineSide> main;
  // WASI's timers and I/O; shared with every instance so it outlives their calls.
  std::shared_ptr<capsule_reactor_t> reactor;
  std::atomic<std::uint64_t> compiles{0};
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> cache_misses{0};
  std::atomic<std::uint64_t> cache_write_failures{0};
  std::atomic<std::uint64_t> instances_created{0};

  EngineImpl(EngineConfig cfg, std::unique_ptr<EngineSide> main_side)
      : config(std::move(cfg)), main(std::move(main_side)) {}

  // The side for components that use the component model's async ABI, made on first need.
  Result<EngineSide*> async_abi_side();
  // Whether a component with this content hash was found to need the async-ABI side: loaded
  // again (an upgrade, a second manifest entry), it goes there without the main side first
  // validating it only to refuse it (~1 ms).
  bool known_async_abi(const std::string& content_hash);
  void remember_async_abi(const std::string& content_hash);

 private:
  std::mutex async_abi_mutex_;
  std::unique_ptr<EngineSide> async_abi_;
  std::unordered_set<std::string> async_abi_hashes_;  // under async_abi_mutex_
};

struct ComponentInstanceImpl {
  ComponentId id;
  std::string component_name;
  ResourceLimits limits;
  std::shared_ptr<HostApi> host;
  std::shared_ptr<capsule_reactor_t> reactor;
  wasmtime::Store store;
  shim::Limiter limiter;  // the store's limiter: which memory.grow it refused
  shim::Exports exports;  // the generated, type-checked lifecycle exports
  shim::Stack stack;      // the fiber stack the store keeps between calls (null: not pooled)
  std::optional<Error> failure;
  CallStats stats;
  bool call_in_flight = false;  // a GuestCall borrows the store

  explicit ComponentInstanceImpl(wasmtime::Engine& engine) : store(engine) {}
};

struct GuestCallImpl {
  ComponentInstanceImpl* inst = nullptr;
  LifecycleExport which = LifecycleExport::kInit;
  shim::Call call;
  std::chrono::steady_clock::time_point deadline;
  bool done = false;
  capsule_call_result_t result{};
  std::optional<Error> error;  // why the call ended without a guest result
};

// Starts `which` on `inst`: a fresh fuel budget, the epoch set to yield every tick, and the
// deadline. `make` creates the shim call; a refused start (failed or busy instance) is a call
// that is ready with the reason.
GuestCall start_call(ComponentInstanceImpl& inst, LifecycleExport which,
                     const std::function<capsule_call_t*(wasmtime_context_t*)>& make);

// A store for `compiled` under `limits` (zero fields: the engine's defaults) with its limiter and
// WASI set, not yet instantiated: what a capsule component and a wasi:http/proxy one share.
Result<std::unique_ptr<ComponentInstanceImpl>> prepare_instance(
    EngineImpl& engine, const CompiledComponentImpl& compiled, ComponentId id,
    ResourceLimits limits, std::shared_ptr<HostApi> host);

// The error for a failed call: names the instance, the export and the limit or cause.
Error failure_error(const ComponentInstanceImpl& inst, LifecycleExport which, shim::Failure kind,
                    std::string_view text);
std::string human_bytes(std::uint64_t b);

}  // namespace capsule::wasm::detail

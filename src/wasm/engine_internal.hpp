#pragma once

// The implementation structs behind the pimpl'd public wasm types. Only src/wasm sees these.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/wasm/compiled_component.hpp>
#include <capsule/wasm/component_instance.hpp>
#include <capsule/wasm/engine.hpp>

#include "component_cache.hpp"
#include "epoch_ticker.hpp"
#include "host_linker.hpp"

namespace capsule::wasm::detail {

// Lifecycle exports in the order ComponentInstanceImpl keeps their handles.
enum class LifecycleExport : std::uint8_t {
  kInit,
  kHandleMessage,
  kHandleCallback,
  kHealth,
  kShutdown,
  kMetadata,
  kCount
};
inline constexpr std::array<std::string_view, static_cast<std::size_t>(LifecycleExport::kCount)>
    kLifecycleExportNames{"init",   "handle-message", "handle-callback",
                          "health", "shutdown",       "metadata"};

struct CompiledComponentImpl {
  std::string name;
  std::string content_hash;
  ComponentInterfaces interfaces;
  bool from_cache = false;
  bool needs_wasi = false;
  wasmtime::component::Component component;
  std::vector<wasmtime::component::ExportIndex> lifecycle;  // indexed by LifecycleExport
};

struct EngineImpl {
  EngineConfig config;
  wasmtime::Engine engine;
  wasmtime::component::Linker linker;
  std::optional<ComponentCache> cache;
  std::unique_ptr<EpochTicker> ticker;  // after engine: stops before the engine goes away
  std::atomic<std::uint64_t> compiles{0};
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> cache_misses{0};
  std::atomic<std::uint64_t> cache_write_failures{0};
  std::atomic<std::uint64_t> instances_created{0};

  EngineImpl(EngineConfig cfg, wasmtime::Engine eng)
      : config(std::move(cfg)), engine(std::move(eng)), linker(engine) {}
};

struct ComponentInstanceImpl {
  ComponentId id;
  std::string component_name;
  ResourceLimits limits;
  std::uint64_t epoch_ticks_per_call = 1;
  std::shared_ptr<HostApi> host;
  wasmtime::Store store;
  std::optional<wasmtime::component::Instance> instance;
  std::vector<wasmtime::component::Func> lifecycle;  // indexed by LifecycleExport
  std::optional<Error> failure;
  CallStats stats;
  bool typed_calls = false;  // handle-message/-callback through typed_lifecycle.hpp

  explicit ComponentInstanceImpl(wasmtime::Engine& engine) : store(engine) {}
};

}  // namespace capsule::wasm::detail

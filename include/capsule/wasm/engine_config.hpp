#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>

#include <capsule/core/limits.hpp>

namespace capsule::wasm {

struct PoolingConfig {
  bool enabled = true;
  std::uint32_t total_component_instances = 1000;
  std::uint32_t total_memories = 1000;
  std::uint32_t total_tables = 1000;
  // Core wasm instances across all components; 0: 8 per component instance (a C guest with the
  // WASI preview1 adapter has five).
  std::uint32_t total_core_instances = 0;
  std::uint64_t max_memory_bytes = 64ULL << 20;  // per linear memory; a hard cap under the limiter
  // Fiber stacks: each guest call in progress (running, or suspended on a host wait) holds one.
  // 0: one per component instance.
  std::uint32_t total_stacks = 0;
};

// Address space behind each linear memory (pooled slot or on-demand mapping). Zero fields keep
// Wasmtime's defaults for 64-bit hosts: a 4 GiB reservation and a 32 MiB guard, in which guest
// code runs without bounds checks. Smaller reservations make Wasmtime emit explicit checks.
struct MemoryLayout {
  std::uint64_t reservation = 0;
  std::uint64_t guard = 0;
  // On-demand memories only: room mapped past the current size so growth need not move it.
  std::uint64_t reservation_for_growth = 0;
};

// What one component instance may hold, whatever its guest asks for: with the memory limit
// (per linear memory) these bound what one instance can take from the host and from the pool.
struct InstanceCaps {
  std::uint32_t core_instances = 16;
  std::uint32_t memories = 4;
  std::uint32_t tables = 16;
  std::uint32_t table_elements = 100'000;  // per table
};

struct EngineConfig {
  // Precompiled components are cached here, keyed by content hash + engine build. Empty: no cache.
  std::filesystem::path cache_dir;
  PoolingConfig pooling;
  MemoryLayout memory_layout;
  InstanceCaps instance_caps;
  // Granularity of wall-time limits: a ticker thread advances the engine epoch this often.
  std::chrono::milliseconds epoch_tick{2};
  bool parallel_compilation = true;
  // The component model's async ABI (Wasmtime's component-model-async): components that use it
  // (async-typed functions; built-ins such as waitable sets, task context, yield, as async-first
  // toolchains' runtimes emit them) compile and run, on a second Wasmtime engine made when the
  // first such component loads (docs/engine.md). Off: such a component is refused at load,
  // naming the feature.
  bool component_model_async = true;
  // Applied to an instance when its own limits leave a field at zero.
  ResourceLimits default_limits{
      .memory_bytes = 32ULL << 20,
      .fuel_per_call = 2'000'000'000ULL,
      .wall_time_per_call = std::chrono::milliseconds{5000},
  };
};

}  // namespace capsule::wasm

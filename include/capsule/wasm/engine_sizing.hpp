#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <capsule/core/result.hpp>
#include <capsule/wasm/engine_config.hpp>

namespace capsule::wasm {

// What a host will run: one entry per component (all its instances share one memory limit).
struct InstanceDemand {
  std::string component;  // "ns/name", for messages
  std::uint32_t instances = 0;
  std::uint64_t memory_bytes = 0;  // 0: the engine's default memory limit
  // Linear memories one instance defines (read_component_shape); 0: not known, counted as two
  // (a guest's and an adapter's).
  std::uint32_t memories = 0;
};

// What this machine and process can give an engine. probe() reads the running process; tests
// build one by hand to ask "what would a host with X do".
struct HostCapacity {
  std::uint64_t address_space_bytes =
      0;                              // still free for reservations (47-bit user space, RLIMIT_AS)
  std::uint64_t map_count_limit = 0;  // vm.max_map_count
  std::uint64_t maps_in_use = 0;      // lines of /proc/self/maps now
  std::uint64_t physical_memory_bytes = 0;
  [[nodiscard]] static HostCapacity probe();
};

// How the engine lays out guest memory, and why (for the host's start-up line). apply() writes
// it into an EngineConfig.
struct EngineSizing {
  PoolingConfig pooling;
  MemoryLayout layout;
  std::uint64_t instances = 0;       // sum over the demands
  std::uint64_t reserved_bytes = 0;  // address space the layout reserves
  std::uint64_t maps_estimate = 0;   // memory mappings once every instance is live
  std::string summary;               // one line: strategy, slots, reservation
  std::string reserved_text;         // reserved_bytes for people: "719.4 GiB"
  void apply(EngineConfig& config) const {
    config.pooling = pooling;
    config.memory_layout = layout;
  }
};

// Sizes the engine for `demands` (see docs/engine.md, "Sizing"): a pool of equal memory slots as
// large as the largest memory limit, one slot per instance plus headroom for restarts and
// upgrades. Slots get Wasmtime's guarded 4 GiB reservations (no bounds checks in guest code)
// while they fit in half the free address space, compact slots (explicit bounds checks) when
// not, and per-instance on-demand memories when even compact slots do not fit. A demand no
// layout can serve - address space, the kernel's memory-map limit, a memory limit beyond the
// machine's memory - is refused with the numbers and the setting to change.
[[nodiscard]] Result<EngineSizing> size_engine(std::span<const InstanceDemand> demands,
                                               const HostCapacity& capacity,
                                               std::uint64_t default_memory_bytes);

}  // namespace capsule::wasm

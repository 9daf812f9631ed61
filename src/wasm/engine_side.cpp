#include "engine_side.hpp"

#include <string>
#include <utility>

#include <wasmtime.h>

#include "content_hash.hpp"
#include "shim_http.hpp"

namespace capsule::wasm::detail {
namespace {

// Everything that changes the machine code Wasmtime emits; part of every cache key so that an
// artifact is never loaded into an engine configured differently from the one that wrote it.
std::string engine_fingerprint(const EngineConfig& c, bool pooled, bool async_abi) {
  // The reservation and guard decide whether Wasmtime emits bounds checks.
  std::string desc = std::string("wasmtime-") + WASMTIME_VERSION +
                     ";fuel;epoch;async-abi=" + (async_abi ? "on" : "off") +
                     ";pool=" + (pooled ? std::to_string(c.pooling.max_memory_bytes) : "off") +
                     ";reserve=" + std::to_string(c.memory_layout.reservation) +
                     ";guard=" + std::to_string(c.memory_layout.guard);
  return sha256_hex({reinterpret_cast<const std::uint8_t*>(desc.data()), desc.size()})
      .substr(0, 16);
}

wasmtime::Config make_wasmtime_config(const EngineConfig& c, bool pooled, bool async_abi) {
  wasmtime::Config config;
  config.consume_fuel(true);
  config.epoch_interruption(true);
  config.wasm_component_model(true);
  // Concurrency support is what the async ABI runs on, and Wasmtime refuses the ABI without it;
  // it also keeps a suspended worker fiber per store, so the main side goes without.
  config.concurrency_support(async_abi);
  config.wasm_component_model_async(async_abi);
  config.parallel_compilation(c.parallel_compilation);
  if (c.memory_layout.reservation != 0) config.memory_reservation(c.memory_layout.reservation);
  if (c.memory_layout.guard != 0) config.memory_guard_size(c.memory_layout.guard);
  if (c.memory_layout.reservation_for_growth != 0) {
    config.memory_reservation_for_growth(c.memory_layout.reservation_for_growth);
  }
  if (pooled) {
    wasmtime::PoolAllocationConfig pool;
    pool.total_component_instances(c.pooling.total_component_instances);
    pool.total_core_instances(c.pooling.total_core_instances != 0
                                  ? c.pooling.total_core_instances
                                  : c.pooling.total_component_instances * 8);
    pool.total_memories(c.pooling.total_memories);
    pool.total_tables(c.pooling.total_tables);
    pool.total_stacks(c.pooling.total_stacks != 0 ? c.pooling.total_stacks
                                                  : c.pooling.total_component_instances);
    pool.max_memory_size(c.pooling.max_memory_bytes);
    // Per component: one component cannot take the pool's slots from every other one.
    pool.max_core_instances_per_component(c.instance_caps.core_instances);
    pool.max_memories_per_component(c.instance_caps.memories);
    pool.max_tables_per_component(c.instance_caps.tables);
    pool.table_elements(c.instance_caps.table_elements);
    config.pooling_allocation_strategy(pool);
  }
  return config;
}

}  // namespace

Result<std::unique_ptr<EngineSide>> EngineSide::create(const EngineConfig& config, bool async_abi) {
  const bool pooled = config.pooling.enabled && !async_abi;
  auto side = std::make_unique<EngineSide>(
      wasmtime::Engine(make_wasmtime_config(config, pooled, async_abi)));
  side->pooled = pooled;
  side->async_abi = async_abi;
  // capsule components: capsule's imports and WASI with async host functions (a guest that
  // sleeps or polls suspends instead of blocking). wasi:http/proxy components: WASI, wasi:http,
  // and the same capsule imports (capsule:core messaging, services, storage, and wasi:keyvalue,
  // wasi:config, wasi:logging), answered by the instance's HostApi as for capsule components:
  // an HTTP handler may ask a backend component (messaging.call) before it answers.
  struct Step {
    wasmtime_error_t* (*add)(wasmtime_component_linker_t*);
    wasmtime::component::Linker* linker;
    const char* what;
  };
  for (const Step& step : {
           Step{capsule_linker_add_capsule_imports, &side->linker, "capsule's imports"},
           Step{capsule_linker_add_wasip2_async, &side->linker, "WASI 0.2"},
           Step{capsule_linker_add_wasip2_async, &side->proxy_linker, "WASI 0.2 (wasi:http/proxy)"},
           Step{capsule_linker_add_wasi_http, &side->proxy_linker, "wasi:http"},
           Step{capsule_linker_add_capsule_imports, &side->proxy_linker,
                "capsule's imports (wasi:http/proxy)"},
       }) {
    if (wasmtime_error_t* raw = step.add(step.linker->capi())) {
      return make_error(
          ErrorCode::kInternal,
          std::string("adding ") + step.what + " to the linker: " + wasmtime::Error(raw).message());
    }
  }
  if (pooled) side->stacks = shim::StackPool(capsule_stack_pool_new(), shim::StackPoolDeleter{});
  if (!config.cache_dir.empty()) {
    side->cache.emplace(config.cache_dir, engine_fingerprint(config, pooled, async_abi));
  }
  side->ticker = std::make_unique<EpochTicker>(side->engine, config.epoch_tick);
  return side;
}

}  // namespace capsule::wasm::detail

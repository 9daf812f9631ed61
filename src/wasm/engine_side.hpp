#pragma once

// One Wasmtime engine and what is bound to it: components compile for one engine, and stores and
// linkers belong to one. A WasmEngine runs most components on its main side; components that use
// the component model's async ABI run on a second side, made on first need (docs/engine.md:
// Wasmtime's concurrency support keeps a suspended worker fiber in every store between calls,
// which costs idle memory and rules out handing idle stacks back, so the main side runs without).

#include <memory>
#include <optional>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/core/result.hpp>
#include <capsule/wasm/engine_config.hpp>

#include "component_cache.hpp"
#include "epoch_ticker.hpp"
#include "shim.hpp"

namespace capsule::wasm::detail {

struct EngineSide {
  // Fields in destruction order's reverse: the ticker stops before the engine goes away.
  wasmtime::Engine engine;
  wasmtime::component::Linker linker;
  // wasi:http/proxy components: WASI 0.2, wasi:http and wasi:keyvalue/config/logging, no
  // capsule:core (src/wasm/http_proxy.cpp).
  wasmtime::component::Linker proxy_linker;
  std::optional<ComponentCache> cache;
  // The pooled fiber stacks, whose idle pages instances hand back (null: not pooled).
  shim::StackPool stacks;
  std::unique_ptr<EpochTicker> ticker;
  // Memories come from the pooling allocator, whose slot caps every memory limit.
  bool pooled = false;
  bool async_abi = false;

  explicit EngineSide(wasmtime::Engine eng)
      : engine(std::move(eng)), linker(engine), proxy_linker(engine) {}
  EngineSide(const EngineSide&) = delete;
  EngineSide& operator=(const EngineSide&) = delete;

  // The main side (`async_abi` false) as `config` says; the async-ABI side with Wasmtime's
  // concurrency support and memories mapped on demand (the pool is sized for the main side).
  static Result<std::unique_ptr<EngineSide>> create(const EngineConfig& config, bool async_abi);
};

}  // namespace capsule::wasm::detail

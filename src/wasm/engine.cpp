#include <fstream>
#include <string>
#include <utility>

#include <wasmtime.h>
#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/wasm/engine.hpp>
#include <capsule/wasm/wit_contract.hpp>

#include "content_hash.hpp"
#include "engine_internal.hpp"
#include "error_text.hpp"
#include "shim_http.hpp"
#include "wit_compatibility.hpp"

namespace capsule::wasm {
namespace {

using detail::CompiledComponentImpl;
using detail::EngineImpl;

// Everything that changes the machine code Wasmtime emits; part of every cache key so that an
// artifact is never loaded into an engine configured differently from the one that wrote it.
std::string engine_fingerprint(const EngineConfig& c) {
  // The reservation and guard decide whether Wasmtime emits bounds checks.
  std::string desc = std::string("wasmtime-") + WASMTIME_VERSION + ";fuel;epoch;pool=" +
                     (c.pooling.enabled ? std::to_string(c.pooling.max_memory_bytes) : "off") +
                     ";reserve=" + std::to_string(c.memory_layout.reservation) +
                     ";guard=" + std::to_string(c.memory_layout.guard);
  return sha256_hex({reinterpret_cast<const std::uint8_t*>(desc.data()), desc.size()})
      .substr(0, 16);
}

wasmtime::Config make_wasmtime_config(const EngineConfig& c) {
  wasmtime::Config config;
  config.consume_fuel(true);
  config.epoch_interruption(true);
  config.wasm_component_model(true);
  config.parallel_compilation(c.parallel_compilation);
  if (c.memory_layout.reservation != 0) config.memory_reservation(c.memory_layout.reservation);
  if (c.memory_layout.guard != 0) config.memory_guard_size(c.memory_layout.guard);
  if (c.memory_layout.reservation_for_growth != 0) {
    config.memory_reservation_for_growth(c.memory_layout.reservation_for_growth);
  }
  if (c.pooling.enabled) {
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

ComponentInterfaces read_interfaces(const wasmtime::Engine& engine,
                                    const wasmtime::component::Component& component) {
  ComponentInterfaces out;
  const auto type = component.type();
  for (std::size_t i = 0, n = type.import_count(engine); i < n; ++i) {
    if (auto item = type.import_nth(engine, i)) out.imports.emplace_back(item->first);
  }
  for (std::size_t i = 0, n = type.export_count(engine); i < n; ++i) {
    if (auto item = type.export_nth(engine, i)) out.exports.emplace_back(item->first);
  }
  return out;
}

// The generated bindings type-check the exports at instantiation; this earlier check at load
// names exactly what is missing.
Status find_lifecycle(const wasmtime::component::Component& component, const std::string& name) {
  const std::string iface = std::string(kWitPackage) + "/lifecycle@" + std::string(kWitVersion);
  auto iface_index = component.export_index(nullptr, iface);
  if (!iface_index) {
    return make_error(ErrorCode::kIncompatible,
                      "component '" + name + "' does not export " + iface);
  }
  for (auto func : detail::kLifecycleExportNames) {
    auto idx = component.export_index(&*iface_index, func);
    if (!idx) {
      std::string text = "component '" + name;
      text += "' exports " + iface;
      return make_error(ErrorCode::kIncompatible,
                        text + " without function '" + std::string(func) + "'");
    }
  }
  return ok();
}

// Type-checks every import against the linker instances use, so that a component that cannot
// start is refused here, naming each import this host lacks, not at its first instantiation.
Status check_imports(const wasmtime::component::Linker& linker,
                     const wasmtime::component::Component& component, const std::string& name) {
  std::string lines;
  auto missing = [](void* ctx, capsule_bytes_t import, capsule_bytes_t reason) {
    auto& out = *static_cast<std::string*>(ctx);
    out += "\n  missing import: " + std::string(shim::view_of(import));
    if (reason.len != 0) out += " (" + std::string(shim::view_of(reason)) + ")";
  };
  if (wasmtime_error_t* raw =
          capsule_linker_check_imports(linker.capi(), component.capi(), missing, &lines)) {
    return make_error(ErrorCode::kIncompatible, "component '" + name +
                                                    "' cannot be linked on this host: " +
                                                    error_chain(wasmtime::Error(raw).message()));
  }
  if (lines.empty()) return ok();
  return make_error(ErrorCode::kIncompatible,
                    "component '" + name +
                        "' imports what this host does not provide, so it cannot start:" + lines);
}

// wasi:http/proxy components export the incoming handler of WASI 0.2 (Spin, `wasmtime serve`).
constexpr std::string_view kIncomingHandler = "wasi:http/incoming-handler@";

// The kind a component's exports say it is, or why it is neither kind this host runs.
Result<ComponentKind> kind_of(const ComponentInterfaces& interfaces, const std::string& name) {
  for (const auto& e : interfaces.exports) {
    if (e.rfind(kIncomingHandler, 0) != 0) continue;
    const std::string_view version = std::string_view(e).substr(kIncomingHandler.size());
    if (version.rfind("0.2.", 0) != 0) {
      std::string text = "component '" + name;
      text += "' exports " + e;
      text += ", but this host serves wasi:http 0.2 (wasi:http/proxy@0.2.x) only";
      return make_error(ErrorCode::kIncompatible, std::move(text));
    }
    return ComponentKind::kHttpProxy;
  }
  return ComponentKind::kCapsule;
}

}  // namespace

WasmEngine::WasmEngine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}
WasmEngine::~WasmEngine() = default;

std::string_view WasmEngine::wasmtime_version() {
  return WASMTIME_VERSION;
}

Result<std::shared_ptr<WasmEngine>> WasmEngine::create(EngineConfig config) {
  if (config.epoch_tick.count() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "epoch_tick must be at least 1 ms");
  }
  if (config.pooling.enabled &&
      config.default_limits.memory_bytes > config.pooling.max_memory_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "default memory limit exceeds the pooling allocator's slot size");
  }
  wasmtime::Engine engine(make_wasmtime_config(config));
  auto impl = std::make_unique<EngineImpl>(std::move(config), std::move(engine));
  if (wasmtime_error_t* raw = capsule_linker_add_capsule_imports(impl->linker.capi())) {
    return make_error(ErrorCode::kInternal,
                      "adding capsule's imports to the linker: " + wasmtime::Error(raw).message());
  }
  // WASI with async host functions: a guest that sleeps or polls suspends instead of blocking.
  if (wasmtime_error_t* raw = capsule_linker_add_wasip2_async(impl->linker.capi())) {
    return make_error(ErrorCode::kInternal,
                      "adding WASI 0.2 to the linker: " + wasmtime::Error(raw).message());
  }
  // wasi:http/proxy components link against WASI and wasi:http only: capsule:core is an actor's
  // world, and a proxy that imports it is refused at load naming the import.
  if (wasmtime_error_t* raw = capsule_linker_add_wasip2_async(impl->proxy_linker.capi())) {
    return make_error(ErrorCode::kInternal, "adding WASI 0.2 to the wasi:http/proxy linker: " +
                                                wasmtime::Error(raw).message());
  }
  if (wasmtime_error_t* raw = capsule_linker_add_wasi_http(impl->proxy_linker.capi())) {
    return make_error(ErrorCode::kInternal,
                      "adding wasi:http to the linker: " + wasmtime::Error(raw).message());
  }
  impl->reactor = std::shared_ptr<capsule_reactor_t>(capsule_reactor_new(), capsule_reactor_delete);
  if (!impl->reactor) {
    return make_error(ErrorCode::kUnavailable, "cannot start the engine's WASI reactor thread");
  }
  if (impl->config.pooling.enabled) {
    impl->stacks = shim::StackPool(capsule_stack_pool_new(), shim::StackPoolDeleter{});
  }
  if (!impl->config.cache_dir.empty()) {
    impl->cache.emplace(impl->config.cache_dir, engine_fingerprint(impl->config));
  }
  impl->ticker = std::make_unique<EpochTicker>(impl->engine, impl->config.epoch_tick);
  return std::make_shared<WasmEngine>(std::move(impl));
}

const EngineConfig& WasmEngine::config() const {
  return impl_->config;
}

EngineStats WasmEngine::stats() const {
  return EngineStats{impl_->compiles.load(), impl_->cache_hits.load(), impl_->cache_misses.load(),
                     impl_->cache_write_failures.load(), impl_->instances_created.load()};
}

Result<std::shared_ptr<const CompiledComponent>> WasmEngine::load_file(
    const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open component file " + path.string());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in)
    return make_error(ErrorCode::kUnavailable, "cannot read component file " + path.string());
  return load(bytes, path.filename().string());
}

Result<std::shared_ptr<const CompiledComponent>> WasmEngine::load(
    std::span<const std::uint8_t> wasm, std::string name) {
  std::string hash = sha256_hex(wasm);
  bool from_cache = false;
  std::optional<wasmtime::component::Component> component;
  if (impl_->cache) {
    if (auto artifact = impl_->cache->read(hash)) {
      if (auto r = wasmtime::component::Component::deserialize(impl_->engine, *artifact)) {
        component = std::move(r.ok());
        from_cache = true;
        impl_->cache_hits.fetch_add(1, std::memory_order_relaxed);
      } else {
        impl_->cache->remove(hash);  // stale or foreign artifact: rebuild it
      }
    }
    if (!component) impl_->cache_misses.fetch_add(1, std::memory_order_relaxed);
  }
  if (!component) {
    auto r = wasmtime::component::Component::compile(
        impl_->engine,
        wasmtime::Span<uint8_t>(const_cast<std::uint8_t*>(wasm.data()), wasm.size()));
    impl_->compiles.fetch_add(1, std::memory_order_relaxed);
    if (!r) {
      return make_error(ErrorCode::kCompileFailed, "component '" + name +
                                                       "' is not a valid WebAssembly component: " +
                                                       error_chain(r.err().message()));
    }
    component = std::move(r.ok());
  }

  ComponentInterfaces interfaces = read_interfaces(impl_->engine, *component);
  auto kind = kind_of(interfaces, name);
  if (!kind) return std::move(kind).error();
  if (*kind == ComponentKind::kHttpProxy) {
    if (Status s = check_imports(impl_->proxy_linker, *component, name); !s) {
      return std::move(s).error();
    }
  } else {
    if (Status s = check_wit_compatibility(name, interfaces); !s) return std::move(s).error();
    if (Status s = check_imports(impl_->linker, *component, name); !s) return std::move(s).error();
    if (Status s = find_lifecycle(*component, name); !s) return std::move(s).error();
  }
  bool needs_wasi = false;
  for (const auto& import : interfaces.imports)
    needs_wasi = needs_wasi || import.rfind("wasi:", 0) == 0;

  if (impl_->cache && !from_cache) {
    auto artifact = component->serialize();
    if (!artifact || !impl_->cache->write(hash, artifact.ok())) {
      impl_->cache_write_failures.fetch_add(1, std::memory_order_relaxed);
    }
  }
  auto impl = std::make_unique<CompiledComponentImpl>(
      CompiledComponentImpl{.name = std::move(name),
                            .content_hash = std::move(hash),
                            .interfaces = std::move(interfaces),
                            .from_cache = from_cache,
                            .needs_wasi = needs_wasi,
                            .component = std::move(*component),
                            .kind = *kind});
  return std::shared_ptr<const CompiledComponent>(
      std::make_shared<CompiledComponent>(std::move(impl)));
}

// -- CompiledComponent ---------------------------------------------------------------------------

CompiledComponent::CompiledComponent(std::unique_ptr<detail::CompiledComponentImpl> impl)
    : impl_(std::move(impl)) {}
CompiledComponent::~CompiledComponent() = default;
const std::string& CompiledComponent::name() const {
  return impl_->name;
}
const std::string& CompiledComponent::content_hash() const {
  return impl_->content_hash;
}
const ComponentInterfaces& CompiledComponent::interfaces() const {
  return impl_->interfaces;
}
bool CompiledComponent::from_cache() const {
  return impl_->from_cache;
}
ComponentKind CompiledComponent::kind() const {
  return impl_->kind;
}

}  // namespace capsule::wasm

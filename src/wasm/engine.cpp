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

struct Compiled {
  std::optional<wasmtime::component::Component> component;
  bool from_cache = false;
  detail::EngineSide* side = nullptr;  // the side it was compiled for
};

// The component from `side`'s cache, else compiled for `side`; an error carries Wasmtime's chain.
Result<Compiled> compile_on(EngineImpl& engine, detail::EngineSide& side,
                            std::span<const std::uint8_t> wasm, const std::string& hash) {
  if (side.cache) {
    if (auto artifact = side.cache->read(hash)) {
      if (auto r = wasmtime::component::Component::deserialize(side.engine, *artifact)) {
        engine.cache_hits.fetch_add(1, std::memory_order_relaxed);
        return Compiled{std::move(r.ok()), true, &side};
      }
      side.cache->remove(hash);  // stale or foreign artifact: rebuild it
    }
    engine.cache_misses.fetch_add(1, std::memory_order_relaxed);
  }
  auto r = wasmtime::component::Component::compile(
      side.engine, wasmtime::Span<uint8_t>(const_cast<std::uint8_t*>(wasm.data()), wasm.size()));
  engine.compiles.fetch_add(1, std::memory_order_relaxed);
  if (!r) return make_error(ErrorCode::kCompileFailed, r.err().message());
  return Compiled{std::move(r.ok()), false, &side};
}

// Wasmtime's validator names the feature when a component uses the async ABI (async-typed
// functions, or built-ins such as `waitable-set.new`) on an engine without it.
bool uses_async_abi(std::string_view wasmtime_error) {
  return wasmtime_error.find("requires the component model async feature") !=
         std::string_view::npos;
}

Error not_a_component(const std::string& name, const Error& e) {
  return Error{
      ErrorCode::kCompileFailed,
      "component '" + name + "' is not a valid WebAssembly component: " + error_chain(e.message)};
}

// Compiles on the main side, or on the async-ABI side when the component needs it: known from
// an earlier load of the same bytes, or learnt from the main side's refusal.
Result<Compiled> compile_for_side(EngineImpl& impl, std::span<const std::uint8_t> wasm,
                                  const std::string& hash, const std::string& name) {
  if (!impl.known_async_abi(hash)) {
    auto on_main = compile_on(impl, *impl.main, wasm, hash);
    if (on_main) return on_main;
    if (!uses_async_abi(on_main.error().message)) return not_a_component(name, on_main.error());
    if (!impl.config.component_model_async) {
      return make_error(ErrorCode::kIncompatible,
                        "component '" + name +
                            "' uses the component model's async ABI, which this engine has "
                            "turned off (EngineConfig::component_model_async): " +
                            error_chain(on_main.error().message));
    }
  }
  auto side = impl.async_abi_side();
  if (!side) return std::move(side).error();
  auto on_async = compile_on(impl, **side, wasm, hash);
  if (!on_async) return not_a_component(name, on_async.error());
  impl.remember_async_abi(hash);
  return on_async;
}

}  // namespace

namespace detail {

Result<EngineSide*> EngineImpl::async_abi_side() {
  std::lock_guard lock(async_abi_mutex_);
  if (!async_abi_) {
    auto side = EngineSide::create(config, true);
    if (!side) return std::move(side).error();
    async_abi_ = std::move(*side);
  }
  return async_abi_.get();
}

bool EngineImpl::known_async_abi(const std::string& content_hash) {
  std::lock_guard lock(async_abi_mutex_);
  return async_abi_hashes_.contains(content_hash);
}

void EngineImpl::remember_async_abi(const std::string& content_hash) {
  std::lock_guard lock(async_abi_mutex_);
  async_abi_hashes_.insert(content_hash);
}

}  // namespace detail

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
  auto main = detail::EngineSide::create(config, false);
  if (!main) return std::move(main).error();
  auto impl = std::make_unique<EngineImpl>(std::move(config), std::move(*main));
  impl->reactor = std::shared_ptr<capsule_reactor_t>(capsule_reactor_new(), capsule_reactor_delete);
  if (!impl->reactor) {
    return make_error(ErrorCode::kUnavailable, "cannot start the engine's WASI reactor thread");
  }
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
  auto compiled = compile_for_side(*impl_, wasm, hash, name);
  if (!compiled) return std::move(compiled).error();
  detail::EngineSide* side = compiled->side;
  const bool from_cache = compiled->from_cache;
  std::optional<wasmtime::component::Component> component = std::move(compiled->component);

  ComponentInterfaces interfaces = read_interfaces(side->engine, *component);
  auto kind = kind_of(interfaces, name);
  if (!kind) return std::move(kind).error();
  if (*kind == ComponentKind::kHttpProxy) {
    if (Status s = check_imports(side->proxy_linker, *component, name); !s) {
      return std::move(s).error();
    }
  } else {
    if (Status s = check_wit_compatibility(name, interfaces); !s) return std::move(s).error();
    if (Status s = check_imports(side->linker, *component, name); !s) return std::move(s).error();
    if (Status s = find_lifecycle(*component, name); !s) return std::move(s).error();
  }
  shim::ComponentPre pre;
  if (*kind == ComponentKind::kCapsule) {
    capsule_component_pre_t* made = nullptr;
    if (wasmtime_error_t* raw =
            capsule_component_pre_new(side->linker.capi(), component->capi(), &made)) {
      return make_error(ErrorCode::kIncompatible, "pre-instantiating component " + name + ": " +
                                                      wasmtime::Error(raw).message());
    }
    pre.reset(made);
  }
  bool needs_wasi = false;
  for (const auto& import : interfaces.imports)
    needs_wasi = needs_wasi || import.rfind("wasi:", 0) == 0;

  if (side->cache && !from_cache) {
    auto artifact = component->serialize();
    if (!artifact || !side->cache->write(hash, artifact.ok())) {
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
                            .kind = *kind,
                            .side = side,
                            .pre = std::move(pre)});
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

#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/result.hpp>
#include <capsule/wasm/compiled_component.hpp>
#include <capsule/wasm/component_instance.hpp>
#include <capsule/wasm/engine_config.hpp>
#include <capsule/wasm/host_api.hpp>
#include <capsule/wasm/http_proxy.hpp>

namespace capsule::wasm {

namespace detail {
struct EngineImpl;
}

struct InstanceOptions {
  ComponentId id;
  ResourceLimits limits;          // fields left at zero take the engine defaults
  std::shared_ptr<HostApi> host;  // null: a StandaloneHostApi for `id`
};

struct EngineStats {
  std::uint64_t compiles = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t cache_write_failures = 0;
  std::uint64_t instances_created = 0;
};

// The one WebAssembly engine of a host process: the only type that knows Wasmtime exists.
// Thread-safe: load and instantiate from any thread. Shared by every component actor through a
// std::shared_ptr, so each of them never owns an engine of its own.
class WasmEngine {
 public:
  [[nodiscard]] static Result<std::shared_ptr<WasmEngine>> create(EngineConfig config = {});
  ~WasmEngine();
  WasmEngine(const WasmEngine&) = delete;
  WasmEngine& operator=(const WasmEngine&) = delete;

  // Validates, checks the WIT contract version, then compiles (or loads the cached precompiled
  // artifact for these exact bytes). `name` appears in every error about this component.
  [[nodiscard]] Result<std::shared_ptr<const CompiledComponent>> load(
      std::span<const std::uint8_t> wasm, std::string name);
  [[nodiscard]] Result<std::shared_ptr<const CompiledComponent>> load_file(
      const std::filesystem::path& path);

  [[nodiscard]] Result<ComponentInstance> instantiate(const CompiledComponent& component,
                                                      InstanceOptions options);
  // A wasi:http/proxy component (kind() == kHttpProxy), ready for its first request. Like
  // instantiate, runs the guest's start-up code on this thread, bounded by the wall time.
  [[nodiscard]] Result<HttpProxyInstance> instantiate_http_proxy(const CompiledComponent& component,
                                                                 HttpProxyOptions options);

  [[nodiscard]] const EngineConfig& config() const;
  [[nodiscard]] EngineStats stats() const;
  // Version of the linked Wasmtime C API, e.g. "48.0.0".
  [[nodiscard]] static std::string_view wasmtime_version();

  explicit WasmEngine(std::unique_ptr<detail::EngineImpl> impl);

 private:
  std::unique_ptr<detail::EngineImpl> impl_;
};

}  // namespace capsule::wasm

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace capsule::wasm {

namespace detail {
struct CompiledComponentImpl;
}

// The names a component imports and exports (e.g. "capsule:core/messaging@0.1.0").
struct ComponentInterfaces {
  std::vector<std::string> imports;
  std::vector<std::string> exports;
};

// What a component is for, read from its exports at load.
enum class ComponentKind : std::uint8_t {
  kCapsule,    // exports capsule:core/lifecycle: an actor (ComponentInstance)
  kHttpProxy,  // exports wasi:http/incoming-handler@0.2.x: serves HTTP (HttpProxyInstance)
};

// A validated, compiled component: immutable and shared by every instance of it, on any thread.
class CompiledComponent {
 public:
  explicit CompiledComponent(std::unique_ptr<detail::CompiledComponentImpl> impl);
  ~CompiledComponent();
  CompiledComponent(const CompiledComponent&) = delete;
  CompiledComponent& operator=(const CompiledComponent&) = delete;

  [[nodiscard]] const std::string& name() const;
  // SHA-256 (hex) of the component bytes it was built from.
  [[nodiscard]] const std::string& content_hash() const;
  [[nodiscard]] const ComponentInterfaces& interfaces() const;
  // True when this came from the precompiled on-disk cache instead of a fresh compile.
  [[nodiscard]] bool from_cache() const;
  [[nodiscard]] ComponentKind kind() const;

  [[nodiscard]] const detail::CompiledComponentImpl& impl() const { return *impl_; }

 private:
  std::unique_ptr<detail::CompiledComponentImpl> impl_;
};

}  // namespace capsule::wasm

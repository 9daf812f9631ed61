#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include <capsule/core/result.hpp>

namespace capsule::wasm {

// What engine sizing needs to know about a component before any engine exists to compile it,
// read from its bytes: the linear memories one instance of it defines. Each defined memory takes
// a slot of the pooling allocator while the instance lives, and the slot keeps its mappings after
// it (docs/engine.md, "Sizing"); memories a core module imports (an adapter using the main
// module's memory) are not new.
struct ComponentShape {
  std::uint32_t memories = 0;  // memories defined by the core modules, nested components' included
};

// Each embedded core module is counted once (wit-component instantiates each once; a module
// instantiated twice would be undercounted, and the pool would then refuse an instantiation
// with its own error, not overrun). Malformed or truncated bytes are kInvalidArgument.
[[nodiscard]] Result<ComponentShape> read_component_shape(std::span<const std::uint8_t> bytes);
// The same for a .wasm file; an unreadable file is kNotFound naming it.
[[nodiscard]] Result<ComponentShape> read_component_shape(const std::filesystem::path& file);

}  // namespace capsule::wasm

#pragma once

#include <string_view>

#include <capsule/core/result.hpp>
#include <capsule/wasm/compiled_component.hpp>

namespace capsule::wasm {

// Checks a component's import/export names against the WIT contract of this host before any
// linking, so that a component built for another capsule:core version is refused with a
// sentence that says which version it wants and what to do about it.
[[nodiscard]] Status check_wit_compatibility(std::string_view component_name,
                                             const ComponentInterfaces& interfaces);

// "capsule:core/lifecycle@0.2.0" -> {"capsule:core", "lifecycle", "0.2.0"}; empty parts if absent.
struct InterfaceName {
  std::string_view package;
  std::string_view interface;
  std::string_view version;
};
[[nodiscard]] InterfaceName parse_interface_name(std::string_view name) noexcept;

// Semver compatibility as the component model uses it: same major, and for 0.x the same minor.
[[nodiscard]] bool versions_compatible(std::string_view host, std::string_view guest) noexcept;

}  // namespace capsule::wasm

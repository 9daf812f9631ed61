#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <capsule/component/component_spec.hpp>

// Header-only toml++ without exceptions, as manifest.cpp uses it.
#ifndef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#endif
#ifndef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#endif
#include <toml++/toml.h>

namespace capsule::manifest {

// The fields of a [[component]] table that make it a virtual-actor component:
//   activation = "on-demand" | "eager" (the default: `instances` started with the host)
//   idle_timeout_ms = 60000   (on-demand: deactivate a name after this long without a message)
//   max_active = 10000        (on-demand: names active at once; the least recently used goes)
inline constexpr std::string_view kActivationKeys[] = {"activation", "idle_timeout_ms",
                                                       "max_active"};

struct ActivationFieldError {
  const toml::node* at = nullptr;  // for the line number
  std::string text;                // "activation: ..." (the caller adds where)
};

// Reads those fields of `component`: nullopt for an eager component. The other fields an on-demand
// component cannot have (instances, links, subscribe, restart, failover) are the caller's check.
struct ActivationFields {
  std::optional<component::OnDemandActivation> on_demand;
  std::optional<ActivationFieldError> error;
};
[[nodiscard]] ActivationFields parse_activation(const toml::table& component);

}  // namespace capsule::manifest

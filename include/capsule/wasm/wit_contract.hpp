#pragma once

#include <string_view>

namespace capsule::wasm {

// The WIT package this host implements (wit/*.wit). A component built against another
// incompatible version of the package is rejected at load time.
inline constexpr std::string_view kWitPackage = "capsule:core";
inline constexpr std::string_view kWitVersion = "0.1.3";

}  // namespace capsule::wasm

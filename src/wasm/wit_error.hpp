#pragma once

#include <cstdint>

#include <capsule/core/error.hpp>

namespace capsule::wasm::wit {

// Case index of wit/types.wit's `error` variant <-> our ErrorCode; the Rust boundary's generated
// types use the same order. Host-only codes (traps, limits) map to `internal`.
[[nodiscard]] std::uint8_t error_tag_of(ErrorCode code) noexcept;
[[nodiscard]] ErrorCode error_code_from_tag(std::uint8_t tag) noexcept;

}  // namespace capsule::wasm::wit

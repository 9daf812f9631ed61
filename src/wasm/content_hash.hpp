#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace capsule::wasm {

// Lowercase hex SHA-256: the identity of a component's bytes, and the key of its cached artifact.
[[nodiscard]] std::string sha256_hex(std::span<const std::uint8_t> bytes);

}  // namespace capsule::wasm

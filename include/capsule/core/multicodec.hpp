#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace capsule::multicodec {

// Codes from the multicodec table (https://github.com/multiformats/multicodec). A payload carries
// one of these so that receivers can decode without out-of-band agreement.
inline constexpr std::uint32_t kRaw = 0x55;
inline constexpr std::uint32_t kCbor = 0x51;
inline constexpr std::uint32_t kJson = 0x0200;
inline constexpr std::uint32_t kMessagePack = 0x0201;
inline constexpr std::uint32_t kProtobuf = 0x50;
inline constexpr std::uint32_t kUtf8Text = 0x0f;  // not in the table; capsule-local for plain text

[[nodiscard]] std::string_view name_of(std::uint32_t code) noexcept;
[[nodiscard]] std::optional<std::uint32_t> code_of(std::string_view name) noexcept;

}  // namespace capsule::multicodec

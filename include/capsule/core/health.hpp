#pragma once

#include <cstdint>
#include <string_view>

namespace capsule {

// What a health check says: a component's health() export, and any actor's health hook in the
// runtime (one type for both layers, so supervision and components agree on its meaning).
enum class HealthStatus : std::uint8_t { kHealthy, kDegraded, kUnhealthy };

[[nodiscard]] std::string_view to_string(HealthStatus status) noexcept;

}  // namespace capsule

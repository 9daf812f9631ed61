#include <capsule/core/message.hpp>

namespace capsule {

std::string_view to_string(HealthStatus status) noexcept {
  switch (status) {
    case HealthStatus::kHealthy:
      return "healthy";
    case HealthStatus::kDegraded:
      return "degraded";
    case HealthStatus::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

}  // namespace capsule

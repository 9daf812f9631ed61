#pragma once

#include <chrono>
#include <cstdint>

namespace capsule {

// Per-instance resource limits. Zero means "engine default", never "unlimited": an untrusted
// guest always runs under some bound.
struct ResourceLimits {
  std::uint64_t memory_bytes = 0;   // linear memory cap enforced by the store limiter
  std::uint64_t fuel_per_call = 0;  // instructions budget for one export call
  std::chrono::milliseconds wall_time_per_call{0};  // epoch deadline for one export call
};

}  // namespace capsule

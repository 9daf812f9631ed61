#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace capsule {

// Per-instance resource limits. Zero means "engine default", never "unlimited": an untrusted
// guest always runs under some bound.
struct ResourceLimits {
  std::uint64_t memory_bytes = 0;   // linear memory cap enforced by the store limiter
  std::uint64_t fuel_per_call = 0;  // instructions budget for one export call
  std::chrono::milliseconds wall_time_per_call{0};  // epoch deadline for one export call
  // Largest payload this component may hand the host: a message it sends, requests, publishes
  // or broadcasts, a reply, a storage value. Checked before the host copies it.
  std::uint64_t max_payload_bytes = 0;
};

// What a refused oversize payload says, naming the size, the limit and who hit it.
[[nodiscard]] std::string payload_too_large(std::uint64_t size, std::uint64_t limit,
                                            std::string_view who);

}  // namespace capsule

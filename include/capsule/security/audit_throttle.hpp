#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <capsule/core/component_id.hpp>

namespace capsule::security {

// Keeps a flood of denials from becoming a flood of audit records (and of disk writes): at most
// `per_second` records about one component are written per one-second window; the rest are
// counted, and the first record written in a later window says how many were left out.
class AuditThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit AuditThrottle(std::uint32_t per_second) : per_second_(per_second) {}

  // nullopt: suppress this record. Otherwise write it; the value is how many records about
  // `who` were suppressed since the last one written.
  std::optional<std::uint64_t> admit(const ComponentId& who, TimePoint now);
  // The same, for a caller that is not a component (an admin client's address).
  std::optional<std::uint64_t> admit(const std::string& who, TimePoint now);

 private:
  struct Window {
    TimePoint start;
    std::uint32_t written = 0;
    std::uint64_t suppressed = 0;
  };
  // Ids can come from the wire: past this many, windows that ended (and owe no summary) go.
  static constexpr std::size_t kMaxTracked = 4096;

  std::uint32_t per_second_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace capsule::security

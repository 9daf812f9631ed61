#include <capsule/security/audit_throttle.hpp>

namespace capsule::security {

std::optional<std::uint64_t> AuditThrottle::admit(const ComponentId& who, TimePoint now) {
  return admit(who.to_string(), now);
}

std::optional<std::uint64_t> AuditThrottle::admit(const std::string& who, TimePoint now) {
  if (per_second_ == 0) return 0;
  std::lock_guard lock(mutex_);
  if (windows_.size() >= kMaxTracked) {
    std::erase_if(windows_, [&](const auto& entry) {
      return entry.second.suppressed == 0 && now - entry.second.start >= std::chrono::seconds(1);
    });
  }
  auto [it, added] = windows_.try_emplace(who, Window{now, 0, 0});
  Window& w = it->second;
  if (!added && now - w.start >= std::chrono::seconds(1)) {
    w.start = now;
    w.written = 0;
  }
  if (w.written >= per_second_) {
    ++w.suppressed;
    return std::nullopt;
  }
  ++w.written;
  const std::uint64_t left_out = w.suppressed;
  w.suppressed = 0;
  return left_out;
}

}  // namespace capsule::security

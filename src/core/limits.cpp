#include <capsule/core/limits.hpp>

namespace capsule {

std::string payload_too_large(std::uint64_t size, std::uint64_t limit, std::string_view who) {
  return "payload of " + std::to_string(size) + " bytes from " + std::string(who) +
         " exceeds the limit of " + std::to_string(limit) + " bytes (max_payload)";
}

GuestQuotas merged(GuestQuotas own, const GuestQuotas& defaults) noexcept {
  auto fill = [](auto& field, auto fallback) {
    if (field == 0) field = fallback;
  };
  fill(own.messages_per_second, defaults.messages_per_second);
  fill(own.pending_requests, defaults.pending_requests);
  fill(own.subscriptions, defaults.subscriptions);
  fill(own.broadcast_targets, defaults.broadcast_targets);
  fill(own.log_lines_per_second, defaults.log_lines_per_second);
  fill(own.log_bytes_per_second, defaults.log_bytes_per_second);
  return own;
}

}  // namespace capsule

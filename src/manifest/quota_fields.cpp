#include "quota_fields.hpp"

#include <limits>

namespace capsule::manifest {

std::optional<std::string> set_quota(GuestQuotas& quotas, std::string_view key,
                                     std::optional<std::int64_t> count,
                                     std::optional<std::uint64_t> bytes) {
  if (key == "log_bytes_per_second") {
    if (count && *count > 0) bytes = static_cast<std::uint64_t>(*count);
    if (!bytes || *bytes == 0) return "expected a size like \"256KiB\" or a byte count";
    quotas.log_bytes_per_second = *bytes;
    return std::nullopt;
  }
  if (!count || *count <= 0 || *count > std::numeric_limits<std::uint32_t>::max()) {
    return "expected a positive whole number";
  }
  const auto n = static_cast<std::uint32_t>(*count);
  if (key == "messages_per_second") {
    quotas.messages_per_second = n;
  } else if (key == "pending_requests") {
    quotas.pending_requests = n;
  } else if (key == "subscriptions") {
    quotas.subscriptions = n;
  } else if (key == "broadcast_targets") {
    quotas.broadcast_targets = n;
  } else {
    quotas.log_lines_per_second = n;
  }
  return std::nullopt;
}

}  // namespace capsule::manifest

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <capsule/core/limits.hpp>

namespace capsule::manifest {

// The GuestQuotas fields a manifest may set, by the names used in [host.quotas] (the host's
// defaults) and in a component's [limits] (its overrides).
inline constexpr std::string_view kQuotaFields[] = {"messages_per_second",  "pending_requests",
                                                    "subscriptions",        "broadcast_targets",
                                                    "log_lines_per_second", "log_bytes_per_second"};

// Sets quota `key` to `value` (a positive count; for log_bytes_per_second also a size such as
// "64KiB", already turned into `bytes`). Returns what is wrong with the value, if anything.
[[nodiscard]] std::optional<std::string> set_quota(GuestQuotas& quotas, std::string_view key,
                                                   std::optional<std::int64_t> count,
                                                   std::optional<std::uint64_t> bytes);

}  // namespace capsule::manifest

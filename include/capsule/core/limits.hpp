#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace capsule {

// What one component (all its instances together, across their restarts) may ask of the host,
// per second or at once. Zero fields take the host's defaults (component::RuntimeConfig::quotas).
// A refusal is quota-exceeded for the guest, audited at most once per quota per second.
struct GuestQuotas {
  // sends + requests + publishes + broadcast targets, as a token bucket holding one second's
  // worth (so a burst of this many is allowed, then this many per second).
  std::uint32_t messages_per_second = 0;
  std::uint32_t pending_requests = 0;   // requests whose outcome has not been delivered yet
  std::uint32_t subscriptions = 0;      // topics subscribed at once
  std::uint32_t broadcast_targets = 0;  // targets in one broadcast call
  // Log lines past these are dropped, counted, and summarised in a host line.
  std::uint32_t log_lines_per_second = 0;
  std::uint64_t log_bytes_per_second = 0;
};

// The built-in defaults, for a host that sets none. The message rate sits above what one
// component can send on this class of machine (~300-450k/s in process, component_bench), so the
// default never throttles honest traffic; a host that wants a tighter ceiling sets one.
inline constexpr GuestQuotas kDefaultGuestQuotas{.messages_per_second = 1'000'000,
                                                 .pending_requests = 1024,
                                                 .subscriptions = 256,
                                                 .broadcast_targets = 1024,
                                                 .log_lines_per_second = 200,
                                                 .log_bytes_per_second = 256ULL * 1024};

// Each zero field of `own` filled from `defaults`.
[[nodiscard]] GuestQuotas merged(GuestQuotas own, const GuestQuotas& defaults) noexcept;

// Per-instance resource limits. Zero means "engine default", never "unlimited": an untrusted
// guest always runs under some bound.
struct ResourceLimits {
  std::uint64_t memory_bytes = 0;   // linear memory cap enforced by the store limiter
  std::uint64_t fuel_per_call = 0;  // instructions budget for one export call
  std::chrono::milliseconds wall_time_per_call{0};  // epoch deadline for one export call
  // Largest payload this component may hand the host: a message it sends, requests, publishes
  // or broadcasts, a reply, a storage value. Checked before the host copies it.
  std::uint64_t max_payload_bytes = 0;
  GuestQuotas quotas{};
};

// What a refused oversize payload says, naming the size, the limit and who hit it.
[[nodiscard]] std::string payload_too_large(std::uint64_t size, std::uint64_t limit,
                                            std::string_view who);

}  // namespace capsule

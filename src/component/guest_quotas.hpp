#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/result.hpp>
#include <capsule/security/access_guard.hpp>

namespace capsule::host {

// `rate` tokens per second, holding at most one second's worth.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  explicit TokenBucket(double rate) : rate_(rate), tokens_(rate), last_(Clock::now()) {}
  bool take(double n, Clock::time_point now);
  void refund(double n) { tokens_ = std::min(rate_, tokens_ + n); }

 private:
  double rate_;
  double tokens_;
  Clock::time_point last_;
};

// The quotas of one component (ns/name), shared by all its instances and kept across their
// restarts for as long as the component runs (ComponentRuntime::quota_gate). Instances call it
// from their guest calls on any worker, so it locks; release_request() is a lone atomic. A
// refusal is quota-exceeded for the guest; the audit gets at most one record per quota per
// second, counting the refusals since the previous one, not one per call.
class GuestQuotaGate {
 public:
  GuestQuotaGate(std::string component, GuestQuotas quotas, const security::AccessGuard& guard);

  Status admit_messages(const ComponentId& caller, std::uint32_t n, security::Action action);
  // A message token and a pending-request slot; release_request() gives the slot back.
  Status admit_request(const ComponentId& caller);
  void release_request() noexcept { pending_.fetch_sub(1, std::memory_order_relaxed); }
  Status admit_subscription(const ComponentId& caller, const std::string& topic);
  void release_subscription(const ComponentId& caller, const std::string& topic);
  Status admit_broadcast(const ComponentId& caller, std::size_t targets);

  struct LogVerdict {
    bool write = false;
    std::optional<std::string> notice;  // a host line to write first
  };
  LogVerdict admit_log(std::size_t bytes);

 private:
  enum Quota : std::uint8_t { kMessages, kPending, kSubscriptions, kBroadcast, kQuotaKinds };
  // Caller holds mutex_.
  Error refuse(const ComponentId& caller, Quota which, security::Action action,
               const std::string& what);
  Status take_messages(const ComponentId& caller, std::uint32_t n, security::Action action);

  const std::string component_;  // "ns/name"
  const GuestQuotas quotas_;
  const security::AccessGuard& guard_;
  std::mutex mutex_;
  TokenBucket messages_;
  std::atomic<std::uint32_t> pending_{0};
  std::unordered_set<std::string> subscriptions_;  // "<instance>|<topic>"
  struct Refusals {
    std::optional<TokenBucket::Clock::time_point> last_audit;
    std::uint64_t since_audit = 0;
  };
  std::array<Refusals, kQuotaKinds> refusals_{};
  TokenBucket log_lines_;
  TokenBucket log_bytes_;
  std::uint64_t dropped_lines_ = 0;
  std::uint64_t dropped_bytes_ = 0;
};

}  // namespace capsule::host

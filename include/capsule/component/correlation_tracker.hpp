#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <capsule/core/message.hpp>

namespace capsule::component {

// How a pending request ended.
enum class RequestOutcome : std::uint8_t { kReplied, kTimedOut, kCancelled, kFailed };

// Request latency (begin -> outcome) in fixed buckets, for a Prometheus histogram.
inline constexpr std::array<double, 12> kLatencyBucketsSeconds{
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0};

struct LatencyHistogram {
  std::array<std::uint64_t, kLatencyBucketsSeconds.size() + 1> counts{};  // last: +Inf
  double sum_seconds = 0;
  std::uint64_t count = 0;
};

struct CorrelationStats {
  std::uint64_t started = 0;
  std::uint64_t replied = 0;
  std::uint64_t timed_out = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t failed = 0;        // the responder failed or could not be reached
  std::uint64_t late_replies = 0;  // a reply arrived after the request had already ended
  std::uint64_t pending = 0;
};

// One outstanding request. `deliver` hands the single outcome to the requester (a component's
// mailbox or a host-side future); `requester` is who may cancel it.
struct PendingRequest {
  ComponentId requester;
  ComponentId target;
  std::chrono::milliseconds timeout{0};
  std::function<void(CallbackResponse)> deliver;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Pending requests by correlation id. Whatever resolves a request first (reply, timeout, cancel,
// responder failure) takes the entry out under its shard's lock; every later attempt finds
// nothing. That is the whole exactly-once guarantee: never two outcomes, and since every request
// has a deadline, never none. Sharded so that unrelated requests never contend.
class CorrelationTracker {
 public:
  CorrelationId begin(PendingRequest request);
  // Resolves `id` with `response` (its correlation field is filled in). False if already ended.
  bool resolve(CorrelationId id, CallbackResponse response, RequestOutcome outcome);
  // Ends `id` with a timeout error naming the target and the timeout. False if already ended.
  bool expire(CorrelationId id);
  // Forgets `id` without any outcome: for a request whose message could not even be sent (the
  // requester gets that error synchronously instead).
  void abandon(CorrelationId id);
  // Cancels `id` if `requester` owns it. kNotFound for unknown or already-ended ids.
  Status cancel(CorrelationId id, const ComponentId& requester);
  [[nodiscard]] bool is_pending(CorrelationId id) const;
  [[nodiscard]] CorrelationStats stats() const;
  [[nodiscard]] LatencyHistogram latency() const;

 private:
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<CorrelationId, PendingRequest> entries;
  };
  static constexpr std::size_t kShards = 64;
  Shard& shard_for(CorrelationId id) { return shards_[id % kShards]; }
  const Shard& shard_for(CorrelationId id) const { return shards_[id % kShards]; }
  std::optional<PendingRequest> take(CorrelationId id);
  void observe_latency(std::chrono::steady_clock::time_point started);

  std::array<Shard, kShards> shards_;
  std::atomic<CorrelationId> next_{1};
  std::atomic<std::uint64_t> started_{0}, replied_{0}, timed_out_{0}, cancelled_{0}, failed_{0},
      late_{0}, pending_{0};
  std::array<std::atomic<std::uint64_t>, kLatencyBucketsSeconds.size() + 1> latency_buckets_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
};

}  // namespace capsule::component

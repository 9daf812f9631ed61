#include <utility>

#include <capsule/component/correlation_tracker.hpp>

namespace capsule::component {

CorrelationId CorrelationTracker::begin(PendingRequest request) {
  const CorrelationId id = next_.fetch_add(1, std::memory_order_relaxed);
  Shard& shard = shard_for(id);
  {
    std::lock_guard lock(shard.mutex);
    shard.entries.emplace(id, std::move(request));
  }
  started_.fetch_add(1, std::memory_order_relaxed);
  pending_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

std::optional<PendingRequest> CorrelationTracker::take(CorrelationId id) {
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end()) return std::nullopt;
  PendingRequest out = std::move(it->second);
  shard.entries.erase(it);
  pending_.fetch_sub(1, std::memory_order_relaxed);
  observe_latency(out.started);
  return out;
}

void CorrelationTracker::observe_latency(std::chrono::steady_clock::time_point started) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  const double seconds = static_cast<double>(ns) / 1e9;
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[bucket])
    ++bucket;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

LatencyHistogram CorrelationTracker::latency() const {
  LatencyHistogram h;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    h.counts[i] = latency_buckets_[i].load(std::memory_order_relaxed);
    h.count += h.counts[i];
  }
  h.sum_seconds = static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return h;
}

bool CorrelationTracker::resolve(CorrelationId id, CallbackResponse response,
                                 RequestOutcome outcome) {
  auto entry = take(id);
  if (!entry) {
    if (outcome == RequestOutcome::kReplied || outcome == RequestOutcome::kFailed) {
      late_.fetch_add(1, std::memory_order_relaxed);
    }
    return false;
  }
  switch (outcome) {
    case RequestOutcome::kReplied:
      replied_.fetch_add(1, std::memory_order_relaxed);
      break;
    case RequestOutcome::kTimedOut:
      timed_out_.fetch_add(1, std::memory_order_relaxed);
      break;
    case RequestOutcome::kCancelled:
      cancelled_.fetch_add(1, std::memory_order_relaxed);
      break;
    case RequestOutcome::kFailed:
      failed_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  response.correlation = id;
  if (response.responder.name.empty()) response.responder = entry->target;
  entry->deliver(std::move(response));
  return true;
}

bool CorrelationTracker::expire(CorrelationId id) {
  auto entry = take(id);
  if (!entry) return false;
  timed_out_.fetch_add(1, std::memory_order_relaxed);
  CallbackResponse response;
  response.correlation = id;
  response.responder = entry->target;
  response.error =
      Error{ErrorCode::kTimeout, "no reply from " + entry->target.to_string() + " within " +
                                     std::to_string(entry->timeout.count()) + " ms"};
  entry->deliver(std::move(response));
  return true;
}

void CorrelationTracker::abandon(CorrelationId id) {
  if (take(id)) started_.fetch_sub(1, std::memory_order_relaxed);
}

Status CorrelationTracker::cancel(CorrelationId id, const ComponentId& requester) {
  {
    Shard& shard = shard_for(id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(id);
    if (it == shard.entries.end() || it->second.requester != requester) {
      return make_error(ErrorCode::kNotFound, "no pending request " + std::to_string(id) + " of " +
                                                  requester.to_string());
    }
  }
  // Between the check and resolve another outcome may win: then cancel reports not-found.
  CallbackResponse response;
  response.error = Error{ErrorCode::kCancelled, "request cancelled by its sender"};
  if (!resolve(id, std::move(response), RequestOutcome::kCancelled)) {
    return make_error(ErrorCode::kNotFound, "request " + std::to_string(id) + " already ended");
  }
  return ok();
}

bool CorrelationTracker::is_pending(CorrelationId id) const {
  const Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  return shard.entries.contains(id);
}

CorrelationStats CorrelationTracker::stats() const {
  return CorrelationStats{started_.load(), replied_.load(), timed_out_.load(), cancelled_.load(),
                          failed_.load(),  late_.load(),    pending_.load()};
}

}  // namespace capsule::component

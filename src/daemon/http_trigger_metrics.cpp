#include "http_trigger_metrics.hpp"

#include <algorithm>

namespace capsule::daemon {

void HttpRouteCounters::count(int status) {
  const int cls = std::clamp(status / 100, 1, 5);
  by_class_.at(static_cast<std::size_t>(cls - 1)).fetch_add(1, std::memory_order_relaxed);
}

void HttpRouteCounters::observe(int status, double seconds) {
  count(status);
  const auto& bounds = component::kLatencyBucketsSeconds;
  const auto at = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
  buckets_.at(static_cast<std::size_t>(at)).fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

HttpRouteSnapshot HttpRouteCounters::snapshot() const {
  HttpRouteSnapshot s{route_, component_, {}, {}, std::nullopt};
  for (std::size_t i = 0; i < by_class_.size(); ++i) s.by_class.at(i) = by_class_.at(i).load();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    s.latency.counts.at(i) = buckets_.at(i).load();
    total += s.latency.counts.at(i);
  }
  // The count is the sum of the buckets read, so the histogram stays consistent under updates.
  s.latency.count = total;
  s.latency.sum_seconds = static_cast<double>(sum_ns_.load()) / 1e9;
  return s;
}

}  // namespace capsule::daemon

#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <capsule/component/correlation_tracker.hpp>

#include "http_routes.hpp"

namespace capsule::daemon {

// What /metrics reports of one route (or, with route "", of requests no route took: malformed,
// too large or without a route); see docs/http.md "Metrics".
struct HttpRouteSnapshot {
  std::string route;                        // the path prefix
  std::string component;                    // "ns/name", "static", or "" for no route
  std::array<std::uint64_t, 5> by_class{};  // 1xx..5xx
  component::LatencyHistogram latency;      // handler time of the requests a handler took
  std::optional<ProxyPoolStats> pool;       // a wasi:http/proxy route's instances
};

struct HttpTriggerSnapshot {
  std::vector<HttpRouteSnapshot> routes;
  std::size_t connections = 0;
  std::uint64_t refused_connections = 0;
};

// Lock-free counters of one route, bumped on connection threads.
class HttpRouteCounters {
 public:
  HttpRouteCounters(std::string route, std::string component)
      : route_(std::move(route)), component_(std::move(component)) {}
  void count(int status);
  // A request a handler answered, after `seconds`.
  void observe(int status, double seconds);
  [[nodiscard]] HttpRouteSnapshot snapshot() const;

 private:
  std::string route_;
  std::string component_;
  std::array<std::atomic<std::uint64_t>, 5> by_class_{};
  std::array<std::atomic<std::uint64_t>, component::kLatencyBucketsSeconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace capsule::daemon

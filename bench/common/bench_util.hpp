#pragma once

// Small helpers shared by the standalone benchmark programs (timing, percentiles, bounded waits).

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

namespace capsule::bench {

using Clock = std::chrono::steady_clock;

inline double us(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

struct Percentiles {
  double p50, p99;
};

inline Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// Polls `done` until it holds or `limit` passes; false on timeout.
template <typename F>
bool wait_until(F&& done, std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace capsule::bench

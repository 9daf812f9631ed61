#pragma once

// Small helpers shared by the standalone benchmark programs (timing, percentiles, bounded waits).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
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

// The one argument of the component benchmarks: the directory of the built .wasm files. Prints
// the usage and returns nullopt when it is missing.
inline std::optional<std::filesystem::path> components_dir(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <components dir>\n", argv[0]);
    return std::nullopt;
  }
  return std::filesystem::path(argv[1]);
}

// One result line: `value` and `baseline` measured in the same run, and value / baseline.
// `width` aligns the labels of one program; `note` (optional) names the baseline.
inline void print_ratio_row(int width, const char* what, double value, double baseline,
                            const char* unit, const char* note = nullptr) {
  std::printf("%-*s %12.2f %-6s %12.2f %-6s %8.2fx", width, what, value, unit, baseline, unit,
              baseline > 0 ? value / baseline : 0.0);
  if (note != nullptr) std::printf("  (%s)", note);
  std::printf("\n");
}

}  // namespace capsule::bench

#pragma once

// Small helpers shared by the standalone benchmark programs (timing, percentiles, bounded waits).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
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

// Runs `ours` and `baseline` alternately `reps` times, so both see the same (shared, noisy)
// machine, and returns the median figure of each.
template <typename A, typename B>
std::pair<double, double> alternate_medians(int reps, A&& ours, B&& baseline) {
  std::vector<double> a, b;
  a.reserve(static_cast<std::size_t>(reps));
  b.reserve(static_cast<std::size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    a.push_back(ours());
    b.push_back(baseline());
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return {a[a.size() / 2], b[b.size() / 2]};
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

// One row of the table scripts/bench.sh prints, as a Markdown table row (so a run's output can
// be pasted into docs/benchmarks.md as it is):
//   | what is measured | capsule | baseline measured in the same run | capsule/baseline | claim |
// `claim` is a figure someone stated without measuring it here (a design seed, a goal), shown
// next to ours and never used as a baseline. Rows without a baseline print "-" there.
struct TableRow {
  std::string what;
  double ours = 0;
  std::string unit;
  std::optional<double> baseline;
  std::string baseline_what;
  std::string claim;
};

// Rates get an M/k suffix ("5.95 M msg/s"); other quantities three significant digits.
inline std::string format_value(double v, const std::string& unit) {
  char buf[64];
  const double a = v < 0 ? -v : v;
  const bool rate = unit.size() > 2 && unit.compare(unit.size() - 2, 2, "/s") == 0;
  if (rate && a >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f M", v / 1e6);
  } else if (rate && a >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.0f k", v / 1e3);
  } else if (a >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return std::string(buf) + " " + unit;
}

inline void print_table_header() {
  std::printf("| what it measures | capsule | baseline (same run) | capsule/baseline | claim |\n");
  std::printf("|---|---|---|---|---|\n");
}

inline void print_table_row(const TableRow& r) {
  std::string baseline = "-";
  std::string ratio = "-";
  if (r.baseline) {
    baseline = format_value(*r.baseline, r.unit) + " (" + r.baseline_what + ")";
    if (*r.baseline > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2fx", r.ours / *r.baseline);
      ratio = buf;
    }
  }
  std::printf("| %s | %s | %s | %s | %s |\n", r.what.c_str(), format_value(r.ours, r.unit).c_str(),
              baseline.c_str(), ratio.c_str(), r.claim.empty() ? "-" : r.claim.c_str());
  std::fflush(stdout);
}

}  // namespace capsule::bench

#pragma once

// Shared by the capsule and the CAF Savina ports (std only): a reusable completion latch and the
// timing loop, so both sides are measured the same way.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace savina {

class Latch {
 public:
  void reset(long n) {
    std::lock_guard lock(mutex_);
    count_ = n;
  }
  void arrive() {
    std::lock_guard lock(mutex_);
    if (--count_ <= 0) done_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return count_ <= 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  long count_ = 0;
};

inline int iterations_from(int argc, char** argv, int fallback = 7) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0) return std::max(1, std::atoi(argv[i + 1]));
  }
  return fallback;
}

// Runs one warm-up and `iterations` timed runs; prints a machine-readable median line.
template <typename Iteration>
int run(const char* name, int argc, char** argv, Iteration&& iteration) {
  const int iterations = iterations_from(argc, argv);
  iteration();
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    iteration();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("RESULT %s median_ms=%.3f min_ms=%.3f max_ms=%.3f runs=%d\n", name, ms[ms.size() / 2],
              ms.front(), ms.back(), iterations);
  return 0;
}

// Savina's "performComputation": a deterministic bit of floating-point work per message.
inline double compute(double theta) {
  const double sint = __builtin_sin(theta);
  return sint * sint;
}

}  // namespace savina

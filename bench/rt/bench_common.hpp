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

// Messages an actor may process per scheduler turn, the same on both sides: capsule::rt's
// default (SchedulerConfig::budget). CAF's default is unlimited; the CAF peers set
// caf.scheduler.max-throughput to this. `--budget N` changes it for both.
inline constexpr int kDefaultBudget = 64;

inline int budget_from(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--budget") == 0) return std::max(1, std::atoi(argv[i + 1]));
  }
  return kDefaultBudget;
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

// The angle compute() is given. It is read through a volatile, once per message, because with a
// literal argument (Savina's 37.2) g++ -O2 folded compute() into a constant on both sides: the
// fork-join programs did no work at all per message. `objdump -d` of the Worker handlers shows
// a call to sin() per message now (docs/benchmarks.md).
inline volatile double g_theta = 37.2;
inline double theta() {
  return g_theta;
}

// Where results go, so a computation whose value is never read cannot be dropped either.
inline volatile double g_result_sink = 0;
inline void consume(double value) {
  g_result_sink = value;
}

// The sum of `n` computations, added in the order a worker adds them: what each fork-join
// throughput worker must report, checked (not just stored) so the work is observably done.
inline double expected_sum(int n) {
  double sum = 0;
  const double one = compute(theta());
  for (int i = 0; i < n; ++i) sum += one;
  return sum;
}

}  // namespace savina

#pragma once

// Helpers of the benchmark programs that need capsule types or the process itself.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>

#include <capsule/core/result.hpp>

namespace capsule::bench {

// The value, or the error on stderr and exit(1): a benchmark that cannot set up has no numbers.
template <typename T>
T or_die(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().describe().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

// This process's resident set (VmRSS) in MiB.
inline double rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
  }
  return 0;
}

}  // namespace capsule::bench

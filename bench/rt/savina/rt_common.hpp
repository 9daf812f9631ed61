#pragma once

// What every capsule::rt Savina program shares: the system configuration, the same budget as
// the CAF peers (bench_common.hpp), printed so the comparison states its settings.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <capsule/rt/rt.hpp>

#include "../bench_common.hpp"

namespace savina_rt {

// `--linger N`: SchedulerConfig::linger_polls (capsule only; CAF has no such setting).
inline void linger_from(int argc, char** argv, capsule::rt::SchedulerConfig& scheduler) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--linger") == 0) {
      scheduler.linger_polls = static_cast<std::uint32_t>(std::max(0, std::atoi(argv[i + 1])));
    }
  }
}

// `--workers N`: a diagnosis aid (capsule only: the CAF peers always run one worker per core, as
// this side does by default, so the comparison never uses it).
inline unsigned workers_from(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--workers") == 0) {
      return static_cast<unsigned>(std::max(1, std::atoi(argv[i + 1])));
    }
  }
  return std::max(1U, std::thread::hardware_concurrency());
}

inline capsule::rt::SystemConfig system_config(int argc, char** argv) {
  capsule::rt::SystemConfig config;
  config.scheduler.budget = static_cast<std::uint32_t>(savina::budget_from(argc, argv));
  const unsigned workers = workers_from(argc, argv);
  config.scheduler.workers = workers;
  linger_from(argc, argv, config.scheduler);
  std::printf(
      "CONFIG capsule budget=%u workers=%u idle=\"a turn whose mailbox ran dry polls it up to %u "
      "times while its worker has nothing else queued, then %u steal rounds over the other "
      "queues, then park on a futex until a send or a peer with surplus work wakes it\"\n",
      config.scheduler.budget, workers, config.scheduler.linger_polls,
      config.scheduler.spin_rounds);
  return config;
}

}  // namespace savina_rt

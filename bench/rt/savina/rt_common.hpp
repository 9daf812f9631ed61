#pragma once

// What every capsule::rt Savina program shares: the system configuration, the same budget as
// the CAF peers (bench_common.hpp), printed so the comparison states its settings.
#include <algorithm>
#include <cstdio>
#include <thread>

#include <capsule/rt/rt.hpp>

#include "../bench_common.hpp"

namespace savina_rt {

inline capsule::rt::SystemConfig system_config(int argc, char** argv) {
  capsule::rt::SystemConfig config;
  config.scheduler.budget = static_cast<std::uint32_t>(savina::budget_from(argc, argv));
  const unsigned workers = std::max(1U, std::thread::hardware_concurrency());
  config.scheduler.workers = workers;
  std::printf(
      "CONFIG capsule budget=%u workers=%u idle=\"%u steal rounds over the other queues, then "
      "park on a futex until a send or a peer with surplus work wakes it\"\n",
      config.scheduler.budget, workers, config.scheduler.spin_rounds);
  return config;
}

}  // namespace savina_rt

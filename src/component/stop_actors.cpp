#include "stop_actors.hpp"

#include <algorithm>
#include <thread>

namespace capsule::component {

void stop_and_reap(rt::ActorSystem& system, const std::vector<rt::ActorAddress>& stop,
                   const std::vector<rt::ActorAddress>& watch, std::chrono::milliseconds grace) {
  for (const auto& address : stop) system.stop(address, rt::StopMode::kGraceful, grace);
  const auto wait_until_gone = [&](std::chrono::steady_clock::time_point deadline) {
    while (std::chrono::steady_clock::now() < deadline &&
           std::any_of(watch.begin(), watch.end(), [](const auto& a) { return a.alive(); })) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  wait_until_gone(std::chrono::steady_clock::now() + grace);
  for (const auto& address : watch) {
    if (address.alive()) system.kill(address);
  }
  wait_until_gone(std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

}  // namespace capsule::component

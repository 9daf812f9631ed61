#pragma once

#include <chrono>
#include <vector>

#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/actor_system.hpp>

namespace capsule::component {

// Ends a set of actors the way an owner that they point to must before it goes away (the runtime,
// an on-demand component's directory): a graceful stop of `stop` (each within `grace`), a wait
// until every one of `watch` has ended, a kill of those still alive after the grace, and a last
// wait of at most 5 s. `watch` includes `stop` or what stopping it ends (a supervisor's members).
void stop_and_reap(rt::ActorSystem& system, const std::vector<rt::ActorAddress>& stop,
                   const std::vector<rt::ActorAddress>& watch, std::chrono::milliseconds grace);

}  // namespace capsule::component

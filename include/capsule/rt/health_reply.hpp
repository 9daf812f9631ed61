#pragma once

#include <capsule/core/health.hpp>
#include <capsule/rt/actor_address.hpp>

namespace capsule::rt {

// The answer to one health probe by a supervisor. An actor may send it later, from any thread
// (Actor::check_health): a probe still unanswered when the supervisor's next one is due counts as
// failed, as an actor that did not answer at all. Send once; a second send is ignored.
class HealthReply {
 public:
  HealthReply() = default;
  HealthReply(ActorAddress prober, ActorAddress probed)
      : prober_(std::move(prober)), probed_(std::move(probed)) {}

  void send(HealthStatus status);
  [[nodiscard]] bool pending() const noexcept { return prober_.valid(); }

 private:
  ActorAddress prober_;
  ActorAddress probed_;
};

}  // namespace capsule::rt

#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include <capsule/core/error.hpp>
#include <capsule/core/health.hpp>
#include <capsule/rt/actor_address.hpp>

namespace capsule::rt {

enum class ExitReason : std::uint8_t {
  kNormal,    // stopped on request or by its own choice
  kFailed,    // a handler failed and the error hook chose Stop/Restart/Escalate
  kShutdown,  // the system or its supervisor shut it down
  kKilled,    // stopped immediately (mailbox not drained) or a graceful stop timed out
  kNoProc,    // (links and watches only) the target had already terminated: Erlang's noproc
};

using capsule::HealthStatus;

[[nodiscard]] std::string_view to_string(ExitReason reason) noexcept;

// Out-of-band notification delivered to Actor::on_signal, ahead of ordinary messages.
struct Signal {
  enum class Kind : std::uint8_t {
    kDown,            // a watched actor terminated for good
    kExit,            // a linked actor's incarnation ended (delivered only while trapping exits)
    kFailed,          // a watched actor failed (its supervisor may restart it)
    kChildFailed,     // (supervisors) a child failed; `escalate` says it asked to escalate
    kChildExited,     // (supervisors) a child stopped normally and awaits a decision
    kChildDown,       // (supervisors) a child terminated for good
    kChildSuspended,  // (supervisors) a child asked to suspend has ended its incarnation
    kHealthReport,    // (supervisors) reply to a health probe
  };
  Signal() = default;
  Signal(Kind k, ActorAddress sender, ExitReason why, std::optional<Error> err = std::nullopt,
         bool escalates = false)
      : kind(k), from(std::move(sender)), reason(why), error(std::move(err)), escalate(escalates) {}

  Kind kind = Kind::kDown;
  ActorAddress from;
  ExitReason reason = ExitReason::kNormal;
  std::optional<Error> error;
  bool escalate = false;
  HealthStatus health = HealthStatus::kHealthy;
};

}  // namespace capsule::rt

// How an actor's incarnation ends: exit to the supervisor, restart in place, graceful stop,
// suspension for a restart, termination.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>

namespace capsule::rt::detail {

void ActorCellBase::notify_watchers(Signal::Kind kind, ExitReason reason,
                                    const std::optional<Error>& error) {
  if (watchers_.empty()) return;
  const ActorAddress self = address();
  for (const auto& watcher : watchers_) {
    watcher.cell()->post(SystemMessage{Signal{kind, self, reason, error}});
  }
}

// The actor's current incarnation ends. Supervised: suspend (mailbox kept) and let the supervisor
// decide. Unsupervised: restart in place on failure, otherwise terminate.
void ActorCellBase::exit_self(ExitReason reason, std::optional<Error> error, bool escalate) {
  if (reason == ExitReason::kFailed) {
    if (telemetry_->observed()) {
      telemetry_->emit(MonitoringEvent{EventKind::kActorFailed, id_, name_, parent_.id(), error,
                                       escalate ? "escalate" : "restart"});
    }
    notify_watchers(Signal::Kind::kFailed, reason, error);
  }
  if (phase_ == Phase::kStopping) {
    // Whoever asked for the stop decided already: an error while draining ends the actor with
    // that error (no restart, no report to the supervisor that would leave it suspended).
    terminate(reason == ExitReason::kFailed ? ExitReason::kFailed : stop_reason_, std::move(error));
    return;
  }
  // The incarnation ends here, with this reason, for every link it holds.
  break_links(reason, error);
  if (phase_ == Phase::kSuspending) {
    finish_suspend();  // its supervisor restarts it anyway: no second report
    return;
  }
  stop_behavior();
  if (parent_) {
    phase_ = Phase::kSuspended;
    SystemMessage msg{Signal{
        reason == ExitReason::kFailed ? Signal::Kind::kChildFailed : Signal::Kind::kChildExited,
        address(), reason, error, escalate}};
    if (parent_.cell()->post(std::move(msg))) return;
  }
  if (reason == ExitReason::kFailed && !escalate && !parent_) {
    Status status = start_behavior();
    if (status) {
      phase_ = Phase::kRunning;
      return;
    }
    error = std::move(status).error();
  }
  terminate(reason, std::move(error));
}

void ActorCellBase::restart_in_place() {
  // A running incarnation ends here (a suspended one broke its links when it ended; what it holds
  // now was linked with the next incarnation). Like OTP's restart: shut down, then started.
  if (phase_ == Phase::kRunning) break_links(ExitReason::kShutdown, std::nullopt);
  stop_behavior();
  Status status = start_behavior();
  if (status) {
    phase_ = Phase::kRunning;
    return;
  }
  // A failing pre_start counts as one more failure for the supervisor.
  phase_ = Phase::kRunning;
  exit_self(ExitReason::kFailed, std::move(status).error(), false);
}

void ActorCellBase::begin_stop(StopOrigin origin, bool graceful) {
  // Like OTP's `shutdown` exit: the system or the supervisor ended it, not the actor itself.
  const ExitReason reason = !graceful && origin != StopOrigin::kShutdown ? ExitReason::kKilled
                            : origin == StopOrigin::kRequest             ? ExitReason::kNormal
                                                                         : ExitReason::kShutdown;
  if (graceful && (phase_ == Phase::kRunning || phase_ == Phase::kSuspending)) {
    const bool told = phase_ == Phase::kSuspending;  // on_stopping ran for the suspension
    phase_ = Phase::kStopping;
    stop_reason_ = reason;
    suspend_requester_ = ActorAddress{};  // it gets the Down instead of an acknowledgement
    closing_.store(true, std::memory_order_release);
    if (!told) notify_stopping();
    return;  // run_turn terminates once the mailbox is drained and no wait is pending
  }
  terminate(reason, std::nullopt);
}

void ActorCellBase::begin_suspend(ActorAddress requester) {
  // A handler's own wait ends with its incarnation, as a restart always did; the behaviour may
  // start a wait of its own for its wind-down (see Actor::on_stopping).
  end_wait();
  phase_ = Phase::kSuspending;
  suspend_requester_ = std::move(requester);
  notify_stopping();
  if (phase_ == Phase::kSuspending && !awaiting_) finish_suspend();
}

void ActorCellBase::finish_suspend() {
  // Suspended for a sibling's restart: OTP would shut this child down, so its peers see kShutdown.
  // (Already suspended: what it holds was linked with the next incarnation.)
  if (phase_ != Phase::kSuspended) break_links(ExitReason::kShutdown, std::nullopt);
  stop_behavior();
  phase_ = Phase::kSuspended;
  if (suspend_requester_) {
    suspend_requester_.cell()->post(
        SystemMessage{Signal{Signal::Kind::kChildSuspended, address(), ExitReason::kNormal}});
    suspend_requester_ = ActorAddress{};
  }
}

void ActorCellBase::terminate(ExitReason reason, std::optional<Error> error) {
  stop_behavior();
  release_factory();
  phase_ = Phase::kTerminated;
  stop_reason_ = reason;
  std::vector<SystemMessage> late;
  {
    std::lock_guard lock(system_mutex_);
    terminated_.store(true, std::memory_order_release);
    late.swap(system_queue_);
    system_pending_.store(0, std::memory_order_relaxed);
  }
  close_mailbox();
  drain_mailbox();
  // System messages that raced with termination: answer watch requests, drop the rest.
  for (auto& msg : late) handle_system_message(msg);
  if (!name_.empty()) system_->registry().unbind(name_, id_);
  break_links(reason, error);
  notify_watchers(Signal::Kind::kDown, reason, error);
  watchers_.clear();
  if (parent_) {
    parent_.cell()->post(SystemMessage{Signal{Signal::Kind::kChildDown, address(), reason, error}});
  }
  if (telemetry_->observed()) {
    telemetry_->emit(MonitoringEvent{EventKind::kActorStopped, id_, name_, parent_.id(),
                                     std::move(error), std::string(to_string(reason))});
  }
}

void ActorCellBase::force_terminate() {
  if (phase_ != Phase::kTerminated) terminate(ExitReason::kKilled, std::nullopt);
}

}  // namespace capsule::rt::detail

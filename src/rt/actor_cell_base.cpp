#include <algorithm>
#include <string>
#include <utility>

#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/scheduler.hpp>

namespace capsule::rt::detail {

ActorCellBase::ActorCellBase(ActorSystem& system, ActorId id, std::string name, ActorAddress parent)
    : id_(id),
      system_(&system),
      telemetry_(system.telemetry()),
      name_(std::move(name)),
      parent_(std::move(parent)) {}

bool ActorCellBase::on_scheduler_thread() noexcept {
  return Scheduler::on_worker_thread();
}

void ActorCellBase::schedule() {
  system_->scheduler().schedule(this);
}

void ActorCellBase::report_rejected(DeadLetterReason reason) {
  telemetry_->dead_letter(DeadLetter{id_, name_, std::string(message_type()), reason});
}

void ActorCellBase::report_drop(bool newest) {
  if (telemetry_->observed()) {
    telemetry_->emit(MonitoringEvent{EventKind::kMessageDropped, id_, name_, 0, std::nullopt,
                                     newest ? "drop-newest" : "drop-oldest"});
  }
  report_rejected(DeadLetterReason::kMailboxFull);
}

void ActorCellBase::report_backpressure() {
  if (telemetry_->observed()) {
    telemetry_->emit(MonitoringEvent{EventKind::kMailboxBackpressure, id_, name_, 0, std::nullopt,
                                     "mailbox full"});
  }
}

bool ActorCellBase::post(SystemMessage msg) {
  {
    // terminated_ is flipped under this lock too, so nothing is queued after the final sweep.
    std::lock_guard lock(system_mutex_);
    if (terminated_.load(std::memory_order_relaxed)) return false;
    system_queue_.push_back(std::move(msg));
    system_pending_.fetch_add(1, std::memory_order_release);
  }
  if (!scheduled_.exchange(true, std::memory_order_acq_rel)) schedule();
  return true;
}

void ActorCellBase::watch(const ActorAddress& target) {
  if (!target) return;
  SystemMessage msg{SystemMessage::Kind::kWatch};
  msg.peer = address();
  if (!target.cell()->post(std::move(msg))) {
    // Already gone: the watcher still learns about it, like Erlang's monitor on a dead pid.
    Signal down{Signal::Kind::kDown, target, ExitReason::kNormal};
    SystemMessage note{SystemMessage::Kind::kSignal};
    note.signal = std::move(down);
    post(std::move(note));
  }
}

void ActorCellBase::unwatch(const ActorAddress& target) {
  if (!target) return;
  SystemMessage msg{SystemMessage::Kind::kUnwatch};
  msg.peer = address();
  target.cell()->post(std::move(msg));
}

void ActorCellBase::finish_start() {
  phase_ = Phase::kRunning;
  if (telemetry_->observed()) {
    telemetry_->emit(MonitoringEvent{EventKind::kActorStarted, id_, name_, parent_.id(),
                                     std::nullopt, std::string(message_type())});
  }
  // Same hand-off as the end of a turn: anything queued during pre_start gets a turn now.
  scheduled_.exchange(false, std::memory_order_seq_cst);
  const bool work = system_pending_.load(std::memory_order_acquire) > 0 || mailbox_maybe_nonempty();
  if (work && !scheduled_.exchange(true, std::memory_order_acq_rel)) schedule();
}

void ActorCellBase::abort_start() {
  phase_ = Phase::kTerminated;
  {
    std::lock_guard lock(system_mutex_);
    terminated_.store(true, std::memory_order_release);
    system_queue_.clear();
  }
  close_mailbox();
  drain_mailbox();
}

ActorCellBase::TurnResult ActorCellBase::run_turn(std::uint32_t budget) {
  if (system_pending_.load(std::memory_order_acquire) > 0) {
    std::vector<SystemMessage> batch;
    {
      std::lock_guard lock(system_mutex_);
      batch.swap(system_queue_);
      system_pending_.store(0, std::memory_order_relaxed);
    }
    for (auto& msg : batch) handle_system_message(msg);
  }
  std::uint32_t done = 0;
  if (processing()) {
    done = process(budget);
    // A graceful stop waits for a suspended handler too: its work finishes (or times out) first.
    if (phase_ == Phase::kStopping && !awaiting_ && mailbox_empty()) {
      terminate(stop_reason_, std::nullopt);
    }
  }
  if (phase_ == Phase::kTerminated) return TurnResult::kTerminated;
  if (done >= budget || interrupted()) return TurnResult::kReschedule;
  // Going idle. The exchange pairs with the producers' exchange in notify_enqueued(): either they
  // see `false` and schedule us, or we see their message here and keep the turn going. Once the
  // flag is released another worker may own the cell: only producer-side state is read below.
  const bool can_process = processing() && !awaiting_;
  // The next owner may terminate the cell and drop the system's reference while we look.
  const auto keep_alive = shared_from_this();
  scheduled_.exchange(false, std::memory_order_seq_cst);
  const bool work = system_pending_.load(std::memory_order_acquire) > 0 ||
                    (can_process && mailbox_maybe_nonempty());
  if (work && !scheduled_.exchange(true, std::memory_order_acq_rel)) {
    return TurnResult::kReschedule;
  }
  return TurnResult::kIdle;
}

bool ActorCellBase::after_handler(Status status) {
  if (!status) {
    Error error = std::move(status).error();
    const ErrorAction action = decide(error);
    switch (action) {
      case ErrorAction::kResume:
        if (telemetry_->observed()) {
          telemetry_->emit(
              MonitoringEvent{EventKind::kActorFailed, id_, name_, parent_.id(), error, "resume"});
        }
        break;
      case ErrorAction::kStop:
        self_stop_requested_ = false;
        exit_self(ExitReason::kNormal, std::move(error), false);
        return false;
      case ErrorAction::kRestart:
        self_stop_requested_ = false;
        exit_self(ExitReason::kFailed, std::move(error), false);
        return false;
      case ErrorAction::kEscalate:
        self_stop_requested_ = false;
        exit_self(ExitReason::kFailed, std::move(error), true);
        return false;
    }
  }
  if (self_stop_requested_) {
    self_stop_requested_ = false;
    if (parent_) {
      exit_self(ExitReason::kNormal, std::nullopt, false);
    } else {
      begin_stop(StopOrigin::kRequest, true);
    }
    return processing();
  }
  return true;
}

void ActorCellBase::notify_watchers(Signal::Kind kind, ExitReason reason,
                                    const std::optional<Error>& error) {
  if (watchers_.empty()) return;
  const ActorAddress self = address();
  for (const auto& watcher : watchers_) {
    SystemMessage msg{SystemMessage::Kind::kSignal};
    msg.signal = Signal{kind, self, reason, error};
    watcher.cell()->post(std::move(msg));
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
  stop_behavior();
  if (parent_) {
    phase_ = Phase::kSuspended;
    SystemMessage msg{SystemMessage::Kind::kSignal};
    msg.signal = Signal{
        reason == ExitReason::kFailed ? Signal::Kind::kChildFailed : Signal::Kind::kChildExited,
        address(), reason, error, escalate};
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
  const ExitReason reason = origin == StopOrigin::kShutdown ? ExitReason::kShutdown
                            : graceful                      ? ExitReason::kNormal
                                                            : ExitReason::kKilled;
  if (graceful && phase_ == Phase::kRunning) {
    phase_ = Phase::kStopping;
    stop_reason_ = reason;
    closing_.store(true, std::memory_order_release);
    return;  // run_turn terminates once the mailbox is drained
  }
  terminate(reason, std::nullopt);
}

void ActorCellBase::handle_system_message(SystemMessage& msg) {
  using Kind = SystemMessage::Kind;
  if (phase_ == Phase::kTerminated) {
    if (msg.kind == Kind::kWatch && msg.peer) {
      SystemMessage note{Kind::kSignal};
      note.signal = Signal{Signal::Kind::kDown, address(), stop_reason_};
      msg.peer.cell()->post(std::move(note));
    }
    return;
  }
  switch (msg.kind) {
    case Kind::kStop:
      if (parent_ && msg.origin == StopOrigin::kRequest) {
        if (phase_ == Phase::kRunning) exit_self(ExitReason::kNormal, std::nullopt, false);
      } else if (phase_ != Phase::kStopping || !msg.graceful) {
        begin_stop(msg.origin, msg.graceful);
      }
      break;
    case Kind::kKill:
      // Only ends a graceful stop that outlived its timeout.
      if (phase_ == Phase::kStopping) terminate(ExitReason::kKilled, std::nullopt);
      break;
    case Kind::kRestart:
      if (phase_ == Phase::kSuspended || phase_ == Phase::kRunning) restart_in_place();
      break;
    case Kind::kSuspend:
      if (phase_ == Phase::kRunning) {
        stop_behavior();
        phase_ = Phase::kSuspended;
      }
      break;
    case Kind::kWatch:
      if (msg.peer) watchers_.push_back(std::move(msg.peer));
      break;
    case Kind::kUnwatch: {
      auto it = std::find(watchers_.begin(), watchers_.end(), msg.peer);
      if (it != watchers_.end()) watchers_.erase(it);
      break;
    }
    case Kind::kSignal:
      if (processing()) deliver_signal(msg.signal);
      break;
    case Kind::kResume:
      resume_posted_.store(false, std::memory_order_release);
      if (processing() && awaiting_) {
        awaiting_ = false;
        deliver_resume();
      }
      break;
    case Kind::kHealthProbe:
      if (msg.peer) {
        SystemMessage reply{Kind::kSignal};
        reply.signal = Signal{Signal::Kind::kHealthReport, address(), ExitReason::kNormal};
        reply.signal.health = phase_ == Phase::kRunning ? probe_health() : HealthStatus::kDegraded;
        msg.peer.cell()->post(std::move(reply));
      }
      break;
  }
}

void ActorCellBase::terminate(ExitReason reason, std::optional<Error> error) {
  stop_behavior();
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
  notify_watchers(Signal::Kind::kDown, reason, error);
  watchers_.clear();
  if (parent_) {
    SystemMessage msg{SystemMessage::Kind::kSignal};
    msg.signal = Signal{Signal::Kind::kChildDown, address(), reason, error};
    parent_.cell()->post(std::move(msg));
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

namespace capsule::rt {

void ResumeHandle::resume() const noexcept {
  if (auto cell = cell_.lock()) {
    try {
      cell->resume();
    } catch (...) {  // NOLINT(bugprone-empty-catch): allocation failure; the wait then times out
    }
  }
}

}  // namespace capsule::rt

namespace capsule::rt::detail {

void ActorCellBase::release(ActorCellBase* cell) {
  // Last statement: forget() may drop the final reference and destroy the cell.
  ActorSystem& system = *cell->system_;
  system.forget(cell->id_);
}

}  // namespace capsule::rt::detail

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/scheduler.hpp>

namespace capsule::rt::detail {
namespace {
// See actor_cell_links.cpp: no std::nullopt temporary for an exit without an error.
const std::optional<Error> kNoError;
}  // namespace

ActorCellBase::ActorCellBase(ActorSystem& system, ActorId id, std::string name, ActorAddress parent)
    : id_(id),
      system_(&system),
      telemetry_(system.telemetry()),
      name_(std::move(name)),
      parent_(std::move(parent)) {}

namespace {
// True while this (non-worker) thread runs an actor's turn itself (notify_enqueued_run_here):
// the turn then obeys the workers' rules (a send never waits for room), and nests no inline turn.
thread_local bool t_inline_turn = false;
}  // namespace

bool ActorCellBase::on_scheduler_thread() noexcept {
  return t_inline_turn || Scheduler::on_worker_thread();
}

void ActorCellBase::notify_enqueued_run_here() {
  if (on_scheduler_thread() || system_->shutting_down()) {
    notify_enqueued();
    return;
  }
  // The same claim a producer makes before scheduling the cell: whoever flips the flag owns the
  // next turn, so this never runs beside a worker's turn of the same actor (one handler at a
  // time, mailbox order kept: the turn takes the mailbox from its head).
  if (scheduled_.exchange(true, std::memory_order_seq_cst)) return;
  // release() below may drop the system's reference while this frame still uses the cell.
  const auto keep_alive = shared_from_this();
  t_inline_turn = true;
  // One message: this thread came for its own; later ones are for a worker, not for it.
  const TurnResult result = run_turn(1);
  t_inline_turn = false;
  switch (result) {
    case TurnResult::kIdle:
      break;
    case TurnResult::kReschedule:
      schedule();  // still owned: flagged scheduled, handed to a worker as any runnable actor
      break;
    case TurnResult::kTerminated:
      release(this);
      break;
  }
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
    Signal down{Signal::Kind::kDown, target, ExitReason::kNoProc};
    post(SystemMessage{std::move(down)});
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
  // Links made by the failed pre_start: its peers hear that it failed.
  break_links(ExitReason::kFailed, std::nullopt);
  phase_ = Phase::kTerminated;
  {
    std::lock_guard lock(system_mutex_);
    terminated_.store(true, std::memory_order_release);
    system_queue_.clear();
  }
  close_mailbox();
  drain_mailbox();
}

ActorCellBase::TurnResult ActorCellBase::run_turn(std::uint32_t budget,
                                                  std::uint32_t linger_polls) {
  if (system_pending_.load(std::memory_order_acquire) > 0) {
    std::vector<SystemMessage> batch;
    {
      std::lock_guard lock(system_mutex_);
      batch.swap(system_queue_);
      system_pending_.store(0, std::memory_order_relaxed);
    }
    for (auto& msg : batch) handle_system_message(msg);
  }
  // A suspension that waited for the behaviour's own wind-down ends once it was resumed.
  if (phase_ == Phase::kSuspending && !awaiting_) finish_suspend();
  std::uint32_t done = 0;
  if (processing()) {
    done = process(budget);
    // Only after a turn that found a backlog (more than one message): a stream. A turn of one
    // message (a request, one of many actors fed in turn) gives the worker up at once.
    if (done > 1 && done < budget && linger_polls > 0) done += linger(budget - done, linger_polls);
    // A graceful stop waits for a suspended handler too: its work finishes (or times out) first.
    if (phase_ == Phase::kStopping && !awaiting_ && mailbox_empty()) {
      terminate(stop_reason_, std::nullopt);
    }
  }
  if (phase_ == Phase::kTerminated) return TurnResult::kTerminated;
  // A spent budget with nothing left queued goes idle like any turn (an inline turn's budget is
  // its one message: rescheduling it would hand a worker an empty turn).
  if ((done >= budget && mailbox_maybe_nonempty()) || interrupted()) {
    return TurnResult::kReschedule;
  }
  // Going idle. The exchange pairs with the producers' exchange in notify_enqueued(): either they
  // see `false` and schedule us, or we see their message here and keep the turn going. Once the
  // flag is released another worker may own the cell: only producer-side state is read below.
  const bool can_process = processing() && !awaiting_;
  // The next owner may terminate the cell and drop the system's reference while we look: it
  // waits for this read to end (Scheduler::begin_hand_back; an inline turn's caller holds a
  // reference instead).
  Scheduler::begin_hand_back(this);
  scheduled_.exchange(false, std::memory_order_seq_cst);
  const bool work = system_pending_.load(std::memory_order_acquire) > 0 ||
                    (can_process && mailbox_maybe_nonempty());
  const bool reclaimed = work && !scheduled_.exchange(true, std::memory_order_acq_rel);
  Scheduler::end_hand_back();
  return reclaimed ? TurnResult::kReschedule : TurnResult::kIdle;
}

// The mailbox ran dry before the budget did. A producer that is still sending would otherwise
// find the actor idle every few messages and make it runnable again (a run-queue push, perhaps a
// worker's wake-up: the sender's cost, per catch-up). A worker with nothing else to run would
// spin looking for work anyway; it first polls this mailbox, so such a producer finds the turn
// still held and pays nothing. Anything else for the worker to do (its queue, its run-next slot),
// a system message, or the end of the behaviour ends the wait; the budget still bounds the turn.
std::uint32_t ActorCellBase::linger(std::uint32_t budget_left, std::uint32_t polls) {
  std::uint32_t done = 0;
  for (std::uint32_t poll = 0; poll < polls && done < budget_left; ++poll) {
    // Running only: a stopping actor is about to terminate once its mailbox is empty.
    if (phase_ != Phase::kRunning || interrupted() || awaiting_ ||
        Scheduler::local_work_waiting()) {
      break;
    }
    if (!mailbox_ready()) {
      Scheduler::cpu_relax();
      continue;
    }
    done += process(budget_left - done);
    poll = 0;  // the producer is still at it: wait for the next message as long again
  }
  return done;
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
    // Stopping or suspending already: that ending goes on (turning a drain into an exit for
    // the supervisor would strand the actor, which its supervisor already let go).
    if (phase_ == Phase::kRunning) {
      if (parent_) {
        exit_self(ExitReason::kNormal, std::nullopt, false);
      } else {
        begin_stop(StopOrigin::kRequest, true);
      }
    }
    return processing();
  }
  return true;
}

void ActorCellBase::handle_system_message(SystemMessage& msg) {
  using Kind = SystemMessage::Kind;
  if (phase_ == Phase::kTerminated) {
    if (msg.kind == Kind::kWatch && msg.peer) {
      msg.peer.cell()->post(SystemMessage{Signal{Signal::Kind::kDown, address(), stop_reason_}});
    }
    // Linked after this actor ended (the linker saw it alive): noproc, as in Erlang.
    if (msg.kind == Kind::kLink && msg.peer) {
      send_exit(msg.peer, address(), ExitReason::kNoProc, kNoError);
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
      // Sent when a graceful stop outlived its timeout. It ends the actor whatever it turned
      // into meanwhile: nothing may keep a stopped actor alive.
      terminate(ExitReason::kKilled, std::nullopt);
      break;
    case Kind::kRestart:
      if (phase_ == Phase::kSuspended || phase_ == Phase::kRunning) restart_in_place();
      break;
    case Kind::kSuspend:
      // The supervisor waits for the acknowledgement before it restarts anyone. Suspending: it
      // comes from finish_suspend; stopping: the Down answers instead.
      if (phase_ == Phase::kRunning) {
        begin_suspend(std::move(msg.peer));
      } else if (phase_ == Phase::kSuspended) {
        suspend_requester_ = std::move(msg.peer);
        finish_suspend();
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
      if (behaving()) deliver_signal(msg.signal);
      break;
    case Kind::kResume:
      resume_posted_.store(false, std::memory_order_release);
      if (behaving() && awaiting_) {
        awaiting_ = false;
        deliver_resume();
      }
      break;
    case Kind::kLink:
      // Also while suspended: the peer links with the next incarnation (the one it will meet).
      if (msg.peer) add_link(msg.peer);
      break;
    case Kind::kUnlink:
      remove_link(msg.peer);
      break;
    case Kind::kExit:
      on_exit_signal(msg.signal);
      break;
    case Kind::kLinkTo:
      link(msg.peer);
      break;
    case Kind::kUnlinkFrom:
      unlink(msg.peer);
      break;
    case Kind::kHealthProbe:
      if (msg.peer) {
        HealthReply reply(msg.peer, address());
        if (phase_ == Phase::kRunning) {
          probe_health(std::move(reply));
        } else {
          reply.send(HealthStatus::kDegraded);
        }
      }
      break;
  }
}

}  // namespace capsule::rt::detail

namespace capsule::rt {

void HealthReply::send(HealthStatus status) {
  if (!prober_) return;
  Signal report{Signal::Kind::kHealthReport, probed_, ExitReason::kNormal};
  report.health = status;
  static_cast<void>(prober_.cell()->post(detail::SystemMessage{std::move(report)}));
  prober_ = ActorAddress{};
}

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
  system.forget(*cell);
}

}  // namespace capsule::rt::detail

// What a SupervisorNode does when a child ends: restart decisions (one round of restarts per
// decision, after every old incarnation it covers ended), the restart intensity, giving up, and
// the orderly stop of every child (reverse start order, one at a time).
#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>

#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/supervisor.hpp>

namespace capsule::rt {

namespace {
using Clock = std::chrono::steady_clock;

void post_to(const ActorAddress& target, detail::SystemMessage msg) {
  if (target) static_cast<void>(target.cell()->post(std::move(msg)));
}
}  // namespace

Status SupervisorNode::on_signal(const Signal& signal, Ctx& ctx) {
  const auto index = index_of(signal.from);
  if (index < 0) return ok();  // a child of an earlier incarnation, or already removed
  const auto i = static_cast<std::size_t>(index);
  auto& child = children_[i];
  switch (signal.kind) {
    case Signal::Kind::kChildFailed:
    case Signal::Kind::kChildExited:
      return on_child_exit(i, signal, ctx);
    case Signal::Kind::kChildDown:
      return on_child_down(i, ctx);
    case Signal::Kind::kChildSuspended:
      // Ignored when it is being stopped meanwhile: its Down is what counts then.
      if (child.life != Life::kSuspending) return ok();
      child.life = Life::kSuspended;
      return child.round != 0 ? advance(child.round, ctx) : ok();
    case Signal::Kind::kHealthReport:
      child.probe_outstanding = false;
      if (signal.health == HealthStatus::kHealthy || state_of(child) != ChildState::kRunning) {
        return ok();
      }
      emit(EventKind::kHealthCheckFailed, child, ctx, std::nullopt,
           std::string(to_string(signal.health)));
      return restart(i, "failed its health check (" + std::string(to_string(signal.health)) + ")",
                     ctx);
    case Signal::Kind::kDown:
    case Signal::Kind::kFailed:
    case Signal::Kind::kExit:  // supervisors make no links
      return ok();
  }
  return ok();
}

void SupervisorNode::on_stopping(Ctx& ctx) {
  if (mode_ == Mode::kSupervising) {
    mode_ = Mode::kStopping;
    wind_down();
  }
  // Giving up already: that sequence goes on, and its failure then ends the stop.
  if (children_.empty()) return;
  ctx.await_resume();  // our stop (or suspension) completes when the last child is down
  static_cast<void>(stop_next(ctx));  // fails only once no child is left
}

Status SupervisorNode::on_child_exit(std::size_t index, const Signal& signal, Ctx& ctx) {
  auto& child = children_[index];
  // Its incarnation ended; the cell waits, suspended. An acknowledgement asked for still comes.
  if (child.life == Life::kLive) child.life = Life::kSuspended;
  // Stopping every child: it is stopped in its turn, not restarted.
  if (mode_ != Mode::kSupervising) return ok();
  // Covered by a restart decided earlier (e.g. a sibling of a one_for_all restart that failed
  // on its own meanwhile): that restart brings it back; it is not counted a second time.
  if (child.round != 0) return advance(child.round, ctx);
  if (signal.escalate) {
    return give_up(Error{signal.error ? signal.error->code : ErrorCode::kInternal,
                         "child '" + child.spec->id + "' escalated: " +
                             (signal.error ? signal.error->message : std::string("no error"))},
                   ctx);
  }
  const bool failed = signal.reason == ExitReason::kFailed;
  const bool wanted = child.spec->restart == RestartPolicy::kPermanent ||
                      (child.spec->restart == RestartPolicy::kTransient && failed);
  if (!wanted) {
    auto gone = forget_child(index);
    stop_child(gone, ctx.system());
    return ok();
  }
  const std::string what =
      signal.error ? signal.error->describe() : std::string(to_string(signal.reason));
  return restart(index, (failed ? "failed: " : "exited: ") + what, ctx);
}

Status SupervisorNode::on_child_down(std::size_t index, Ctx& ctx) {
  auto gone = forget_child(index);
  gone.kill_timer.cancel();
  if (mode_ != Mode::kSupervising) return stop_next(ctx);
  // Gone for good without our decision (e.g. killed): forget it; its restart round goes on.
  return gone.round != 0 ? advance(gone.round, ctx) : ok();
}

Status SupervisorNode::restart(std::size_t index, const std::string& why, Ctx& ctx) {
  const auto now = Clock::now();
  const auto horizon = now - config_.window;
  while (!restarts_.empty() && restarts_.front() < horizon) restarts_.pop_front();
  restarts_.push_back(now);
  auto& failed = children_[index];
  if (restarts_.size() > config_.max_restarts) {
    Error reason{ErrorCode::kUnavailable, "gave up: more than " + intensity_text() +
                                              "; last failure: child '" + failed.spec->id + "' " +
                                              why};
    // Reported when decided: the children may take a while to stop.
    emit(EventKind::kRestartLimitExceeded, failed, ctx, reason, intensity_text());
    return give_up(std::move(reason), ctx);
  }
  std::erase_if(failed.recent, [&](auto at) { return at < horizon; });
  failed.recent.push_back(now);

  std::size_t first = index;
  std::size_t last = index + 1;
  if (config_.strategy == RestartStrategy::kOneForAll) {
    first = 0;
    last = children_.size();
  } else if (config_.strategy == RestartStrategy::kRestForOne) {
    last = children_.size();
  }
  const std::uint64_t id = next_round_++;
  // A round's children are contiguous and this range is taken whole, so an earlier round it
  // overlaps (rest_for_one) lies entirely inside it: that decision is superseded by this one.
  std::unordered_set<std::uint64_t> superseded;
  for (std::size_t i = first; i < last; ++i) {
    auto& child = children_[i];
    if (child.round != 0) superseded.insert(child.round);
    child.round = id;
    child.probe_outstanding = false;
  }
  std::erase_if(rounds_, [&superseded](Round& r) {
    if (!superseded.contains(r.id)) return false;
    r.timer.cancel();
    return true;
  });
  rounds_.push_back(Round{id, backoff_delay(failed.recent.size()), last, false, {}});
  return advance(id, ctx);
}

Status SupervisorNode::advance(std::uint64_t id, Ctx& ctx) {
  Round* round = find_round(id);
  if (round == nullptr || round->scheduled) return ok();
  // Old incarnations end one at a time, in reverse start order, like OTP's terminate.
  bool seen = false;
  for (std::size_t i = std::min(round->scan_from, children_.size()); i-- > 0;) {
    auto& child = children_[i];
    if (child.round != id) {
      if (seen) break;  // contiguous: nothing of this round lies below
      continue;
    }
    seen = true;
    if (child.life == Life::kSuspended) continue;
    round->scan_from = i + 1;
    if (child.life == Life::kLive) {
      child.life = Life::kSuspending;
      detail::SystemMessage msg{detail::SystemMessage::Kind::kSuspend};
      msg.peer = ctx.address();
      post_to(child.address, std::move(msg));
    }
    return ok();  // its acknowledgement (or Down) comes first
  }
  if (!seen) {
    std::erase_if(rounds_, [id](const Round& r) { return r.id == id; });
    return ok();
  }
  round->scheduled = true;
  if (round->delay.count() == 0) {
    restart_round(id, ctx);
  } else {
    // During backoff the children stay suspended; their messages wait in their mailboxes.
    round->timer = ctx.system().send_after(ctx.self(), round->delay,
                                           SupervisorCommand{SupervisorCommand::RestartDue{id}});
  }
  return ok();
}

void SupervisorNode::restart_round(std::uint64_t id, Ctx& ctx) {
  std::erase_if(rounds_, [id](const Round& r) { return r.id == id; });
  for (auto& child : children_) {  // start order
    if (child.round != id) continue;
    child.round = 0;
    child.life = Life::kLive;
    ++child.restarts;
    post_to(child.address, detail::SystemMessage{detail::SystemMessage::Kind::kRestart});
    emit(EventKind::kChildRestarted, child, ctx, std::nullopt, child.spec->id);
  }
}

Status SupervisorNode::give_up(Error reason, Ctx& ctx) {
  mode_ = Mode::kGivingUp;
  give_up_ = std::move(reason);
  wind_down();
  return stop_next(ctx);
}

Status SupervisorNode::stop_next(Ctx& ctx) {
  if (children_.empty()) {
    if (give_up_) return *give_up_;  // on_error turns it into our failure
    ctx.resume_handle().resume();    // the stop (or suspension) that waited in on_stopping ends
    return ok();
  }
  auto& last = children_.back();
  if (last.life == Life::kStopping) return ok();  // one at a time: its Down comes first
  last.life = Life::kStopping;
  stop_child(last, ctx.system());
  return ok();
}

void SupervisorNode::wind_down() {
  health_timer_.cancel();
  for (auto& round : rounds_) round.timer.cancel();
  rounds_.clear();
  for (auto& child : children_) child.round = 0;
}

SupervisorNode::Round* SupervisorNode::find_round(std::uint64_t id) {
  auto it =
      std::find_if(rounds_.begin(), rounds_.end(), [id](const Round& r) { return r.id == id; });
  return it == rounds_.end() ? nullptr : &*it;
}

std::string SupervisorNode::intensity_text() const {
  return std::to_string(config_.max_restarts) + " restarts in " +
         std::to_string(config_.window.count()) + " ms";
}

}  // namespace capsule::rt

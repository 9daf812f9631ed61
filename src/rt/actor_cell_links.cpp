// Links: Erlang's two-way link between incarnations, carried by exit signals on the system lane.
// An exit signal is a system message, so no mailbox bound, policy or backlog delays or refuses
// it: it overtakes queued messages and reaches an actor even while a handler of its awaits a
// resume. See docs/runtime.md ("Links").
#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>

namespace capsule::rt::detail {

namespace {
// Passed by reference where an exit has no error: a std::nullopt temporary there trips GCC 12's
// -Wmaybe-uninitialized under -fsanitize=thread.
const std::optional<Error> kNoError;
}  // namespace

bool ActorCellBase::add_link(const ActorAddress& peer) {
  if (std::find(links_.begin(), links_.end(), peer) != links_.end()) return false;
  links_.push_back(peer);
  telemetry_->links_changed(1);
  return true;
}

bool ActorCellBase::remove_link(const ActorAddress& peer) {
  auto it = std::find(links_.begin(), links_.end(), peer);
  if (it == links_.end()) return false;
  links_.erase(it);
  telemetry_->links_changed(-1);
  return true;
}

void ActorCellBase::send_exit(const ActorAddress& to, const ActorAddress& from, ExitReason reason,
                              const std::optional<Error>& error) {
  SystemMessage msg{Signal{Signal::Kind::kExit, from, reason, error}};
  msg.kind = SystemMessage::Kind::kExit;
  static_cast<void>(to.cell()->post(std::move(msg)));
}

void ActorCellBase::link(const ActorAddress& target) {
  if (!target || target.cell() == this || phase_ == Phase::kTerminated) return;
  if (!add_link(target)) return;  // a set: linking twice is linking once
  SystemMessage msg{SystemMessage::Kind::kLink};
  msg.peer = address();
  if (!target.cell()->post(std::move(msg))) {
    // Gone already: Erlang's noproc, as an exit signal from the target, so it takes the same path
    // (trapped, or this incarnation fails) and an unlink before it arrives cancels it. A target
    // that terminates before it reads the kLink answers the same way (handle_system_message).
    send_exit(address(), target, ExitReason::kNoProc, kNoError);
  }
}

void ActorCellBase::unlink(const ActorAddress& target) {
  if (!target || !remove_link(target)) return;
  SystemMessage msg{SystemMessage::Kind::kUnlink};
  msg.peer = address();
  static_cast<void>(target.cell()->post(std::move(msg)));
}

void ActorCellBase::break_links(ExitReason reason, const std::optional<Error>& error) {
  trap_exit_ = false;
  if (links_.empty()) return;
  const ActorAddress self = address();
  auto peers = std::move(links_);
  links_.clear();
  telemetry_->links_changed(-static_cast<std::int64_t>(peers.size()));
  for (const auto& peer : peers) send_exit(peer, self, reason, error);
}

void ActorCellBase::on_exit_signal(const Signal& signal) {
  // Not (or no longer) linked: an unlink made before the signal arrived cancels it, as in Erlang.
  if (!remove_link(signal.from)) return;
  // Suspended (or winding down) for a restart: the incarnation the link belonged to is ending
  // anyway, and the next one makes its own links.
  if (!processing()) return;
  if (trap_exit_) {
    deliver_signal(signal);
    return;
  }
  if (signal.reason == ExitReason::kNormal) return;
  std::string text = "linked actor " +
                     (signal.from.name().empty() ? std::to_string(signal.from.id())
                                                 : "'" + signal.from.name() + "'") +
                     " exited (" + std::string(to_string(signal.reason)) + ")";
  if (signal.error) text += ": " + signal.error->describe();
  exit_self(ExitReason::kFailed, make_error(ErrorCode::kUnavailable, std::move(text)), false);
}

}  // namespace capsule::rt::detail

namespace capsule::rt {

Status ActorSystem::link(const ActorAddress& a, const ActorAddress& b) {
  if (!a || !b) return make_error(ErrorCode::kInvalidArgument, "link: empty actor address");
  detail::SystemMessage msg{detail::SystemMessage::Kind::kLinkTo};
  msg.peer = b;
  if (!a.cell()->post(std::move(msg))) {
    return make_error(ErrorCode::kNotFound,
                      "link: actor " + std::to_string(a.id()) + " has terminated");
  }
  return ok();
}

void ActorSystem::unlink(const ActorAddress& a, const ActorAddress& b) {
  if (!a || !b) return;
  detail::SystemMessage msg{detail::SystemMessage::Kind::kUnlinkFrom};
  msg.peer = b;
  static_cast<void>(a.cell()->post(std::move(msg)));
}

std::int64_t ActorSystem::link_entries() const noexcept {
  return telemetry_->link_entries();
}

}  // namespace capsule::rt

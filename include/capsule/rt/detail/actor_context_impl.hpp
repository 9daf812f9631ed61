#pragma once

// Member templates of ActorContext<Msg>; they need the complete ActorSystem.

#include <capsule/rt/actor_context.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/detail/actor_cell.hpp>

namespace capsule::rt {

template <typename Msg>
ActorRef<Msg> ActorContext<Msg>::self() const {
  return ActorRef<Msg>(std::static_pointer_cast<detail::ActorCell<Msg>>(cell_.shared_from_this()));
}
template <typename Msg>
ActorAddress ActorContext<Msg>::address() const {
  return cell_.address();
}
template <typename Msg>
ActorId ActorContext<Msg>::id() const noexcept {
  return cell_.id();
}
template <typename Msg>
const std::string& ActorContext<Msg>::name() const noexcept {
  return cell_.name();
}
template <typename Msg>
ActorSystem& ActorContext<Msg>::system() const noexcept {
  return cell_.system();
}
template <typename Msg>
const ActorAddress& ActorContext<Msg>::parent() const noexcept {
  return cell_.parent();
}
template <typename Msg>
MailboxStats ActorContext<Msg>::mailbox_stats() const noexcept {
  return cell_.mailbox_stats();
}

template <typename Msg>
template <typename A, typename... Args>
Result<ActorRef<typename A::message_type>> ActorContext<Msg>::spawn(const SpawnOptions& options,
                                                                    Args... args) {
  return cell_.system().template spawn<A>(options, std::move(args)...);
}

template <typename Msg>
template <typename M>
Status ActorContext<Msg>::send(const ActorRef<M>& target, M msg) const {
  return target.send(std::move(msg));
}

template <typename Msg>
void ActorContext<Msg>::stop() noexcept {
  cell_.request_self_stop();
}
template <typename Msg>
void ActorContext<Msg>::stop(const ActorAddress& target) const {
  cell_.system().stop(target);
}
template <typename Msg>
void ActorContext<Msg>::watch(const ActorAddress& target) const {
  cell_.watch(target);
}
template <typename Msg>
void ActorContext<Msg>::unwatch(const ActorAddress& target) const {
  cell_.unwatch(target);
}
template <typename Msg>
void ActorContext<Msg>::link(const ActorAddress& target) const {
  cell_.link(target);
}
template <typename Msg>
void ActorContext<Msg>::unlink(const ActorAddress& target) const {
  cell_.unlink(target);
}
template <typename Msg>
void ActorContext<Msg>::trap_exits(bool on) const {
  cell_.set_trap_exit(on);
}
template <typename Msg>
void ActorContext<Msg>::await_resume() noexcept {
  cell_.await_resume();
}
template <typename Msg>
ResumeHandle ActorContext<Msg>::resume_handle() const {
  return cell_.resume_handle();
}
template <typename Msg>
TimerHandle ActorContext<Msg>::send_after(std::chrono::steady_clock::duration delay,
                                          Msg msg) const {
  return cell_.system().send_after(self(), delay, std::move(msg));
}

}  // namespace capsule::rt

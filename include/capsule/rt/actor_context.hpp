#pragma once

#include <chrono>
#include <string>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/fwd.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/resume_handle.hpp>

namespace capsule::rt {

// What a handler may do besides changing its own state. Valid only inside the actor's callbacks.
// Member templates are defined in detail/actor_context_impl.hpp (included by actor_system.hpp).
template <typename Msg>
class ActorContext {
 public:
  explicit ActorContext(detail::ActorCell<Msg>& cell) noexcept : cell_(cell) {}

  [[nodiscard]] ActorRef<Msg> self() const;
  [[nodiscard]] ActorAddress address() const;
  [[nodiscard]] ActorId id() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] ActorSystem& system() const noexcept;
  [[nodiscard]] const ActorAddress& parent() const noexcept;
  [[nodiscard]] MailboxStats mailbox_stats() const noexcept;

  // Spawns an actor of type A built from `args` (kept for restarts).
  template <typename A, typename... Args>
  Result<ActorRef<typename A::message_type>> spawn(const SpawnOptions& options, Args... args);

  template <typename M>
  Status send(const ActorRef<M>& target, M msg) const;

  // Stops this actor once the current handler returns (graceful: queued messages still run).
  void stop() noexcept;
  // Asks another actor to stop; see ActorSystem::stop.
  void stop(const ActorAddress& target) const;
  // Signals (kDown/kFailed) about `target` arrive through Actor::on_signal.
  void watch(const ActorAddress& target) const;
  void unwatch(const ActorAddress& target) const;
  // Erlang's link between this incarnation and `target` (a set: twice is once). When either
  // incarnation ends, the other gets an exit signal with its reason on the system lane, ahead of
  // queued messages and whatever the mailbox's bound and policy. Not trapping exits: kNormal is
  // ignored, any other reason fails this incarnation (its supervisor decides). Trapping: a
  // Signal::kExit reaches on_signal instead. `target` already gone: an exit with kNoProc.
  // Links end with the incarnation (a restart starts with none) or with unlink, after which no
  // exit from that link arrives. See docs/runtime.md ("Links").
  void link(const ActorAddress& target) const;
  void unlink(const ActorAddress& target) const;
  // Exit signals of linked actors become Signal::kExit for on_signal. Reset by a restart.
  void trap_exits(bool on) const;

  // Ends the current handler (or on_resume) without finishing its work: the actor takes no further
  // mailbox message (they queue; system messages still run) until resume() is called on a
  // resume_handle(), which runs Actor::on_resume on the actor's thread. For work that waits on
  // something outside the actor, e.g. a suspended guest call, without holding a worker thread.
  // A resume that comes before the handler returns is kept. A stop, kill or restart ends the
  // wait (a graceful stop lets it finish first). One wait at a time.
  void await_resume() noexcept;
  [[nodiscard]] ResumeHandle resume_handle() const;

  // Delivers `msg` to this actor after `delay`, through the system's Asio timer.
  TimerHandle send_after(std::chrono::steady_clock::duration delay, Msg msg) const;

 private:
  detail::ActorCell<Msg>& cell_;
};

}  // namespace capsule::rt

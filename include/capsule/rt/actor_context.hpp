#pragma once

#include <chrono>
#include <string>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/fwd.hpp>
#include <capsule/rt/mailbox.hpp>

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

  // Delivers `msg` to this actor after `delay`, through the system's Asio timer.
  TimerHandle send_after(std::chrono::steady_clock::duration delay, Msg msg) const;

 private:
  detail::ActorCell<Msg>& cell_;
};

}  // namespace capsule::rt

#pragma once

#include <cstdint>
#include <string_view>

#include <capsule/core/result.hpp>
#include <capsule/rt/fwd.hpp>
#include <capsule/rt/health_reply.hpp>
#include <capsule/rt/signal.hpp>

namespace capsule::rt {

// What the runtime does after a handler of this actor failed.
enum class ErrorAction : std::uint8_t {
  kResume,    // drop the message, keep the state, go on with the next one
  kStop,      // stop normally (a Transient/Temporary child is then not restarted)
  kRestart,   // fail: the supervisor applies its strategy; unsupervised actors restart in place
  kEscalate,  // fail and make the supervisor fail too (its parent decides)
};

[[nodiscard]] std::string_view to_string(ErrorAction action) noexcept;

// Base class of every actor. `Msg` is the one message type the actor accepts (use a std::variant
// for several). A handler runs on one scheduler thread at a time, never concurrently with another
// handler of the same actor, so actor state needs no locks.
//
// Lifecycle: the factory builds the actor, pre_start runs (its error fails the spawn or the
// restart), messages flow, post_stop runs before the object is destroyed. A restart destroys the
// object and builds a fresh one with the same factory, in the same cell: address, registered
// name and queued messages survive.
template <typename Msg>
class Actor {
 public:
  using message_type = Msg;

  Actor() = default;
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;
  virtual ~Actor() = default;

  virtual Status pre_start(ActorContext<Msg>& /*ctx*/) { return ok(); }
  virtual Status handle(Msg& msg, ActorContext<Msg>& ctx) = 0;
  // Runs after a handler (or an earlier on_resume) called ctx.await_resume() and someone resumed
  // the actor. Its result is treated like a handler's. Call await_resume() again to keep waiting.
  virtual Status on_resume(ActorContext<Msg>& /*ctx*/) { return ok(); }
  virtual void post_stop(ActorContext<Msg>& /*ctx*/) {}
  // This incarnation is asked to end: a graceful stop began (new messages are refused, queued
  // ones still run), or the supervisor suspends it for a restart (queued messages wait for the
  // next incarnation). Not called for kills, immediate stops or failures. An actor that must
  // wind something down asynchronously first (a supervisor stopping its children one by one)
  // calls ctx.await_resume() here: the incarnation then ends once it is resumed (a graceful
  // stop also ends at its kill). One wait at a time: not while a handler's wait is pending.
  virtual void on_stopping(ActorContext<Msg>& /*ctx*/) {}
  virtual ErrorAction on_error(const Error& /*error*/, ActorContext<Msg>& /*ctx*/) {
    return ErrorAction::kRestart;
  }
  // Watch notifications (and child reports for SupervisorNode). An error is handled like a
  // failed handler.
  virtual Status on_signal(const Signal& /*signal*/, ActorContext<Msg>& /*ctx*/) { return ok(); }
  // Answered on the actor's own thread when its supervisor probes it.
  virtual HealthStatus health() { return HealthStatus::kHealthy; }
  // The probe itself, on the actor's own thread: answers health() at once by default. An actor
  // whose answer takes a wait (a guest's health export that sleeps) sends `reply` later instead,
  // e.g. from on_resume after ctx.await_resume(), so no worker waits for it. An error is treated
  // like a failed handler's.
  virtual Status check_health(HealthReply reply, ActorContext<Msg>& /*ctx*/) {
    reply.send(health());
    return ok();
  }
};

}  // namespace capsule::rt

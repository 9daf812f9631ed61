#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include <capsule/component/component_runtime.hpp>
#include <capsule/component/envelope.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/rt/resume_handle.hpp>
#include <capsule/rt/timer.hpp>
#include <capsule/wasm/component_instance.hpp>

#include "deferred_replies.hpp"

namespace capsule::component {

class ActivationDirectory;

// What a (re)start of one instance needs; shared by every restart of that instance.
struct InstancePlan {
  ComponentId id;
  // Swapped by a hot upgrade; read by every (re)start.
  std::atomic<std::shared_ptr<const wasm::CompiledComponent>> component;
  wasm::KeyValues config;
  ResourceLimits limits;
  std::shared_ptr<const ServingWindow> serving;  // ComponentSpec::serving
  std::shared_ptr<InstanceCounters> counters = std::make_shared<InstanceCounters>();
  // Set for an activation of an on-demand component: init runs on the first turn, Retire ends
  // it, and it reports back here. The directory outlives its activations (close() waits).
  ActivationDirectory* activation = nullptr;
  // An activation's storage fencing token in a cluster: that of the claim it was activated under
  // (0: none). A failover unit's instance carries its lease token in `serving` instead.
  std::uint64_t name_token = 0;
  // This instance's requests whose outcome has not been handled yet: an activation does not
  // retire before they are (their callbacks come to its address).
  std::shared_ptr<std::atomic<std::uint32_t>> awaiting =
      std::make_shared<std::atomic<std::uint32_t>>(0);
  // Retire was handled; the activation stops once `awaiting` is zero. Here, not in the actor, so
  // that a restart in place (a trap in a callback meanwhile) still retires.
  bool retire_asked = false;
};

// One running component instance as an actor. Its mailbox feeds handle-message and
// handle-callback; the runtime guarantees one handler at a time, so the Wasmtime Store is never
// touched by two threads, while different instances run on different cores with no shared lock.
//
// A guest call is a wasm::GuestCall owned by the actor. When the guest waits (WASI sleep or poll)
// or yields at an epoch tick, the handler returns with the call pending and the actor awaits a
// resume: the worker is free, the mailbox keeps its order (no other message is taken), and the
// wake (or the wall-time timer) resumes the call on whichever worker runs the actor next.
// A restart (by its supervisor) destroys this object and builds a new one: a fresh instance,
// init run again, same address and queued messages.
class ComponentActor final : public rt::Actor<ComponentEnvelope> {
 public:
  ComponentActor(ComponentRuntime* runtime, std::shared_ptr<InstancePlan> plan);

  Status pre_start(rt::ActorContext<ComponentEnvelope>& ctx) override;
  Status handle(ComponentEnvelope& envelope, rt::ActorContext<ComponentEnvelope>& ctx) override;
  void post_stop(rt::ActorContext<ComponentEnvelope>& ctx) override;
  // A graceful stop (or a suspension for a restart): the guest's shutdown runs as a call in
  // flight once no call is in flight and no message is queued, and the incarnation ends when it
  // returns, so a shutdown that waits gives its worker back. (A suspension that leaves messages
  // queued for the next incarnation runs it in post_stop, as before.)
  void on_stopping(rt::ActorContext<ComponentEnvelope>& ctx) override;
  rt::ErrorAction on_error(const Error& error, rt::ActorContext<ComponentEnvelope>& ctx) override;
  // A guest's health export is a call in flight like a handler: one that waits (WASI sleep)
  // answers the probe when it returns, and no worker waits for it.
  Status check_health(rt::HealthReply reply, rt::ActorContext<ComponentEnvelope>& ctx) override;
  // Exit signals of linked instances (it traps exits): a peer's failure fails this instance.
  Status on_signal(const rt::Signal& signal, rt::ActorContext<ComponentEnvelope>& ctx) override;

 private:
  // A call in flight with the inputs it borrows; heap-held so their addresses never change.
  // kUpgrade*: a hot upgrade's steps (the new instance's init and metadata, then the old one's
  // shutdown); kShutdown: an activation's shutdown before it retires. Every one of them is a call
  // in flight like a handler: a guest that waits in any of them gives the worker back.
  enum class CallKind : std::uint8_t {
    kInit,
    kMetadata,
    kMessage,
    kCallback,
    kUpgradeInit,
    kUpgradeMetadata,
    kUpgradeShutdown,
    kShutdown,
    kStopShutdown,
    kHealth,
  };
  struct InFlight {
    CallKind kind = CallKind::kMessage;
    ComponentMessage message;
    CallbackResponse response;
    // An upgrade's new instance, and what to report to; before `call`, which may borrow it.
    std::optional<wasm::ComponentInstance> next;
    std::optional<ComponentEnvelope::Upgrade> upgrade;
    std::optional<wasm::GuestCall> call;
    rt::TimerHandle deadline_timer;
    rt::HealthReply health_reply;  // kHealth: answered when the call ends
  };

  Status on_resume(rt::ActorContext<ComponentEnvelope>& ctx) override;
  // Links this incarnation with its declared peers (component_links.cpp) and traps their exits.
  void link_peers(rt::ActorContext<ComponentEnvelope>& ctx);
  // A message that arrived while the serving window is closed: refused, not handled.
  void refuse_unserved(const ComponentMessage& message);
  Status start_message(ComponentMessage& message);
  Status start_callback(CallbackResponse& response);
  Status drive();
  // Start-up runs as calls in flight too: init, then metadata. An init that waits (WASI sleep,
  // storage) gives the worker back like a handler does; no message is taken until both finish.
  Status start_lifecycle(CallKind kind);
  Status finish_lifecycle(InFlight& done);
  Status finish_message(InFlight& done);
  Status finish_callback(InFlight& done);
  Status finish_health(InFlight& done);
  // Hot upgrade (component_actor_upgrade.cpp): the new instance's init and metadata, then the
  // old one's shutdown, each a call in flight; no message is taken meanwhile, and if the new one
  // fails the old one keeps serving.
  Status upgrade(ComponentEnvelope::Upgrade upgrade);
  Status start_upgrade_step(std::unique_ptr<InFlight> step, CallKind kind);
  Status finish_upgrade(InFlight& done);
  void report_upgrade(const ComponentEnvelope::Upgrade& upgrade, Status outcome);
  // On-demand activations: Retire ends the actor once no request of its own is outstanding.
  void retire_when_quiet();
  // An activation whose init failed refuses its queued messages with that failure.
  void refuse_uninitialised(const ComponentMessage& message);
  // A failed init or metadata: a supervised instance fails (returns the error); an activation
  // logs it, refuses its queue and retires (returns ok).
  Status fail_activation(Error error);
  Result<wasm::ComponentInstance> instantiate(const wasm::CompiledComponent& component,
                                              rt::ActorContext<ComponentEnvelope>& ctx);
  void account();
  // See on_stopping: starts the guest's shutdown when the instance is stopping and drained.
  void shut_down_when_drained();
  // Hands an idle instance's fiber stack pages back to the kernel (wasm::ComponentInstance),
  // unless it is busy: called again within kHotGap of going idle the last time.
  void release_when_idle();
  // The guest's shutdown as a call in flight of `kind` (kShutdown or kStopShutdown).
  void start_shutdown(CallKind kind);
  // A deferred request's outcome when handle-message ends; true when the request was deferred
  // (then the handler's return value does not answer it).
  bool finish_deferred(const ComponentMessage& message, Result<std::optional<Payload>>& outcome);
  // The instance stops: every request it deferred and did not answer fails.
  void fail_deferred();

  rt::ActorContext<ComponentEnvelope>* ctx_ = nullptr;  // valid inside callbacks only
  ComponentRuntime* runtime_;  // outlives every actor it starts (its destructor stops them)
  std::shared_ptr<InstancePlan> plan_;
  std::optional<wasm::ComponentInstance> instance_;
  std::shared_ptr<wasm::CallWaker> waker_;  // resumes this actor; made in pre_start
  std::unique_ptr<InFlight> in_flight_;     // after instance_: destroyed before it
  // Requests this instance answers later (messaging.defer-reply); shared with its host
  // functions. What is left when the actor stops is failed in post_stop.
  std::shared_ptr<DeferredReplies> deferred_ = std::make_shared<DeferredReplies>();
  bool retired_ = false;    // stopping because of Retire: tell the directory in post_stop
  bool shut_down_ = false;  // the guest's shutdown already ran (as a call in flight)
  bool stopping_ = false;   // on_stopping was called: shut down once drained
  std::optional<Error> init_failure_;  // an activation's init failed
  // When the instance last went idle: one called again sooner than kHotGap keeps its stack.
  std::chrono::steady_clock::time_point last_idle_{};
};

}  // namespace capsule::component

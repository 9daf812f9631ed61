#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include <capsule/component/component_runtime.hpp>
#include <capsule/component/envelope.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/wasm/component_instance.hpp>

namespace capsule::component {

// What a (re)start of one instance needs; shared by every restart of that instance.
struct InstancePlan {
  ComponentId id;
  // Swapped by a hot upgrade; read by every (re)start.
  std::atomic<std::shared_ptr<const wasm::CompiledComponent>> component;
  wasm::KeyValues config;
  ResourceLimits limits;
  std::shared_ptr<InstanceCounters> counters = std::make_shared<InstanceCounters>();
};

// One running component instance as an actor. Its mailbox feeds handle-message and
// handle-callback; the runtime guarantees one handler at a time, so the Wasmtime Store is never
// touched by two threads, while different instances run on different cores with no shared lock.
// A restart (by its supervisor) destroys this object and builds a new one: a fresh instance,
// init run again, same address and queued messages.
class ComponentActor final : public rt::Actor<ComponentEnvelope> {
 public:
  ComponentActor(ComponentRuntime* runtime, std::shared_ptr<InstancePlan> plan);

  Status pre_start(rt::ActorContext<ComponentEnvelope>& ctx) override;
  Status handle(ComponentEnvelope& envelope, rt::ActorContext<ComponentEnvelope>& ctx) override;
  void post_stop(rt::ActorContext<ComponentEnvelope>& ctx) override;
  rt::ErrorAction on_error(const Error& error, rt::ActorContext<ComponentEnvelope>& ctx) override;
  HealthStatus health() override;

 private:
  Status deliver(ComponentMessage& message);
  Status callback(const CallbackResponse& response);
  void upgrade(const ComponentEnvelope::Upgrade& upgrade);
  Result<wasm::ComponentInstance> make_instance(const wasm::CompiledComponent& component,
                                                rt::ActorContext<ComponentEnvelope>& ctx);
  void account();

  rt::ActorContext<ComponentEnvelope>* ctx_ = nullptr;  // valid inside callbacks only
  ComponentRuntime* runtime_;  // outlives every actor it starts (its destructor stops them)
  std::shared_ptr<InstancePlan> plan_;
  std::optional<wasm::ComponentInstance> instance_;
  bool linked_exit_ = false;  // failing because a linked component did: do not pass it on
};

}  // namespace capsule::component

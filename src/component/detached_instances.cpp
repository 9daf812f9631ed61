// Host bindings for instances that run outside the actor system (a wasi:http/proxy route's pool):
// the same ComponentHostApi an actor's instance gets, without a mailbox behind it. What needs a
// mailbox (request's callback, subscriptions) is refused naming what to use instead, and
// messaging.call, which waits for its reply, is theirs.
#include <algorithm>

#include <capsule/component/component_runtime.hpp>

#include "component_host_api.hpp"

namespace capsule::component {

Status ComponentRuntime::register_detached(std::string_view ns, std::string_view name,
                                           const security::ComponentPermissions& permissions) {
  const std::string full = std::string(ns) + "/" + std::string(name);
  if (!is_valid_id_segment(ns) || !is_valid_id_segment(name)) {
    return make_error(ErrorCode::kInvalidArgument, "invalid component name '" + full + "'");
  }
  if (ns == privileged_caller().ns) {
    // The privileged caller's namespace: an instance wearing it would pass every check.
    return make_error(ErrorCode::kInvalidArgument,
                      "component namespace '" + std::string(ns) + "' is reserved for the host");
  }
  if (config_.policy) {
    if (Status s = config_.policy->set_component(ns, name, permissions); !s) {
      return make_error(ErrorCode::kInvalidArgument, full + ": " + s.error().message);
    }
  }
  registry_.add_detached(full);  // a message to its instances is refused saying what they are
  return ok();
}

std::shared_ptr<wasm::HostApi> ComponentRuntime::detached_host(const ComponentId& id,
                                                               const ResourceLimits& limits,
                                                               wasm::KeyValues config) {
  return std::make_shared<host::ComponentHostApi>(*this, id, rt::ActorRef<ComponentEnvelope>{},
                                                  limits, nullptr, nullptr, nullptr,
                                                  std::move(config));
}

}  // namespace capsule::component

namespace capsule::host {

Status ComponentHostApi::needs_mailbox(std::string_view call, std::string_view instead) const {
  if (self_ref_) return ok();
  return make_error(ErrorCode::kNotImplemented,
                    std::string(call) + " by " + self_id().to_string() +
                        ": a wasi:http/proxy instance has no mailbox for what it would bring; "
                        "use " +
                        std::string(instead));
}

void ComponentHostApi::call(const ComponentId& target, Payload payload, std::uint32_t timeout_ms,
                            CallDone done) {
  // An actor never waits inside its turn: the engine's default refusal.
  if (self_ref_) {
    return wasm::HostApi::call(target, std::move(payload), timeout_ms, std::move(done));
  }
  if (timeout_ms == 0) {
    return done(make_error(ErrorCode::kInvalidArgument, "call timeout-ms must be at least 1"));
  }
  // The guest stops waiting at its wall time (the route's timeout): the request ends no later,
  // so no correlation outlives the call that asked.
  auto timeout = std::chrono::milliseconds{timeout_ms};
  if (wall_time_.count() > 0) timeout = std::min(timeout, wall_time_);
  if (Status s = quotas_->admit_request(self_id()); !s) return done(std::move(s).error());
  // Checked and tracked as request() is (capability, payload limit, timeout); the outcome goes
  // straight to the waiting guest call, from whichever thread learns it. These bindings stay alive
  // until then (the call may have been dropped at its wall time meanwhile).
  auto id = runtime_.request(self_id(), target, std::move(payload), timeout,
                             [self = shared_from_this(), done](CallbackResponse r) {
                               self->quotas_->release_request();
                               if (r.error) return done(std::move(*r.error));
                               done(r.reply ? std::move(*r.reply) : Payload{multicodec::kRaw, {}});
                             });
  if (id) return;
  quotas_->release_request();
  Error e = std::move(id).error();
  if (e.code == ErrorCode::kWouldBlock) {
    // A full `block` mailbox: refused, not waited for (the guest's whole call is bounded).
    e = make_error(ErrorCode::kUnavailable, "mailbox of " + target.to_string() +
                                                " is full: messaging.call does not wait for room");
  }
  done(std::move(e));
}

}  // namespace capsule::host

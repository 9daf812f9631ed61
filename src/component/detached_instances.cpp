// Host bindings for instances that run outside the actor system (a wasi:http/proxy route's pool):
// the same ComponentHostApi an actor's instance gets, without a mailbox behind it.
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
  if (!config_.policy) return ok();
  if (Status s = config_.policy->set_component(ns, name, permissions); !s) {
    return make_error(ErrorCode::kInvalidArgument, full + ": " + s.error().message);
  }
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

// ComponentRuntime's capability checks: a component against its grants, a peer host's message
// against the operator's rules, host code never.
#include <capsule/component/component_runtime.hpp>

namespace capsule::component {

Status ComponentRuntime::authorize(const ComponentId& who, security::Action action,
                                   std::string_view target, Origin origin) const {
  if (!guard_.enforcing()) return ok();
  if (origin == Origin::kPeer) {
    // Delivered by the cluster bridge: the peer host checked its component's grants; here only
    // the operator's rules apply.
    return guard_.authorize_foreign(who, action, target);
  }
  // Host code is the party that grants capabilities; it is not checked against them. Every
  // other local caller is a component, checked against its grants even in the windows where
  // it is not registered (its first init, its shutdown): the identity is its instance's.
  if (who == privileged_caller()) return ok();
  return guard_.authorize(who, action, target);
}

Status ComponentRuntime::authorize_to(const ComponentId& who, security::Action action,
                                      const ComponentId& target, Origin origin) const {
  // Without a policy the target is never looked at: no id formatting on the messaging hot path.
  if (!guard_.enforcing()) return ok();
  return authorize(who, action, target.to_string(), origin);
}

}  // namespace capsule::component

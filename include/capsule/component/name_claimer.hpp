#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>
#include <capsule/core/serving_window.hpp>

namespace capsule::component {

// Makes a name of an on-demand component (a virtual actor) active on one host of a cluster at a
// time, whatever the hosts' views of the membership say. The component layer only knows this
// interface; the cluster layer implements it with claims in JetStream KV fenced by a lease per
// host (docs/cluster.md, "Name claims"), so src/component never depends on src/cluster.
//
// An ActivationDirectory claims a name before it activates it and releases the claim when the
// name has no activation any more. Its activations serve only while window() is open.
class NameClaimer {
 public:
  NameClaimer() = default;
  NameClaimer(const NameClaimer&) = delete;
  NameClaimer& operator=(const NameClaimer&) = delete;
  virtual ~NameClaimer() = default;

  // Makes this host the only one that may activate `id`, then runs `done` exactly once, on
  // another thread (on this one only once the claimer has stopped): the claim's fencing token, or
  // why not (kUnavailable: another host has it active now, this host does not hold its lease, or
  // the claims cannot be reached). The token grows with every claim of the name, by any host
  // (the claim entry's revision); claiming a name this host holds already is ok, with the token
  // it got then. The activation's storage writes carry it (KvBackend::fence, WritePermit). By
  // value: implementations keep `done` until the outcome is known.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void claim(const ComponentId& id, std::function<void(Result<std::uint64_t>)> done) = 0;
  // This host no longer has `id` active: another host may claim it. Best effort, never blocks.
  virtual void release(const ComponentId& id) = 0;
  // Open while this host holds the lease its claims depend on. Activations refuse messages and
  // storage writes while it is closed, and retire (ComponentRuntime::placement_changed).
  [[nodiscard]] virtual std::shared_ptr<const ServingWindow> window() const = 0;
};

}  // namespace capsule::component

#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <capsule/core/limits.hpp>
#include <capsule/core/serving_window.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/supervisor.hpp>
#include <capsule/security/capability.hpp>
#include <capsule/wasm/compiled_component.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::component {

// A virtual-actor component (the Orleans model): every instance name is addressable without being
// started. The first message to ns/name/<any> activates an instance of that name; one idle for
// `idle_timeout` is deactivated (shutdown, memory freed) and activated again by its next message,
// with nothing lost and the order of its messages kept. At most `max_active` are active at once:
// past it, the least recently used is deactivated to make room (docs/components.md).
struct OnDemandActivation {
  std::chrono::milliseconds idle_timeout{60'000};
  std::uint32_t max_active = 10'000;
};

// What the runtime does when a group's supervisor gives up (a child failed more than its restart
// intensity allows). The runtime is every group's parent, and as in OTP the parent decides:
// kStayDown leaves the group's components down until started again (OTP's temporary child, or
// a temporary application); kRestartGroup starts the whole group afresh (every member, a new
// supervisor, a fresh restart history), at most `max_restarts` times within `window`; one more
// give-up within the window leaves it down (OTP's parent intensity). docs/runtime.md.
struct GroupEscalation {
  enum class Action : std::uint8_t { kStayDown, kRestartGroup };
  Action action = Action::kStayDown;
  std::uint32_t max_restarts = 3;
  std::chrono::milliseconds window{60'000};
};

// Everything needed to run N supervised instances of one compiled component.
struct ComponentSpec {
  std::string ns = "default";
  std::string name;
  std::shared_ptr<const wasm::CompiledComponent> component;
  std::uint32_t instances = 1;               // ids ns/name/0 .. ns/name/N-1
  wasm::KeyValues config;                    // passed to init on every (re)start
  ResourceLimits limits;                     // zero fields: engine defaults
  std::optional<rt::MailboxConfig> mailbox;  // default: RuntimeConfig::default_mailbox
  rt::RestartPolicy restart = rt::RestartPolicy::kPermanent;
  rt::SupervisorConfig supervision;  // strategy, intensity window, backoff for these instances
  GroupEscalation escalation{};      // when that supervisor gives up (alone: its own group)
  // What the component declared it needs, what the host grants it, and its storage quota.
  // Enforced only when RuntimeConfig::policy is set; see docs/security.md.
  security::ComponentPermissions permissions;
  // Links ("ns/name"), both ways and transitively: when an instance of this component fails (trap
  // or limit), every instance of every component linked to it fails too and is restarted by its
  // own supervisor, and the other way round. Only components on the same host.
  std::vector<std::string> links;
  // Set for a component only one host may serve at a time (a cluster failover unit): while the
  // window is closed (this host's lease on it lapsed or was lost) its instances refuse every
  // message (kUnavailable, "not served here") and every storage write. Null: always served.
  std::shared_ptr<const ServingWindow> serving;
  // Set: a virtual-actor component; `instances`, `restart`, `supervision` and `links` do not
  // apply (an activation that fails is rebuilt in place for its next message, unsupervised).
  std::optional<OnDemandActivation> on_demand;
};

// Several components under one supervisor: with one-for-all, a failure of any member restarts
// every member; with rest-for-one, the failed instance and those after it (members in order, each
// member's instances in order). The members' own `supervision` is ignored: the group's applies.
struct SupervisionGroupSpec {
  std::string name;  // for messages and listings, e.g. "payments"
  rt::SupervisorConfig supervision;
  std::vector<ComponentSpec> members;  // started in this order
  GroupEscalation escalation{};        // the members' own are ignored too
};

}  // namespace capsule::component

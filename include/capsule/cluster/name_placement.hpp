#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/component_id.hpp>

namespace capsule::cluster {

// Which host of the cluster serves a name of an on-demand component (a virtual actor): the
// highest-random-weight (rendezvous) choice among the live hosts that load the component. Every
// host computes it alone from its own view of the membership, and hosts whose views agree agree
// on the owner, with no message exchanged. When a host joins or leaves, only the names whose
// winner it is (or was) move: about 1/n of them, not all.
// Pure: no clock, no NATS, so the rule is tested directly.
[[nodiscard]] std::uint64_t placement_weight(std::string_view host, const ComponentId& id);
// The owner of `id` among `hosts` (each named once); empty when `hosts` is empty. Ties (two
// equal 64-bit weights) go to the lower name, so the choice never depends on the order given.
[[nodiscard]] std::string choose_owner(const std::vector<std::string>& hosts,
                                       const ComponentId& id);

}  // namespace capsule::cluster

#pragma once

// CAF 0.17 peers of bench/rt/savina: same programs, same parameters, same timing loop.
#include <caf/all.hpp>

#include "../bench_common.hpp"

namespace savina_caf {
using start_atom = caf::atom_constant<caf::atom("start")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using pong_atom = caf::atom_constant<caf::atom("pong")>;
using inc_atom = caf::atom_constant<caf::atom("inc")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using result_atom = caf::atom_constant<caf::atom("result")>;
using meet_atom = caf::atom_constant<caf::atom("meet")>;
using meetw_atom = caf::atom_constant<caf::atom("meetw")>;
using change_atom = caf::atom_constant<caf::atom("change")>;
using exit_atom = caf::atom_constant<caf::atom("exit")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;

inline caf::actor sender_of(caf::event_based_actor* self) {
  return caf::actor_cast<caf::actor>(self->current_sender());
}
}  // namespace savina_caf

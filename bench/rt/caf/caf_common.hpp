#pragma once

// CAF 1.1 peers of bench/rt/savina: same programs, same parameters, same timing loop, and the
// same scheduler budget (messages per actor turn) as the capsule side.
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/all.hpp>
#include <caf/init_global_meta_objects.hpp>
#include <caf/version.hpp>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "../bench_common.hpp"

// ping_atom and pong_atom come with CAF (caf/type_id.hpp).
CAF_BEGIN_TYPE_ID_BLOCK(savina_caf, caf::first_custom_type_id)
CAF_ADD_ATOM(savina_caf, savina_caf, start_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, inc_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, retrieve_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, result_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, meet_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, meetw_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, change_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, exit_atom)
CAF_ADD_ATOM(savina_caf, savina_caf, exited_atom)
CAF_END_TYPE_ID_BLOCK(savina_caf)

namespace savina_caf {

// Registers the message types and applies the settings both sides share: `--budget N` messages
// per actor turn (`caf.scheduler.max-throughput`; CAF's own default is unlimited, capsule's 64)
// and one worker per hardware thread (both defaults). CAF's idle-worker policy is left at its
// defaults and printed, since capsule's (spin, then park on a futex until woken) has no CAF
// equivalent: a CAF worker with nothing to do polls its own queue 100 times (stealing every
// 10th), then 500 times waiting up to 50 us on its queue's condition variable (stealing every
// 5th), then forever waits up to 10 ms on it before each steal attempt. Work queued on another
// worker never wakes it: a relaxed worker finds stealable work up to 10 ms late.
inline void configure(caf::actor_system_config& cfg, int argc, char** argv) {
  caf::init_global_meta_objects<caf::id_block::savina_caf>();
  caf::core::init_global_meta_objects();
  const auto budget = static_cast<std::size_t>(savina::budget_from(argc, argv));
  const auto workers = static_cast<std::size_t>(std::max(1U, std::thread::hardware_concurrency()));
  cfg.set("caf.scheduler.max-throughput", budget);
  cfg.set("caf.scheduler.max-threads", workers);
  std::printf(
      "CONFIG caf=%s budget=%zu workers=%zu idle=\"poll own queue 100x (steal every 10th), "
      "500x waiting <=50us (steal every 5th), then wait <=10ms per steal attempt; "
      "never woken by work queued elsewhere\"\n",
      caf::version::c_str(), budget, workers);
}

inline caf::actor sender_of(caf::event_based_actor* self) {
  return caf::actor_cast<caf::actor>(self->current_sender());
}

}  // namespace savina_caf

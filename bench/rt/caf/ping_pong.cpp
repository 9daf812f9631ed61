// Savina PingPong on CAF: two actors exchange N = 40000 ping/pong round trips.
#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int32_t kPings = 40000;

behavior pong(event_based_actor* self) {
  return {[=](ping_atom, int32_t n) { self->mail(pong_atom_v, n).send(sender_of(self)); }};
}

behavior ping(event_based_actor* self, const actor& other, savina::Latch* done) {
  return {
      [=](start_atom) { self->mail(ping_atom_v, kPings).send(other); },
      [=](pong_atom, int32_t n) {
        if (n == 1) {
          done->arrive();
        } else {
          self->mail(ping_atom_v, n - 1).send(other);
        }
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  auto p = system.spawn(ping, system.spawn(pong), &done);
  return savina::run("ping_pong", argc, argv, [&] {
    done.reset(1);
    anon_mail(start_atom_v).send(p);
    done.wait();
  });
}

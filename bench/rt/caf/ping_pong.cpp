#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kPings = 40000;

behavior pong(event_based_actor* self) {
  return {[=](ping_atom, int n) { self->send(sender_of(self), pong_atom::value, n); }};
}

behavior ping(event_based_actor* self, actor other, savina::Latch* done) {
  return {
      [=](start_atom) { self->send(other, ping_atom::value, kPings); },
      [=](pong_atom, int n) {
        if (n == 1) {
          done->arrive();
        } else {
          self->send(other, ping_atom::value, n - 1);
        }
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  auto p = system.spawn(ping, system.spawn(pong), &done);
  return savina::run("ping_pong", argc, argv, [&] {
    done.reset(1);
    anon_send(p, start_atom::value);
    done.wait();
  });
}

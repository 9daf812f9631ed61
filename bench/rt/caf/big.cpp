// Savina Big on CAF: W = 120 actors; each sends N = 20,000 pings to random peers and waits for
// the pong before the next one.
#include <memory>
#include <random>
#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 120;
constexpr int kPings = 20000;

using peers_ptr = std::shared_ptr<std::vector<actor>>;  // filled before any message flows

struct big_state {
  int sent = 0;
  std::minstd_rand rng;
};

behavior big_actor(stateful_actor<big_state>* self, int32_t id, const peers_ptr& peers,
                   savina::Latch* done) {
  self->state().rng.seed(static_cast<unsigned>(id));
  auto send_ping = [=] {
    ++self->state().sent;
    std::uniform_int_distribution<std::size_t> pick(0, kActors - 1);
    self->mail(ping_atom_v, id).send((*peers)[pick(self->state().rng)]);
  };
  return {
      [=](start_atom) {
        self->state().sent = 0;
        send_ping();
      },
      [=](ping_atom, int32_t from) {
        self->mail(pong_atom_v).send((*peers)[static_cast<std::size_t>(from)]);
      },
      [=](pong_atom) {
        if (self->state().sent == kPings) {
          done->arrive();
        } else {
          send_ping();
        }
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  auto peers = std::make_shared<std::vector<actor>>();
  for (int32_t i = 0; i < kActors; ++i) peers->push_back(system.spawn(big_actor, i, peers, &done));
  const int rc = savina::run("big", argc, argv, [&] {
    done.reset(kActors);
    for (auto& p : *peers) anon_mail(start_atom_v).send(p);
    done.wait();
  });
  // The actor system waits for every actor on destruction: these reference each other.
  for (auto& a : *peers) anon_send_exit(a, exit_reason::user_shutdown);
  return rc;
}

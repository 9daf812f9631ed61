// Savina ThreadRing on CAF: N = 100 actors in a ring pass a token R = 100,000 times.
#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 100;
constexpr int32_t kHops = 100000;

struct node_state {
  actor next;
};

behavior node(stateful_actor<node_state>* self, savina::Latch* done) {
  return {
      [=](actor next) { self->state().next = std::move(next); },
      [=](int32_t hops) {
        if (hops == 0) {
          done->arrive();
        } else {
          self->mail(hops - 1).send(self->state().next);
        }
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  std::vector<actor> ring;
  ring.reserve(kActors);
  for (int i = 0; i < kActors; ++i) ring.push_back(system.spawn(node, &done));
  for (int i = 0; i < kActors; ++i) anon_mail(ring[(i + 1) % kActors]).send(ring[i]);
  const int rc = savina::run("thread_ring", argc, argv, [&] {
    done.reset(1);
    anon_mail(kHops).send(ring[0]);
    done.wait();
  });
  // The actor system waits for every actor on destruction: these reference each other.
  for (auto& a : ring) anon_send_exit(a, exit_reason::user_shutdown);
  return rc;
}

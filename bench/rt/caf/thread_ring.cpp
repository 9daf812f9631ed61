#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 100;
constexpr int kHops = 100000;

struct node_state {
  actor next;
};

behavior node(stateful_actor<node_state>* self, savina::Latch* done) {
  return {
      [=](actor next) { self->state.next = next; },
      [=](int hops) {
        if (hops == 0) {
          done->arrive();
        } else {
          self->send(self->state.next, hops - 1);
        }
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  std::vector<actor> ring;
  for (int i = 0; i < kActors; ++i) ring.push_back(system.spawn(node, &done));
  for (int i = 0; i < kActors; ++i) anon_send(ring[i], ring[(i + 1) % kActors]);
  const int rc = savina::run("thread_ring", argc, argv, [&] {
    done.reset(1);
    anon_send(ring[0], kHops);
    done.wait();
  });
  // The actor system waits for every actor on destruction: these reference each other.
  for (auto& a : ring) anon_send_exit(a, exit_reason::user_shutdown);
  return rc;
}

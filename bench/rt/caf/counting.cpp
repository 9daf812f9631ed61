// Savina Counting on CAF: a producer sends N = 1,000,000 increments to a counter, then asks for
// the total and checks it.
#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int64_t kMessages = 1000000;

struct counter_state {
  int64_t count = 0;
};

behavior counter(stateful_actor<counter_state>* self) {
  return {
      [=](inc_atom) { ++self->state().count; },
      [=](retrieve_atom) {
        self->mail(result_atom_v, self->state().count).send(sender_of(self));
        self->state().count = 0;
      },
  };
}

behavior producer(event_based_actor* self, const actor& c, savina::Latch* done) {
  return {
      [=](start_atom) {
        for (int64_t i = 0; i < kMessages; ++i) self->mail(inc_atom_v).send(c);
        self->mail(retrieve_atom_v).send(c);
      },
      [=](result_atom, int64_t total) {
        if (total != kMessages) std::abort();
        done->arrive();
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  auto p = system.spawn(producer, system.spawn(counter), &done);
  return savina::run("counting", argc, argv, [&] {
    done.reset(1);
    anon_mail(start_atom_v).send(p);
    done.wait();
  });
}

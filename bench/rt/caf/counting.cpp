#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kMessages = 1000000;

struct counter_state {
  long count = 0;
};

behavior counter(stateful_actor<counter_state>* self) {
  return {
      [=](inc_atom) { ++self->state.count; },
      [=](get_atom) {
        self->send(actor_cast<actor>(self->current_sender()), result_atom::value,
                   self->state.count);
        self->state.count = 0;
      },
  };
}

behavior producer(event_based_actor* self, actor c, savina::Latch* done) {
  return {
      [=](start_atom) {
        for (int i = 0; i < kMessages; ++i) self->send(c, inc_atom::value);
        self->send(c, get_atom::value);
      },
      [=](result_atom, long total) {
        if (total != kMessages) std::abort();
        done->arrive();
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  auto p = system.spawn(producer, system.spawn(counter), &done);
  return savina::run("counting", argc, argv, [&] {
    done.reset(1);
    anon_send(p, start_atom::value);
    done.wait();
  });
}

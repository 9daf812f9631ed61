#include <memory>
#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kChameneos = 100;
constexpr int kMeetings = 200000;
constexpr int kFaded = 3;

int complement(int a, int b) {
  if (a == b) return a;
  return 3 - a - b;  // red=0, yellow=1, blue=2
}

using chams_ptr = std::shared_ptr<std::vector<actor>>;
using mall_ptr = std::shared_ptr<actor>;

struct mall_state {
  int meetings = 0;
  int exited = 0;
  int waiting = -1;
};

behavior mall(stateful_actor<mall_state>* self, chams_ptr chams, savina::Latch* done) {
  return {
      [=](start_atom) {
        self->state = mall_state{};
        for (auto& c : *chams) self->send(c, start_atom::value);
      },
      [=](meet_atom, int id, int color) {
        auto& s = self->state;
        if (s.meetings == kMeetings) {
          self->send((*chams)[id], exit_atom::value);
          if (s.waiting >= 0) self->send((*chams)[s.waiting], exit_atom::value);
          s.waiting = -1;
        } else if (s.waiting < 0) {
          s.waiting = id;
        } else {
          ++s.meetings;
          self->send((*chams)[s.waiting], meetw_atom::value, id, color);
          s.waiting = -1;
        }
      },
      [=](exited_atom, int) {
        if (++self->state.exited == kChameneos) done->arrive();
      },
  };
}

struct cham_state {
  int color = 0;
  int meetings = 0;
};

behavior chameneo(stateful_actor<cham_state>* self, int id, chams_ptr chams, mall_ptr m) {
  return {
      [=](start_atom) {
        self->state.color = id % 3;
        self->state.meetings = 0;
        self->send(*m, meet_atom::value, id, self->state.color);
      },
      [=](meetw_atom, int partner, int color) {
        self->state.color = complement(self->state.color, color);
        ++self->state.meetings;
        self->send((*chams)[partner], change_atom::value, self->state.color);
        self->send(*m, meet_atom::value, id, self->state.color);
      },
      [=](change_atom, int color) {
        self->state.color = color;
        ++self->state.meetings;
        self->send(*m, meet_atom::value, id, self->state.color);
      },
      [=](exit_atom) {
        self->state.color = kFaded;
        self->send(*m, exited_atom::value, self->state.meetings);
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  auto chams = std::make_shared<std::vector<actor>>();
  auto m = std::make_shared<actor>();
  for (int i = 0; i < kChameneos; ++i) chams->push_back(system.spawn(chameneo, i, chams, m));
  *m = system.spawn(mall, chams, &done);
  const int rc = savina::run("chameneos", argc, argv, [&] {
    done.reset(1);
    anon_send(*m, start_atom::value);
    done.wait();
  });
  // The actor system waits for every actor on destruction: these reference each other.
  for (auto& a : *chams) anon_send_exit(a, exit_reason::user_shutdown);
  anon_send_exit(*m, exit_reason::user_shutdown);
  return rc;
}

// Savina Chameneos on CAF: C = 100 chameneos meet N = 200,000 times through a mall actor.
#include <memory>
#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kChameneos = 100;
constexpr int kMeetings = 200000;
constexpr int32_t kFaded = 3;

int32_t complement(int32_t a, int32_t b) {
  if (a == b) return a;
  return 3 - a - b;  // red=0, yellow=1, blue=2
}

using chams_ptr = std::shared_ptr<std::vector<actor>>;
using mall_ptr = std::shared_ptr<actor>;

struct mall_state {
  int meetings = 0;
  int exited = 0;
  int32_t waiting = -1;
};

behavior mall(stateful_actor<mall_state>* self, const chams_ptr& chams, savina::Latch* done) {
  auto at = [chams](int32_t id) -> const actor& { return (*chams)[static_cast<std::size_t>(id)]; };
  return {
      [=](start_atom) {
        self->state() = mall_state{};
        for (auto& c : *chams) self->mail(start_atom_v).send(c);
      },
      [=](meet_atom, int32_t id, int32_t color) {
        auto& s = self->state();
        if (s.meetings == kMeetings) {
          self->mail(exit_atom_v).send(at(id));
          if (s.waiting >= 0) self->mail(exit_atom_v).send(at(s.waiting));
          s.waiting = -1;
        } else if (s.waiting < 0) {
          s.waiting = id;
        } else {
          ++s.meetings;
          self->mail(meetw_atom_v, id, color).send(at(s.waiting));
          s.waiting = -1;
        }
      },
      [=](exited_atom, int32_t) {
        if (++self->state().exited == kChameneos) done->arrive();
      },
  };
}

struct cham_state {
  int32_t color = 0;
  int32_t meetings = 0;
};

behavior chameneo(stateful_actor<cham_state>* self, int32_t id, const chams_ptr& chams,
                  const mall_ptr& m) {
  return {
      [=](start_atom) {
        self->state().color = id % 3;
        self->state().meetings = 0;
        self->mail(meet_atom_v, id, self->state().color).send(*m);
      },
      [=](meetw_atom, int32_t partner, int32_t color) {
        auto& s = self->state();
        s.color = complement(s.color, color);
        ++s.meetings;
        self->mail(change_atom_v, s.color).send((*chams)[static_cast<std::size_t>(partner)]);
        self->mail(meet_atom_v, id, s.color).send(*m);
      },
      [=](change_atom, int32_t color) {
        auto& s = self->state();
        s.color = color;
        ++s.meetings;
        self->mail(meet_atom_v, id, s.color).send(*m);
      },
      [=](exit_atom) {
        self->state().color = kFaded;
        self->mail(exited_atom_v, self->state().meetings).send(*m);
      },
  };
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  auto chams = std::make_shared<std::vector<actor>>();
  auto m = std::make_shared<actor>();
  for (int32_t i = 0; i < kChameneos; ++i) chams->push_back(system.spawn(chameneo, i, chams, m));
  *m = system.spawn(mall, chams, &done);
  const int rc = savina::run("chameneos", argc, argv, [&] {
    done.reset(1);
    anon_mail(start_atom_v).send(*m);
    done.wait();
  });
  // The actor system waits for every actor on destruction: these reference each other.
  for (auto& a : *chams) anon_send_exit(a, exit_reason::user_shutdown);
  anon_send_exit(*m, exit_reason::user_shutdown);
  return rc;
}

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 40000;

behavior worker(event_based_actor* self, savina::Latch* done) {
  return {[=](int) {
    volatile double r = savina::compute(37.2);
    static_cast<void>(r);
    done->arrive();
    self->quit();
  }};
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  return savina::run("fork_join_creation", argc, argv, [&] {
    done.reset(kActors);
    for (int i = 0; i < kActors; ++i) anon_send(system.spawn(worker, &done), i);
    done.wait();
  });
}

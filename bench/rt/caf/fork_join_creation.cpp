// Savina Fork-join creation on CAF: N = 40,000 actors are created, each gets one message,
// computes (on an input the compiler cannot see) and stops.
#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 40000;

behavior worker(event_based_actor* self, savina::Latch* done) {
  return {[=](int32_t) {
    savina::consume(savina::compute(savina::theta()));
    done->arrive();
    self->quit();
  }};
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  return savina::run("fork_join_creation", argc, argv, [&] {
    done.reset(kActors);
    for (int32_t i = 0; i < kActors; ++i) anon_mail(i).send(system.spawn(worker, &done));
    done.wait();
  });
}

#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 60;
constexpr int kMessages = 10000;

struct worker_state {
  int received = 0;
  double sink = 0;
};

behavior worker(stateful_actor<worker_state>* self, savina::Latch* done) {
  return {[=](int) {
    self->state.sink += savina::compute(37.2);
    if (++self->state.received == kMessages) {
      self->state.received = 0;
      done->arrive();
    }
  }};
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  actor_system system{cfg};
  savina::Latch done;
  std::vector<actor> workers;
  for (int i = 0; i < kActors; ++i) workers.push_back(system.spawn(worker, &done));
  return savina::run("fork_join_throughput", argc, argv, [&] {
    done.reset(kActors);
    for (int m = 0; m < kMessages; ++m) {
      for (auto& w : workers) anon_send(w, m);
    }
    done.wait();
  });
}

// Savina Fork-join throughput on CAF: A = 60 actors each receive N = 10,000 messages and do a
// small computation per message (on an input the compiler cannot see; the sum is checked).
#include <cmath>
#include <cstdlib>
#include <vector>

#include "caf_common.hpp"

using namespace caf;
using namespace savina_caf;
constexpr int kActors = 60;
constexpr int kMessages = 10000;

struct worker_state {
  int received = 0;
  double sum = 0;
};

behavior worker(stateful_actor<worker_state>* self, savina::Latch* done, double expected) {
  return {[=](int32_t) {
    auto& s = self->state();
    s.sum += savina::compute(savina::theta());
    if (++s.received == kMessages) {
      if (std::abs(s.sum - expected) > 1e-9 * std::abs(expected)) std::abort();
      savina::consume(s.sum);
      s.received = 0;
      s.sum = 0;
      done->arrive();
    }
  }};
}

int main(int argc, char** argv) {
  actor_system_config cfg;
  configure(cfg, argc, argv);
  actor_system system{cfg};
  savina::Latch done;
  const double expected = savina::expected_sum(kMessages);
  std::vector<actor> workers;
  workers.reserve(kActors);
  for (int i = 0; i < kActors; ++i) workers.push_back(system.spawn(worker, &done, expected));
  return savina::run("fork_join_throughput", argc, argv, [&] {
    done.reset(kActors);
    for (int32_t m = 0; m < kMessages; ++m) {
      for (auto& w : workers) anon_mail(m).send(w);
    }
    done.wait();
  });
}

// Savina Fork-join throughput: A = 60 actors each receive N = 10,000 messages and do a small
// computation per message (on an input the compiler cannot see; the sum is checked).
#include <cmath>
#include <cstdlib>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kActors = 60;
constexpr int kMessages = 10000;

class Worker final : public rt::Actor<int> {
 public:
  Worker(savina::Latch* done, double expected) : done_(done), expected_(expected) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    sum_ += savina::compute(savina::theta());
    if (++received_ == kMessages) {
      if (std::abs(sum_ - expected_) > 1e-9 * std::abs(expected_)) std::abort();
      savina::consume(sum_);
      received_ = 0;
      sum_ = 0;
      done_->arrive();
    }
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
  double expected_;
  int received_ = 0;
  double sum_ = 0;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  const double expected = savina::expected_sum(kMessages);
  std::vector<rt::ActorRef<int>> workers;
  workers.reserve(kActors);
  for (int i = 0; i < kActors; ++i) workers.push_back(*system.spawn<Worker>({}, &done, expected));
  return savina::run("fork_join_throughput", argc, argv, [&] {
    done.reset(kActors);
    for (int m = 0; m < kMessages; ++m) {
      for (auto& w : workers) w.tell(m);
    }
    done.wait();
  });
}

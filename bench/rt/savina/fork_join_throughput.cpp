// Savina Fork-join throughput: A = 60 actors each receive N = 10,000 messages and do a small
// computation per message.
#include <vector>

#include <capsule/rt/rt.hpp>

#include "../bench_common.hpp"

namespace rt = capsule::rt;
constexpr int kActors = 60;
constexpr int kMessages = 10000;

class Worker final : public rt::Actor<int> {
 public:
  explicit Worker(savina::Latch* done) : done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& /*ctx*/) override {
    sink_ += savina::compute(37.2);
    if (++received_ == kMessages) {
      received_ = 0;
      done_->arrive();
    }
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
  int received_ = 0;
  double sink_ = 0;
};

int main(int argc, char** argv) {
  rt::ActorSystem system;
  savina::Latch done;
  std::vector<rt::ActorRef<int>> workers;
  for (int i = 0; i < kActors; ++i) workers.push_back(*system.spawn<Worker>({}, &done));
  return savina::run("fork_join_throughput", argc, argv, [&] {
    done.reset(kActors);
    for (int m = 0; m < kMessages; ++m) {
      for (auto& w : workers) w.tell(m);
    }
    done.wait();
  });
}

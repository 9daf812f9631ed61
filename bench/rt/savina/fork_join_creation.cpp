// Savina Fork-join creation: N = 40,000 actors are created, each gets one message, computes (on
// an input the compiler cannot see) and stops.
#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kActors = 40000;

class Worker final : public rt::Actor<int> {
 public:
  explicit Worker(savina::Latch* done) : done_(done) {}
  capsule::Status handle(int& /*msg*/, rt::ActorContext<int>& ctx) override {
    savina::consume(savina::compute(savina::theta()));
    done_->arrive();
    ctx.stop();
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  return savina::run("fork_join_creation", argc, argv, [&] {
    done.reset(kActors);
    for (int i = 0; i < kActors; ++i) system.spawn<Worker>({}, &done)->tell(i);
    done.wait();
  });
}

// Savina ThreadRing: N = 100 actors in a ring pass a token R = 100,000 times.
#include <variant>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kActors = 100;
constexpr int kHops = 100000;

struct Wire {
  rt::ActorRef<std::variant<int, Wire>> next;
};
using TokenMsg = std::variant<int, Wire>;

class RingNode final : public rt::Actor<TokenMsg> {
 public:
  explicit RingNode(savina::Latch* done) : done_(done) {}
  capsule::Status handle(TokenMsg& msg, rt::ActorContext<TokenMsg>& /*ctx*/) override {
    if (auto* wire = std::get_if<Wire>(&msg)) {
      next_ = wire->next;
    } else if (const int hops = std::get<int>(msg); hops == 0) {
      done_->arrive();
    } else {
      next_.tell(hops - 1);
    }
    return capsule::ok();
  }

 private:
  savina::Latch* done_;
  rt::ActorRef<TokenMsg> next_;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  std::vector<rt::ActorRef<TokenMsg>> ring;
  ring.reserve(kActors);
  for (int i = 0; i < kActors; ++i) ring.push_back(*system.spawn<RingNode>({}, &done));
  for (int i = 0; i < kActors; ++i)
    ring[static_cast<std::size_t>(i)].tell(Wire{ring[(i + 1) % kActors]});
  return savina::run("thread_ring", argc, argv, [&] {
    done.reset(1);
    ring[0].tell(kHops);
    done.wait();
  });
}

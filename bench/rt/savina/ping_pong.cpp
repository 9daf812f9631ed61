// Savina PingPong: two actors exchange N = 40000 ping/pong round trips.
#include <variant>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kPings = 40000;

struct Start {};
using PingMsg = std::variant<Start, int>;                  // int: a pong
using PongMsg = std::variant<rt::ActorRef<PingMsg>, int>;  // wiring, then pings

class Pong final : public rt::Actor<PongMsg> {
 public:
  capsule::Status handle(PongMsg& msg, rt::ActorContext<PongMsg>& /*ctx*/) override {
    if (auto* ping = std::get_if<rt::ActorRef<PingMsg>>(&msg)) {
      ping_ = *ping;
    } else {
      ping_.tell(std::get<int>(msg));
    }
    return capsule::ok();
  }

 private:
  rt::ActorRef<PingMsg> ping_;
};

class Ping final : public rt::Actor<PingMsg> {
 public:
  Ping(rt::ActorRef<PongMsg> pong, savina::Latch* done) : pong_(std::move(pong)), done_(done) {}
  capsule::Status handle(PingMsg& msg, rt::ActorContext<PingMsg>& /*ctx*/) override {
    if (std::holds_alternative<Start>(msg)) {
      left_ = kPings;
    } else if (--left_ == 0) {
      done_->arrive();
      return capsule::ok();
    }
    pong_.tell(left_);
    return capsule::ok();
  }

 private:
  rt::ActorRef<PongMsg> pong_;
  savina::Latch* done_;
  int left_ = 0;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  auto pong = system.spawn<Pong>({});
  auto ping = system.spawn<Ping>({}, *pong, &done);
  pong->tell(*ping);
  return savina::run("ping_pong", argc, argv, [&] {
    done.reset(1);
    ping->tell(Start{});
    done.wait();
  });
}

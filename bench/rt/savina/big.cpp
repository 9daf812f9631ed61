// Savina Big: W = 120 actors; each sends N = 20,000 pings to random peers and waits for the pong
// before the next one.
#include <memory>
#include <random>
#include <variant>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kActors = 120;
constexpr int kPings = 20000;

struct Start {};
struct Ping {
  int from;
};
struct Pong {};
using Msg = std::variant<Start, Ping, Pong, std::shared_ptr<const void>>;  // last: the peer list
using Peers = std::vector<rt::ActorRef<Msg>>;

class BigActor final : public rt::Actor<Msg> {
 public:
  BigActor(int id, savina::Latch* done) : id_(id), done_(done), rng_(static_cast<unsigned>(id)) {}
  capsule::Status handle(Msg& msg, rt::ActorContext<Msg>& /*ctx*/) override {
    if (auto* peers = std::get_if<std::shared_ptr<const void>>(&msg)) {
      peers_ = std::static_pointer_cast<const Peers>(*peers);
    } else if (std::holds_alternative<Start>(msg)) {
      sent_ = 0;
      send_ping();
    } else if (auto* ping = std::get_if<Ping>(&msg)) {
      (*peers_)[static_cast<std::size_t>(ping->from)].tell(Pong{});
    } else if (sent_ == kPings) {
      done_->arrive();
    } else {
      send_ping();
    }
    return capsule::ok();
  }

 private:
  void send_ping() {
    ++sent_;
    (*peers_)[pick_(rng_)].tell(Ping{id_});
  }

  int id_;
  savina::Latch* done_;
  std::minstd_rand rng_;
  std::uniform_int_distribution<std::size_t> pick_{0, kActors - 1};
  std::shared_ptr<const Peers> peers_;
  int sent_ = 0;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  auto peers = std::make_shared<Peers>();
  for (int i = 0; i < kActors; ++i) peers->push_back(*system.spawn<BigActor>({}, i, &done));
  for (auto& p : *peers) p.tell(std::shared_ptr<const void>(peers));
  return savina::run("big", argc, argv, [&] {
    done.reset(kActors);
    for (auto& p : *peers) p.tell(Start{});
    done.wait();
  });
}

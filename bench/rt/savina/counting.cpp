// Savina Counting: a producer sends N = 1,000,000 increments to a counter, then asks for the
// total and checks it.
#include <variant>

#include <capsule/rt/rt.hpp>

#include "rt_common.hpp"

namespace rt = capsule::rt;
constexpr int kMessages = 1000000;

struct Increment {};
struct Retrieve;
using ProducerMsg = std::variant<int /*start*/, long /*result*/>;
struct Retrieve {
  rt::ActorRef<ProducerMsg> reply_to;
};
using CounterMsg = std::variant<Increment, Retrieve>;

class Counter final : public rt::Actor<CounterMsg> {
 public:
  capsule::Status handle(CounterMsg& msg, rt::ActorContext<CounterMsg>& /*ctx*/) override {
    if (std::holds_alternative<Increment>(msg)) {
      ++count_;
    } else {
      std::get<Retrieve>(msg).reply_to.tell(count_);
      count_ = 0;
    }
    return capsule::ok();
  }

 private:
  long count_ = 0;
};

class Producer final : public rt::Actor<ProducerMsg> {
 public:
  Producer(rt::ActorRef<CounterMsg> counter, savina::Latch* done)
      : counter_(std::move(counter)), done_(done) {}
  capsule::Status handle(ProducerMsg& msg, rt::ActorContext<ProducerMsg>& ctx) override {
    if (std::holds_alternative<int>(msg)) {
      for (int i = 0; i < kMessages; ++i) counter_.tell(Increment{});
      counter_.tell(Retrieve{ctx.self()});
    } else {
      if (std::get<long>(msg) != kMessages) std::abort();
      done_->arrive();
    }
    return capsule::ok();
  }

 private:
  rt::ActorRef<CounterMsg> counter_;
  savina::Latch* done_;
};

int main(int argc, char** argv) {
  rt::ActorSystem system(savina_rt::system_config(argc, argv));
  savina::Latch done;
  auto counter = system.spawn<Counter>({});
  auto producer = system.spawn<Producer>({}, *counter, &done);
  return savina::run("counting", argc, argv, [&] {
    done.reset(1);
    producer->tell(0);
    done.wait();
  });
}

// A small tour of capsule::rt: a supervised, named counter with a bounded mailbox, a topic on the
// broker, request/reply with a timeout, a crash and its restart, and a clean shutdown report.
//
// Build: part of the normal build (target rt_example_supervised_counter); run it without
// arguments. It exits 0 when everything behaved as described.
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <variant>

#include <capsule/rt/rt.hpp>

namespace rt = capsule::rt;
using namespace std::chrono_literals;

struct Add {
  int amount;
};
struct Get {
  rt::Replier<int> reply;
};
struct Crash {};
using CounterMsg = std::variant<Add, Get, Crash>;

class Counter final : public rt::Actor<CounterMsg> {
 public:
  capsule::Status pre_start(rt::ActorContext<CounterMsg>& ctx) override {
    std::printf("counter %llu starting (state starts at 0)\n",
                static_cast<unsigned long long>(ctx.id()));
    return capsule::ok();
  }
  capsule::Status handle(CounterMsg& msg, rt::ActorContext<CounterMsg>& /*ctx*/) override {
    if (auto* add = std::get_if<Add>(&msg)) {
      total_ += add->amount;
    } else if (auto* get = std::get_if<Get>(&msg)) {
      get->reply.reply(total_);
    } else {
      return capsule::make_error(capsule::ErrorCode::kInternal, "asked to crash");
    }
    return capsule::ok();
  }

 private:
  int total_ = 0;
};

// Blocks the calling (host) thread until the counter answers or the timeout fires.
int ask_total(rt::ActorSystem& system, const rt::ActorRef<CounterMsg>& counter) {
  auto promise = std::make_shared<std::promise<int>>();
  auto answer = promise->get_future();
  rt::ask<int>(
      system, counter, [](rt::Replier<int> r) { return CounterMsg{Get{std::move(r)}}; }, 1s,
      [promise](capsule::Result<int> r) { promise->set_value(r ? *r : -1); });
  return answer.get();
}

int main() {
  auto recorder = std::make_shared<rt::InMemoryRecorder>();
  rt::ActorSystem system(rt::SystemConfig{{}, recorder, 5000ms});

  rt::SupervisorConfig config;
  config.strategy = rt::RestartStrategy::kOneForOne;
  config.backoff = rt::BackoffPolicy{5ms, 100ms, 2.0, 0.2};
  auto supervisor = rt::SupervisorNode::start(
      system, config,
      {rt::ChildSpec::of<Counter>(
          "counter", rt::SpawnOptions::named("counter").with_mailbox(
                         rt::MailboxConfig::bounded(1024, rt::BackpressurePolicy::kError)))});
  if (!supervisor) return 1;

  auto counter = system.registry().lookup_as<CounterMsg>("counter");
  if (!counter) return 1;

  rt::MessageBroker<CounterMsg> broker(system);
  static_cast<void>(broker.subscribe("increments", *counter));
  for (int i = 1; i <= 10; ++i) broker.publish("increments", CounterMsg{Add{i}});
  const int before = ask_total(system, *counter);
  std::printf("total after 10 published increments: %d\n", before);

  counter->tell(Crash{});  // the supervisor restarts it in place after the backoff
  recorder->wait_for_count(rt::EventKind::kChildRestarted, 1, 5000ms);
  const int after = ask_total(system, *counter);  // same address, fresh state
  std::printf("total after the crash and restart: %d\n", after);

  const auto report = system.shutdown(2000ms);
  std::printf("shutdown: %zu actors, %zu killed, %llu undelivered\n", report.actors_at_start,
              report.actors_killed, static_cast<unsigned long long>(report.undelivered_messages));
  return before == 55 && after == 0 && !report.timed_out ? 0 : 1;
}

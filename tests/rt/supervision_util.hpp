#pragma once

// Helpers for the supervision tests: a child that journals its lifecycle in one ordered log, a
// watcher that records every signal it gets, and a harness that never leaves a handler parked.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <capsule/rt/rt.hpp>

#include "test_util.hpp"

namespace capsule::rt::testing {

// One ordered journal for every actor of a test: "start:a", "stop:a", "handled:a:work", ...
class Log {
 public:
  void add(std::string entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  [[nodiscard]] std::vector<std::string> entries() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }
  [[nodiscard]] int count(const std::string& entry) const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count(entries_.begin(), entries_.end(), entry));
  }
  // Position of the n-th (1-based) occurrence of `entry`, or -1.
  [[nodiscard]] std::ptrdiff_t position(const std::string& entry, int n = 1) const {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i] == entry && --n == 0) return static_cast<std::ptrdiff_t>(i);
    }
    return -1;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> entries_;
};

// "fail" fails; "hold" parks on the gate; "hold-fail" parks, then fails; "exit" stops itself;
// "park" waits for a resume that never comes (ctx.await_resume); anything else is work.
class Worker final : public Actor<std::string> {
 public:
  Worker(std::string id, std::shared_ptr<Log> log, Gate* gate)
      : id_(std::move(id)), log_(std::move(log)), gate_(gate) {}
  Status pre_start(ActorContext<std::string>& /*ctx*/) override {
    log_->add("start:" + id_);
    return ok();
  }
  Status handle(std::string& msg, ActorContext<std::string>& ctx) override {
    if (msg == "hold" || msg == "hold-fail") gate_->wait();
    if (msg == "fail" || msg == "hold-fail") return make_error(ErrorCode::kInternal, "fail");
    if (msg == "exit") ctx.stop();
    if (msg == "park") {
      log_->add("parked:" + id_);
      ctx.await_resume();
      return ok();
    }
    log_->add("handled:" + id_ + ":" + msg);
    return ok();
  }
  void post_stop(ActorContext<std::string>& /*ctx*/) override { log_->add("stop:" + id_); }

 private:
  std::string id_;
  std::shared_ptr<Log> log_;
  Gate* gate_;
};

struct Seen {
  Signal::Kind kind = Signal::Kind::kDown;
  ActorId from = 0;
  ExitReason reason = ExitReason::kNormal;
  std::optional<Error> error;
};

// Watches its targets from pre_start, which runs on the spawning thread: every stop or failure
// requested after spawn() returned is certain to find the watch in place.
class Watcher final : public Actor<int> {
 public:
  Watcher(std::vector<ActorAddress> targets, std::shared_ptr<Collected<Seen>> seen)
      : targets_(std::move(targets)), seen_(std::move(seen)) {}
  Status pre_start(ActorContext<int>& ctx) override {
    for (const auto& t : targets_) ctx.watch(t);
    return ok();
  }
  Status handle(int& /*msg*/, ActorContext<int>& /*ctx*/) override { return ok(); }
  Status on_signal(const Signal& s, ActorContext<int>& /*ctx*/) override {
    seen_->push_back(Seen{s.kind, s.from.id(), s.reason, s.error});
    return ok();
  }

 private:
  std::vector<ActorAddress> targets_;
  std::shared_ptr<Collected<Seen>> seen_;
};

[[nodiscard]] inline std::optional<Seen> down_of(const Collected<Seen>& seen, ActorId id) {
  for (const auto& s : seen.items()) {
    if (s.kind == Signal::Kind::kDown && s.from == id) return s;
  }
  return std::nullopt;
}

// The ids of the watched actors in the order their Down signals arrived.
[[nodiscard]] inline std::vector<ActorId> down_order(const Collected<Seen>& seen) {
  std::vector<ActorId> order;
  for (const auto& s : seen.items()) {
    if (s.kind == Signal::Kind::kDown) order.push_back(s.from);
  }
  return order;
}

struct SupervisionHarness {
  // Declared before the system: destroyed after it, and opened first (see the destructor).
  Gate gate;
  std::shared_ptr<InMemoryRecorder> recorder = std::make_shared<InMemoryRecorder>();
  std::shared_ptr<Log> log = std::make_shared<Log>();
  ActorSystem system{SystemConfig{{}, recorder, std::chrono::milliseconds{5000}}};

  SupervisionHarness() = default;
  SupervisionHarness(const SupervisionHarness&) = delete;
  SupervisionHarness& operator=(const SupervisionHarness&) = delete;
  // A failed assertion may leave a handler parked on the gate: a worker stuck there would hang
  // the system's shutdown.
  ~SupervisionHarness() {
    gate.open();
    static_cast<void>(system.shutdown());
  }

  [[nodiscard]] ChildSpec worker(const std::string& id) {
    return ChildSpec::of<Worker>(id, SpawnOptions::named(id), id, log, &gate);
  }
  [[nodiscard]] ActorRef<std::string> lookup(const std::string& name) {
    auto ref = system.registry().lookup_as<std::string>(name);
    return ref ? *ref : ActorRef<std::string>{};
  }
  [[nodiscard]] std::shared_ptr<Collected<Seen>> watch(std::vector<ActorAddress> targets) {
    auto seen = std::make_shared<Collected<Seen>>();
    auto watcher = system.spawn<Watcher>({}, std::move(targets), seen);
    return watcher ? seen : nullptr;
  }
};

[[nodiscard]] inline SupervisorConfig no_backoff(
    RestartStrategy strategy = RestartStrategy::kOneForOne) {
  SupervisorConfig config;
  config.strategy = strategy;
  config.backoff = BackoffPolicy::none();
  config.window = std::chrono::milliseconds{60000};
  return config;
}

}  // namespace capsule::rt::testing

// Escalation: the runtime is the parent of every supervision group, and when a group's supervisor
// gives up (a child failed more often than its restart intensity allows) it applies the group's
// GroupEscalation, as an OTP parent applies its own strategy and intensity to a supervisor child.
#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <variant>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/actor_system.hpp>

namespace capsule::component {
namespace {

// Watches one group's supervisor (the runtime's own watch primitive) and reports its end by a
// failure, which for a root supervisor means it gave up; then stops. One per kRestartGroup group.
class GroupWatch final : public rt::Actor<std::monostate> {
 public:
  GroupWatch(ComponentRuntime* runtime, rt::ActorAddress supervisor)
      : runtime_(runtime), supervisor_(std::move(supervisor)) {}
  Status pre_start(rt::ActorContext<std::monostate>& ctx) override {
    ctx.watch(supervisor_);
    return ok();
  }
  Status handle(std::monostate& /*msg*/, rt::ActorContext<std::monostate>& /*ctx*/) override {
    return ok();
  }
  Status on_signal(const rt::Signal& signal, rt::ActorContext<std::monostate>& ctx) override {
    if (signal.kind != rt::Signal::Kind::kDown || !(signal.from == supervisor_)) return ok();
    // Stopped (the component was stopped, the host shuts down): nothing to decide.
    if (signal.reason == rt::ExitReason::kFailed)
      runtime_->group_gave_up(supervisor_, signal.error);
    ctx.stop();
    return ok();
  }

 private:
  ComponentRuntime* runtime_;  // outlives this actor: its destructor reaps every watch
  rt::ActorAddress supervisor_;
};

std::string first_line(const std::optional<Error>& error) {
  if (!error) return "restart intensity exceeded";
  const std::string text = error->describe();
  return text.substr(0, text.find('\n'));
}

}  // namespace

Result<rt::ActorAddress> ComponentRuntime::watch_group(const rt::SupervisorRef& supervisor) {
  auto ref = system_.spawn<GroupWatch>(rt::SpawnOptions{}, this, supervisor.address());
  if (!ref) return std::move(ref).error();
  return ref->address();
}

void ComponentRuntime::group_gave_up(const rt::ActorAddress& supervisor,
                                     const std::optional<Error>& why) {
  SupervisionGroupSpec again;
  ComponentId who;  // the log lines name the group's first component
  std::size_t count = 0;
  bool restart = false;
  GroupEscalation policy;
  {
    std::lock_guard lock(groups_mutex_);
    if (closing_) return;
    auto it = std::find_if(groups_.begin(), groups_.end(),
                           [&](const Group& g) { return g.supervisor.address() == supervisor; });
    if (it == groups_.end() || it->escalation.action != GroupEscalation::Action::kRestartGroup) {
      return;
    }
    policy = it->escalation;
    const auto& first = it->members.front().spec;
    who = ComponentId{first.ns, first.name, "*"};
    auto& history = give_ups_[it->name];
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(history, [&](auto t) { return now - t > policy.window; });
    again.name = it->name;
    if (history.size() < policy.max_restarts) {
      history.push_back(now);
      count = history.size();
      restart = true;
      again.supervision = it->supervision;
      again.escalation = it->escalation;
      for (const auto& m : it->members) {
        if (m.running) again.members.push_back(m.spec);
        for (const auto& id : m.ids) registry_.remove(id);
      }
      groups_.erase(it);
      ++escalating_;
    }
  }
  const std::string intensity = std::to_string(policy.max_restarts) + " group restarts in " +
                                std::to_string(policy.window.count()) + " ms";
  if (!restart || again.members.empty()) {
    log(who, wasm::LogLevel::kError,
        "supervision group " + again.name + " gave up again: more than " + intensity +
            "; it stays down until restarted",
        {{"reason", first_line(why)}});
    if (restart) {
      std::lock_guard lock(groups_mutex_);
      --escalating_;
      escalated_.notify_all();
    }
    return;
  }
  log(who, wasm::LogLevel::kError,
      "supervision group " + again.name +
          " gave up; its parent (the runtime) restarts the whole "
          "group (" +
          std::to_string(count) + " of " + intensity + ")",
      {{"reason", first_line(why)}});
  // Off the worker that runs this: a group's first start runs init on the calling thread.
  run_io([this, again = std::move(again), who] {
    auto started = start_group(again);
    if (!started) {
      log(who, wasm::LogLevel::kError,
          "supervision group " + again.name +
              " could not be restarted: " + started.error().describe(),
          {});
    }
    std::lock_guard lock(groups_mutex_);
    --escalating_;
    escalated_.notify_all();
  });
}

}  // namespace capsule::component

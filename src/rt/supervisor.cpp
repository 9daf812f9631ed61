#include <algorithm>
#include <cmath>
#include <future>
#include <memory>
#include <utility>

#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/supervisor.hpp>

namespace capsule::rt {

namespace {
using Clock = std::chrono::steady_clock;
using Ctx = ActorContext<SupervisorCommand>;

void post_to(const ActorAddress& target, detail::SystemMessage msg) {
  if (target) static_cast<void>(target.cell()->post(std::move(msg)));
}
}  // namespace

ChildSpec ChildSpec::supervisor(std::string id, SupervisorConfig config,
                                std::vector<ChildSpec> children, SpawnOptions options) {
  ChildSpec spec;
  spec.id = std::move(id);
  spec.options = std::move(options);
  spec.start = [config, children = std::move(children)](
                   ActorSystem& system, const SpawnOptions& opts) -> Result<ActorAddress> {
    auto ref = system.spawn<SupervisorNode>(opts, config, children);
    if (!ref) return std::move(ref).error();
    return ref->address();
  };
  // A subtree shuts down through its own children's policies.
  spec.shutdown = ShutdownPolicy::graceful(std::chrono::milliseconds{10000});
  return spec;
}

Status SupervisorRef::start_child(ChildSpec spec,
                                  std::function<void(Result<ActorAddress>)> done) const {
  return ref_.send(
      SupervisorCommand{SupervisorCommand::StartChild{std::move(spec), std::move(done)}});
}

Status SupervisorRef::terminate_child(std::string id) const {
  return ref_.send(SupervisorCommand{SupervisorCommand::TerminateChild{std::move(id)}});
}

Status SupervisorRef::list_children(std::function<void(std::vector<ChildInfo>)> reply) const {
  return ref_.send(SupervisorCommand{SupervisorCommand::ListChildren{std::move(reply)}});
}

Result<std::vector<ChildInfo>> SupervisorRef::children(std::chrono::milliseconds timeout) const {
  auto promise = std::make_shared<std::promise<std::vector<ChildInfo>>>();
  auto future = promise->get_future();
  if (auto sent =
          list_children([promise](std::vector<ChildInfo> c) { promise->set_value(std::move(c)); });
      !sent) {
    return std::move(sent).error();
  }
  if (future.wait_for(timeout) != std::future_status::ready) {
    return make_error(ErrorCode::kTimeout, "supervisor did not answer");
  }
  return future.get();
}

SupervisorNode::SupervisorNode(SupervisorConfig config, std::vector<ChildSpec> specs)
    : config_(config), initial_specs_(std::move(specs)), jitter_rng_(std::random_device{}()) {}

Result<SupervisorRef> SupervisorNode::start(ActorSystem& system, SupervisorConfig config,
                                            std::vector<ChildSpec> children,
                                            const SpawnOptions& options) {
  auto ref = system.spawn<SupervisorNode>(options, config, std::move(children));
  if (!ref) return std::move(ref).error();
  return SupervisorRef(std::move(*ref));
}

Status SupervisorNode::pre_start(Ctx& ctx) {
  for (auto& spec : initial_specs_) {
    if (auto started = start_child(spec, ctx); !started) {
      for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
        stop_child(*it, ctx.system());
      }
      children_.clear();
      child_ids_.clear();
      return started;
    }
  }
  if (config_.health_interval.count() > 0) {
    auto self = ctx.self();
    health_timer_ = ctx.system().run_periodic(config_.health_interval, [self] {
      self.tell(SupervisorCommand{SupervisorCommand::HealthTick{}});
    });
  }
  return ok();
}

Status SupervisorNode::start_child(ChildSpec spec, Ctx& ctx) {
  if (child_ids_.contains(spec.id)) {
    return make_error(ErrorCode::kAlreadyExists, "child '" + spec.id + "' already exists");
  }
  if (!spec.start) return make_error(ErrorCode::kInvalidArgument, "child spec without start");
  SpawnOptions options = spec.options;
  options.parent = ctx.address();
  auto address = spec.start(ctx.system(), options);
  if (!address) return std::move(address).error();
  Child child;
  child.spec = std::move(spec);
  child.address = std::move(*address);
  child_ids_.insert(child.spec.id);
  children_.push_back(std::move(child));
  return ok();
}

Status SupervisorNode::handle(SupervisorCommand& msg, Ctx& ctx) {
  return std::visit(
      [&](auto& cmd) -> Status {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, SupervisorCommand::StartChild>) {
          auto id = cmd.spec.id;
          auto started = start_child(std::move(cmd.spec), ctx);
          if (cmd.done) {
            if (started) {
              cmd.done(children_.back().address);
            } else {
              cmd.done(std::move(started).error());
            }
          }
        } else if constexpr (std::is_same_v<T, SupervisorCommand::TerminateChild>) {
          const auto index = index_of(cmd.id);
          if (index >= 0) {
            stop_child(forget_child(static_cast<std::size_t>(index)), ctx.system());
          }
        } else if constexpr (std::is_same_v<T, SupervisorCommand::RestartDue>) {
          restart_now(cmd.ids, ctx);
        } else if constexpr (std::is_same_v<T, SupervisorCommand::HealthTick>) {
          health_tick(ctx);
        } else {
          std::vector<ChildInfo> infos;
          infos.reserve(children_.size());
          for (const auto& c : children_) {
            infos.push_back(ChildInfo{c.spec.id, c.address, c.state, c.restarts});
          }
          if (cmd.reply) cmd.reply(std::move(infos));
        }
        return ok();
      },
      msg.command);
}

Status SupervisorNode::on_signal(const Signal& signal, Ctx& ctx) {
  const auto index = index_of(signal.from);
  if (index < 0) return ok();  // a child of an earlier incarnation, or already removed
  const auto i = static_cast<std::size_t>(index);
  switch (signal.kind) {
    case Signal::Kind::kChildFailed:
    case Signal::Kind::kChildExited:
      return on_child_exit(i, signal.reason, signal.error, signal.escalate, ctx);
    case Signal::Kind::kChildDown:
      // Gone for good without our decision (e.g. system shutdown): forget it.
      forget_child(i);
      return ok();
    case Signal::Kind::kHealthReport: {
      auto& child = children_[i];
      child.probe_outstanding = false;
      if (signal.health == HealthStatus::kHealthy || child.state != ChildState::kRunning) {
        return ok();
      }
      emit(EventKind::kHealthCheckFailed, child, ctx, std::nullopt,
           std::string(to_string(signal.health)));
      return restart_children(i, ctx);
    }
    case Signal::Kind::kDown:
    case Signal::Kind::kFailed:
      return ok();
  }
  return ok();
}

Status SupervisorNode::on_child_exit(std::size_t index, ExitReason reason,
                                     const std::optional<Error>& error, bool escalate, Ctx& ctx) {
  auto& child = children_[index];
  if (escalate) {
    return make_error(error ? error->code : ErrorCode::kInternal,
                      "child '" + child.spec.id +
                          "' escalated: " + (error ? error->message : std::string("no error")));
  }
  const bool restart =
      child.spec.restart == RestartPolicy::kPermanent ||
      (child.spec.restart == RestartPolicy::kTransient && reason == ExitReason::kFailed);
  if (!restart) {
    stop_child(forget_child(index), ctx.system());
    return ok();
  }
  return restart_children(index, ctx);
}

Status SupervisorNode::restart_children(std::size_t index, Ctx& ctx) {
  const auto now = Clock::now();
  const auto horizon = now - config_.window;
  while (!restarts_.empty() && restarts_.front() < horizon) restarts_.pop_front();
  restarts_.push_back(now);
  auto& failed = children_[index];
  if (restarts_.size() > config_.max_restarts) {
    emit(EventKind::kRestartLimitExceeded, failed, ctx, std::nullopt,
         std::to_string(restarts_.size()) + " restarts within " +
             std::to_string(config_.window.count()) + " ms");
    return make_error(ErrorCode::kUnavailable,
                      "restart intensity exceeded at child '" + failed.spec.id + "'");
  }
  while (!failed.recent.empty() && failed.recent.front() < horizon) failed.recent.pop_front();
  failed.recent.push_back(now);

  std::size_t first = index;
  std::size_t last = index + 1;
  if (config_.strategy == RestartStrategy::kOneForAll) {
    first = 0;
    last = children_.size();
  } else if (config_.strategy == RestartStrategy::kRestForOne) {
    last = children_.size();
  }
  std::vector<std::string> ids;
  // Siblings stop now, in reverse start order, and come back together with the failed child.
  for (std::size_t i = last; i-- > first;) {
    auto& child = children_[i];
    if (i != index && child.state == ChildState::kRunning) {
      post_to(child.address, detail::SystemMessage{detail::SystemMessage::Kind::kSuspend});
    }
    child.state = ChildState::kRestarting;
    child.probe_outstanding = false;
  }
  for (std::size_t i = first; i < last; ++i) ids.push_back(children_[i].spec.id);

  const auto delay = backoff_delay(failed.recent.size());
  if (delay.count() == 0) {
    restart_now(ids, ctx);
  } else {
    static_cast<void>(ctx.system().send_after(
        ctx.self(), delay, SupervisorCommand{SupervisorCommand::RestartDue{std::move(ids)}}));
  }
  return ok();
}

void SupervisorNode::restart_now(const std::vector<std::string>& ids, Ctx& ctx) {
  for (const auto& id : ids) {
    const auto index = index_of(id);
    if (index < 0) continue;
    auto& child = children_[static_cast<std::size_t>(index)];
    if (child.state != ChildState::kRestarting) continue;
    child.state = ChildState::kRunning;
    ++child.restarts;
    post_to(child.address, detail::SystemMessage{detail::SystemMessage::Kind::kRestart});
    emit(EventKind::kChildRestarted, child, ctx, std::nullopt, child.spec.id);
  }
}

void SupervisorNode::stop_child(const Child& child, ActorSystem& system) const {
  // Free the name now: a restarted supervisor binds it again before this child is gone.
  if (!child.address.name().empty()) {
    system.registry().unbind(child.address.name(), child.address.id());
  }
  detail::SystemMessage msg{detail::SystemMessage::Kind::kStop};
  msg.origin = detail::StopOrigin::kSupervisor;
  const bool graceful = child.spec.shutdown.kind == ShutdownPolicy::Kind::kGraceful;
  msg.graceful = graceful;
  post_to(child.address, std::move(msg));
  if (graceful && !system.shutting_down()) {
    auto cell = child.address.shared_cell();
    static_cast<void>(system.run_after(child.spec.shutdown.timeout, [cell] {
      static_cast<void>(cell->post(detail::SystemMessage{detail::SystemMessage::Kind::kKill}));
    }));
  }
}

void SupervisorNode::health_tick(Ctx& ctx) {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    auto& child = children_[i];
    if (!child.spec.health_checks || child.state != ChildState::kRunning) continue;
    if (child.probe_outstanding) {
      // No answer within a whole interval: as good as failed.
      emit(EventKind::kHealthCheckFailed, child, ctx, std::nullopt, "unresponsive");
      if (!restart_children(i, ctx)) return;
      continue;
    }
    child.probe_outstanding = true;
    detail::SystemMessage probe{detail::SystemMessage::Kind::kHealthProbe};
    probe.peer = ctx.address();
    post_to(child.address, std::move(probe));
  }
}

void SupervisorNode::post_stop(Ctx& ctx) {
  health_timer_.cancel();
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) stop_child(*it, ctx.system());
  children_.clear();
  child_ids_.clear();
}

ErrorAction SupervisorNode::on_error(const Error& /*error*/, Ctx& ctx) {
  // Escalation: let our own supervisor apply its strategy to this whole subtree. A root
  // supervisor that gave up stops (restarting it would reset the intensity window forever).
  return ctx.parent() ? ErrorAction::kRestart : ErrorAction::kStop;
}

std::chrono::milliseconds SupervisorNode::backoff_delay(std::size_t restarts_in_window) {
  const auto& b = config_.backoff;
  if (b.initial.count() <= 0) return std::chrono::milliseconds{0};
  const double exponent = restarts_in_window > 0 ? static_cast<double>(restarts_in_window - 1) : 0;
  double delay = static_cast<double>(b.initial.count()) * std::pow(b.multiplier, exponent);
  delay = std::min(delay, static_cast<double>(std::max(b.max, b.initial).count()));
  if (b.jitter > 0) {
    std::uniform_real_distribution<double> spread(-b.jitter, b.jitter);
    delay *= 1.0 + spread(jitter_rng_);
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::max(delay, 1.0))};
}

std::ptrdiff_t SupervisorNode::index_of(const ActorAddress& address) const {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].address == address) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

SupervisorNode::Child SupervisorNode::forget_child(std::size_t index) {
  Child child = std::move(children_[index]);
  children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
  child_ids_.erase(child.spec.id);
  return child;
}

std::ptrdiff_t SupervisorNode::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].spec.id == id) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

void SupervisorNode::emit(EventKind kind, const Child& child, Ctx& ctx, std::optional<Error> error,
                          std::string detail) const {
  const auto& telemetry = ctx.system().telemetry();
  if (!telemetry->observed()) return;
  telemetry->emit(MonitoringEvent{kind, child.address.id(), child.address.name(), ctx.id(),
                                  std::move(error), std::move(detail)});
}

}  // namespace capsule::rt

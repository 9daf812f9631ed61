#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <future>
#include <memory>
#include <utility>

#include <capsule/core/bit_mix.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/supervisor.hpp>

namespace capsule::rt {

namespace {
void post_to(const ActorAddress& target, detail::SystemMessage msg) {
  if (target) static_cast<void>(target.cell()->post(std::move(msg)));
}

// A restart in place keeps the mailbox, so a RestartDue of an earlier incarnation of this
// supervisor may still arrive: round ids start at a point drawn from the clock and the node's
// address, so it matches no round of ours. Not std::random_device: opening and reading the
// kernel's generator twice per supervisor was ~10% of a component's start (perf, component_bench).
std::uint64_t first_round_id(const void* node) {
  const auto now =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return mix64(now ^ mix64(reinterpret_cast<std::uintptr_t>(node))) | 1U;
}
}  // namespace

ChildSpec ChildSpec::supervisor(std::string id, SupervisorConfig config,
                                std::vector<ChildSpec> children, SpawnOptions options) {
  ChildSpec spec;
  spec.id = std::move(id);
  spec.options = std::move(options);
  spec.start = [config,
                children = std::make_shared<const std::vector<ChildSpec>>(std::move(children))](
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
    : SupervisorNode(config, std::make_shared<const std::vector<ChildSpec>>(std::move(specs))) {}

SupervisorNode::SupervisorNode(SupervisorConfig config,
                               std::shared_ptr<const std::vector<ChildSpec>> specs)
    : config_(config),
      initial_specs_(std::move(specs)),
      next_round_(first_round_id(this)),
      // Backoff jitter only spreads restarts apart; it needs no secret.
      jitter_rng_(static_cast<std::uint_fast32_t>(mix64(next_round_))) {}

Result<SupervisorRef> SupervisorNode::start(ActorSystem& system, SupervisorConfig config,
                                            std::vector<ChildSpec> children,
                                            const SpawnOptions& options) {
  auto ref = system.spawn<SupervisorNode>(
      options, config, std::make_shared<const std::vector<ChildSpec>>(std::move(children)));
  if (!ref) return std::move(ref).error();
  return SupervisorRef(std::move(*ref));
}

Status SupervisorNode::pre_start(Ctx& ctx) {
  for (const auto& spec : *initial_specs_) {
    if (auto started = start_child(std::shared_ptr<const ChildSpec>(initial_specs_, &spec), ctx);
        !started) {
      // pre_start cannot wait: the children started so far are stopped without waiting.
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

Status SupervisorNode::start_child(std::shared_ptr<const ChildSpec> spec, Ctx& ctx) {
  if (child_ids_.contains(spec->id)) {
    return make_error(ErrorCode::kAlreadyExists, "child '" + spec->id + "' already exists");
  }
  if (!spec->start) return make_error(ErrorCode::kInvalidArgument, "child spec without start");
  SpawnOptions options = spec->options;
  options.parent = ctx.address();
  auto address = spec->start(ctx.system(), options);
  if (!address) return std::move(address).error();
  Child child;
  child.spec = std::move(spec);
  child.address = std::move(*address);
  child_ids_.insert(child.spec->id);
  children_.push_back(std::move(child));
  return ok();
}

Status SupervisorNode::handle(SupervisorCommand& msg, Ctx& ctx) {
  return std::visit(
      [&](auto& cmd) -> Status {
        using T = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<T, SupervisorCommand::StartChild>) {
          // A supervisor on its way out starts nothing (the child would outlive it).
          Status started =
              mode_ == Mode::kSupervising
                  ? start_child(std::make_shared<const ChildSpec>(std::move(cmd.spec)), ctx)
                  : make_error(ErrorCode::kUnavailable, "supervisor is stopping");
          if (cmd.done) {
            if (started) {
              cmd.done(children_.back().address);
            } else {
              cmd.done(std::move(started).error());
            }
          }
        } else if constexpr (std::is_same_v<T, SupervisorCommand::TerminateChild>) {
          // Not while stopping every child: this one gets its turn in that order.
          const auto index = index_of(cmd.id);
          if (index >= 0 && mode_ == Mode::kSupervising) {
            auto gone = forget_child(static_cast<std::size_t>(index));
            stop_child(gone, ctx.system());
            if (gone.round != 0) return advance(gone.round, ctx);
          }
        } else if constexpr (std::is_same_v<T, SupervisorCommand::RestartDue>) {
          const Round* round = find_round(cmd.round);
          if (mode_ == Mode::kSupervising && round != nullptr && round->scheduled) {
            restart_round(cmd.round, ctx);
          }
        } else if constexpr (std::is_same_v<T, SupervisorCommand::HealthTick>) {
          if (mode_ == Mode::kSupervising) return health_tick(ctx);
        } else {
          std::vector<ChildInfo> infos;
          infos.reserve(children_.size());
          for (const auto& c : children_) {
            infos.push_back(ChildInfo{c.spec->id, c.address, state_of(c), c.restarts});
          }
          if (cmd.reply) cmd.reply(std::move(infos));
        }
        return ok();
      },
      msg.command);
}

void SupervisorNode::stop_child(Child& child, ActorSystem& system) const {
  // Free the name now: a restarted supervisor binds it again before this child is gone.
  if (!child.address.name().empty()) {
    system.registry().unbind(child.address.name(), child.address.id());
  }
  detail::SystemMessage msg{detail::SystemMessage::Kind::kStop};
  msg.origin = detail::StopOrigin::kSupervisor;
  const bool graceful = child.spec->shutdown.kind == ShutdownPolicy::Kind::kGraceful;
  msg.graceful = graceful;
  post_to(child.address, std::move(msg));
  // Armed during a system shutdown too: the next sibling waits for this one's end.
  if (graceful) {
    auto cell = child.address.shared_cell();
    child.kill_timer = system.run_after(child.spec->shutdown.timeout, [cell] {
      static_cast<void>(cell->post(detail::SystemMessage{detail::SystemMessage::Kind::kKill}));
    });
  }
}

Status SupervisorNode::health_tick(Ctx& ctx) {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    auto& child = children_[i];
    if (!child.spec->health_checks || state_of(child) != ChildState::kRunning) continue;
    if (child.probe_outstanding) {
      // No answer within a whole interval: as good as failed.
      emit(EventKind::kHealthCheckFailed, child, ctx, std::nullopt, "unresponsive");
      if (auto decided = restart(i, "did not answer its health check", ctx); !decided) {
        return decided;
      }
      if (mode_ != Mode::kSupervising) return ok();
      continue;
    }
    child.probe_outstanding = true;
    detail::SystemMessage probe{detail::SystemMessage::Kind::kHealthProbe};
    probe.peer = ctx.address();
    post_to(child.address, std::move(probe));
  }
  return ok();
}

void SupervisorNode::post_stop(Ctx& ctx) {
  wind_down();
  // Children are left here only when the supervisor was killed, stopped immediately or its
  // stop outlived its timeout: the rest stop now, each with its policy, without waiting.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    if (it->life != Life::kStopping) stop_child(*it, ctx.system());
  }
  children_.clear();
  child_ids_.clear();
}

ErrorAction SupervisorNode::on_error(const Error& /*error*/, Ctx& ctx) {
  // Escalation: let our own supervisor apply its strategy to this whole subtree. A root
  // supervisor that gave up ends with ExitReason::kFailed (restarting it would reset the
  // intensity window forever), which is what kEscalate does without a supervisor.
  return ctx.parent() ? ErrorAction::kRestart : ErrorAction::kEscalate;
}

ChildState SupervisorNode::state_of(const Child& child) const {
  if (mode_ != Mode::kSupervising || child.life == Life::kStopping) return ChildState::kStopping;
  return child.round != 0 ? ChildState::kRestarting : ChildState::kRunning;
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
  // From the back: a stop goes in reverse start order, so the child that reports is the last.
  for (std::size_t i = children_.size(); i-- > 0;) {
    if (children_[i].address == address) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

SupervisorNode::Child SupervisorNode::forget_child(std::size_t index) {
  Child child = std::move(children_[index]);
  children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(index));
  child_ids_.erase(child.spec->id);
  return child;
}

std::ptrdiff_t SupervisorNode::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].spec->id == id) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

void SupervisorNode::emit(EventKind kind, const Child& child, Ctx& ctx, std::optional<Error> error,
                          std::string detail) const {
  const auto& telemetry = ctx.system().telemetry();
  if (!telemetry->observed()) return;
  MonitoringEvent event{kind,     child.address.id(), child.address.name(),
                        ctx.id(), std::move(error),   std::move(detail)};
  event.child = child.spec->id;
  telemetry->emit(event);
}

}  // namespace capsule::rt

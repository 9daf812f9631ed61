// ComponentRuntime's life: construction and shutdown, starting and stopping components under
// their supervisors, what runs. Messaging, host calls, on-demand components, supervision groups,
// the log and access checks are in runtime_*.cpp.
#include <algorithm>
#include <utility>

#include <capsule/component/component_runtime.hpp>

#include "activation_directory.hpp"
#include "component_actor.hpp"
#include "guest_quotas.hpp"
#include "repeat_filter.hpp"
#include "stop_actors.hpp"

namespace capsule::component {

const ComponentId& ComponentRuntime::privileged_caller() {
  static const ComponentId kPrivilegedCaller{"host", "host", "0"};
  return kPrivilegedCaller;
}

ComponentRuntime::ComponentRuntime(rt::ActorSystem& system,
                                   std::shared_ptr<wasm::WasmEngine> engine, RuntimeConfig config)
    : system_(system),
      engine_(std::move(engine)),
      config_(std::move(config)),
      io_pool_(std::max(1U, config_.io_threads)),
      guard_(config_.policy, config_.audit, {.audit_allowed = config_.audit_allowed}),
      timeouts_(
          system.io_context(), [this](CorrelationId id) { tracker_.expire(id); },
          [this](CorrelationId id) { return tracker_.is_pending(id); }),
      broker_(system),
      repeats_(std::make_unique<RepeatFilter>(config_.log_repeat_window)) {
  repeats_timer_ = system_.run_periodic(std::chrono::seconds(1), [this] {
    repeats_->flush(RepeatFilter::Clock::now(),
                    [this](const RepeatFilter::Summary& s) { log_repeats(s); });
  });
}

ComponentRuntime::~ComponentRuntime() {
  repeats_timer_.cancel();
  std::vector<std::shared_ptr<ActivationDirectory>> directories;
  {
    std::unique_lock lock(directories_mutex_);
    directories.swap(directories_);
    has_directories_.store(false, std::memory_order_release);
  }
  for (const auto& d : directories) d->close();
  std::vector<Group> groups;
  {
    // A group being restarted by its escalation is started first, then stopped with the rest.
    std::unique_lock lock(groups_mutex_);
    closing_ = true;
    escalated_.wait(lock, [this] { return escalating_ == 0; });
    groups.swap(groups_);
  }
  // Graceful first: each supervisor stops its instances in reverse start order, each draining
  // its mailbox. A guest mid-call keeps its instance busy up to its wall-time limit, and the
  // supervisor waits for each in turn, so past the grace period the rest are killed. Actors hold
  // a pointer to this runtime: every one of them is gone before it is.
  std::vector<rt::ActorAddress> supervisors, everyone;
  for (const auto& g : groups) {
    supervisors.push_back(g.supervisor.ref().address());
    everyone.push_back(g.supervisor.ref().address());
    if (g.watch) everyone.push_back(g.watch);  // ends with its supervisor
    for (const auto& m : g.members) {
      for (const auto& id : m.ids) {
        if (auto ref = registry_.lookup(id)) everyone.push_back(ref->address());
      }
    }
  }
  stop_and_reap(system_, supervisors, everyone, std::chrono::seconds(5));
  // Storage tasks of the last calls finish before the storage and policy they use go away.
  io_pool_.join();
}

void ComponentRuntime::run_io(std::function<void()> task) {
  asio::post(io_pool_, std::move(task));
}

Result<std::vector<rt::ChildSpec>> ComponentRuntime::children_of(const ComponentSpec& spec,
                                                                 std::vector<ComponentId>& ids) {
  if (!spec.component) {
    return make_error(ErrorCode::kInvalidArgument,
                      "component spec '" + spec.name + "' has no component");
  }
  if (!is_valid_id_segment(spec.ns) || !is_valid_id_segment(spec.name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid component name '" + spec.ns + "/" + spec.name + "'");
  }
  if (spec.ns == privileged_caller().ns) {
    // host/host/0 is the privileged caller (host code), which no check applies to: no component
    // may wear that id.
    return make_error(ErrorCode::kInvalidArgument,
                      "component namespace '" + spec.ns + "' is reserved for the host");
  }
  if (spec.instances == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      spec.ns + "/" + spec.name + ": instances must be >= 1");
  }
  if (config_.policy) {
    // Registered before the instances start: their init may already call host functions.
    if (Status s = config_.policy->set_component(spec.ns, spec.name, spec.permissions); !s) {
      return make_error(ErrorCode::kInvalidArgument,
                        spec.ns + "/" + spec.name + ": " + s.error().message);
    }
  }
  std::vector<rt::ChildSpec> children;
  const rt::MailboxConfig mailbox = spec.mailbox.value_or(config_.default_mailbox);
  for (std::uint32_t i = 0; i < spec.instances; ++i) {
    auto plan = std::make_shared<InstancePlan>();
    plan->id = ComponentId{spec.ns, spec.name, std::to_string(i)};
    plan->component.store(spec.component);
    plan->config = spec.config;
    plan->limits = spec.limits;
    plan->serving = spec.serving;
    ids.push_back(plan->id);
    rt::ChildSpec child;
    child.id = plan->id.to_string();
    child.restart = spec.restart;
    child.options.mailbox = mailbox;
    child.health_checks = spec.supervision.health_interval.count() > 0;
    child.start = [this, plan](rt::ActorSystem& system,
                               const rt::SpawnOptions& options) -> Result<rt::ActorAddress> {
      auto ref = system.spawn<ComponentActor>(options, this, plan);
      if (!ref) return std::move(ref).error();
      static_cast<void>(registry_.add(ComponentRecord{
          plan->id, *ref, plan->component.load(), plan->limits, {}, plan->counters}));
      return ref->address();
    };
    children.push_back(std::move(child));
  }
  return children;
}

bool ComponentRuntime::is_running(std::string_view ns, std::string_view name) const {
  {
    std::shared_lock lock(directories_mutex_);
    for (const auto& d : directories_) {
      if (d->spec().ns == ns && d->spec().name == name) return true;
    }
  }
  std::lock_guard lock(groups_mutex_);
  for (const auto& g : groups_) {
    for (const auto& m : g.members) {
      if (m.running && m.spec.ns == ns && m.spec.name == name) return true;
    }
  }
  return false;
}

Result<std::vector<ComponentId>> ComponentRuntime::start(const ComponentSpec& spec) {
  if (spec.on_demand) return start_on_demand(spec);
  std::optional<rt::SupervisorRef> home;
  std::string group_name;
  {
    std::lock_guard lock(groups_mutex_);
    for (auto& g : groups_) {
      for (auto& m : g.members) {
        if (m.spec.ns == spec.ns && m.spec.name == spec.name && !m.running &&
            g.members.size() > 1) {
          // Back into the group it was stopped out of (e.g. `capsule restart` of one member).
          // Claimed now, so that a second start of the same name is refused meanwhile.
          m.running = true;
          home = g.supervisor;
          group_name = g.name;
        }
      }
    }
  }
  if (!home) {
    return start_group(
        SupervisionGroupSpec{spec.ns + "/" + spec.name, spec.supervision, {spec}, spec.escalation});
  }
  // Without the lock: the children's start runs on the supervisor's thread.
  declare_links(spec);
  auto ids = rejoin_group(*home, group_name, spec);
  if (!ids) forget_links(spec.ns, spec.name);
  std::lock_guard lock(groups_mutex_);
  for (auto& g : groups_) {
    for (auto& m : g.members) {
      if (m.spec.ns != spec.ns || m.spec.name != spec.name) continue;
      m.running = static_cast<bool>(ids);
      if (ids) {
        m.spec = spec;
        m.ids = *ids;
      }
    }
  }
  return ids;
}

std::shared_ptr<host::GuestQuotaGate> ComponentRuntime::quota_gate(const ComponentId& id,
                                                                   const ResourceLimits& limits) {
  std::string key = id.ns + "/" + id.name;
  std::lock_guard lock(quota_mutex_);
  auto& gate = quota_gates_[key];
  if (!gate) gate = std::make_shared<host::GuestQuotaGate>(std::move(key), quotas(limits), guard_);
  return gate;
}

Status ComponentRuntime::stop(std::string_view ns, std::string_view name) {
  std::shared_ptr<ActivationDirectory> on_demand;
  {
    std::unique_lock lock(directories_mutex_);
    auto it = std::find_if(directories_.begin(), directories_.end(), [&](const auto& d) {
      return d->spec().ns == ns && d->spec().name == name;
    });
    if (it != directories_.end()) {
      on_demand = std::move(*it);
      directories_.erase(it);
      has_directories_.store(!directories_.empty(), std::memory_order_release);
    }
  }
  if (on_demand) {
    // The other hosts stop placing its names here first, then its activations retire.
    if (config_.remote)
      config_.remote->on_demand_loaded(std::string(ns) + "/" + std::string(name), false);
    // Closed outside the lock: its activations' shutdown runs guest code, which may send.
    on_demand->close();
    std::lock_guard lock(quota_mutex_);
    quota_gates_.erase(std::string(ns) + "/" + std::string(name));
    return ok();
  }
  {
    // A component started again gets fresh quotas (its limits may have changed).
    std::lock_guard lock(quota_mutex_);
    quota_gates_.erase(std::string(ns) + "/" + std::string(name));
  }
  // Its own declarations go with it (a start with another spec declares afresh); its instances'
  // links end with them.
  forget_links(ns, name);
  std::optional<Group> whole;  // stopped with its supervisor
  std::vector<ComponentId> ids;
  {
    std::lock_guard lock(groups_mutex_);
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](const Group& g) {
      return std::any_of(g.members.begin(), g.members.end(), [&](const Member& m) {
        return m.running && m.spec.ns == ns && m.spec.name == name;
      });
    });
    if (it == groups_.end()) {
      return make_error(ErrorCode::kNotFound, "no component " + std::string(ns) + "/" +
                                                  std::string(name) + " is running");
    }
    const auto running = std::count_if(it->members.begin(), it->members.end(),
                                       [](const Member& m) { return m.running; });
    if (running == 1) {
      whole = std::move(*it);
      groups_.erase(it);
    } else {
      for (auto& m : it->members) {
        if (m.spec.ns != ns || m.spec.name != name) continue;
        m.running = false;
        ids = m.ids;
        for (const auto& id : ids)
          static_cast<void>(it->supervisor.terminate_child(id.to_string()));
      }
    }
  }
  if (whole) {
    system_.stop(whole->supervisor.address(), rt::StopMode::kGraceful);
    for (const auto& m : whole->members) {
      for (const auto& id : m.ids) registry_.remove(id);
    }
  }
  for (const auto& id : ids) registry_.remove(id);
  return ok();
}

std::optional<std::string> ComponentRuntime::group_of(std::string_view ns,
                                                      std::string_view name) const {
  if (directory_for(ComponentId{std::string(ns), std::string(name), "0"})) {
    return std::string(ns) + "/" + std::string(name);
  }
  std::lock_guard lock(groups_mutex_);
  for (const auto& g : groups_) {
    for (const auto& m : g.members) {
      if (m.running && m.spec.ns == ns && m.spec.name == name) return g.name;
    }
  }
  return std::nullopt;
}

std::vector<ComponentInfo> ComponentRuntime::list() const {
  std::vector<ComponentInfo> out;
  for (const auto& r : registry_.records()) {
    out.push_back(ComponentInfo{r.id, r.component ? r.component->name() : "", r.ref.alive(),
                                r.ref.mailbox_stats(), r.metadata});
  }
  std::shared_lock lock(directories_mutex_);
  for (const auto& d : directories_) {
    auto active = d->list();
    out.insert(out.end(), std::make_move_iterator(active.begin()),
               std::make_move_iterator(active.end()));
  }
  return out;
}

}  // namespace capsule::component

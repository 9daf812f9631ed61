#include <algorithm>
#include <atomic>
#include <cstdio>
#include <future>
#include <optional>
#include <thread>
#include <utility>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/flag_wait.hpp>

#include "activation_directory.hpp"
#include "component_actor.hpp"
#include "guest_quotas.hpp"
#include "repeat_filter.hpp"
#include "stop_actors.hpp"

namespace capsule::component {
namespace {

// Host code subscribed to a topic: an actor that hands each message to a callback.
class HostTopicActor final : public rt::Actor<ComponentEnvelope> {
 public:
  explicit HostTopicActor(std::function<void(const ComponentMessage&)> handler)
      : handler_(std::move(handler)) {}
  Status handle(ComponentEnvelope& e, rt::ActorContext<ComponentEnvelope>&) override {
    if (auto* d = std::get_if<ComponentEnvelope::Deliver>(&e.body)) handler_(d->message);
    return ok();
  }

 private:
  std::function<void(const ComponentMessage&)> handler_;
};

ComponentMessage message_from(const ComponentId& from, Payload payload) {
  return ComponentMessage{from, std::move(payload), std::nullopt, std::nullopt};
}

}  // namespace

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

Result<std::vector<ComponentId>> ComponentRuntime::start_on_demand(const ComponentSpec& spec) {
  // The checks every component gets (name, reserved namespace, permissions), on a copy that
  // builds no instance.
  ComponentSpec checked = spec;
  checked.instances = 1;
  std::vector<ComponentId> unused;
  if (auto children = children_of(checked, unused); !children) return std::move(children).error();
  const std::string what = spec.ns + "/" + spec.name;
  if (spec.on_demand->max_active == 0) {
    return make_error(ErrorCode::kInvalidArgument, what + ": max_active must be >= 1");
  }
  if (spec.on_demand->idle_timeout.count() <= 0) {
    return make_error(ErrorCode::kInvalidArgument, what + ": idle_timeout must be > 0");
  }
  if (!spec.links.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      what +
                          ": an on-demand component cannot be linked (its activations come and "
                          "go; links are for supervised instances)");
  }
  if (spec.serving) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + ": an on-demand component cannot be a failover unit");
  }
  if (is_running(spec.ns, spec.name)) {
    return make_error(ErrorCode::kAlreadyExists, what + " is already running");
  }
  auto directory = std::make_shared<ActivationDirectory>(*this, spec);
  {
    std::unique_lock lock(directories_mutex_);
    directories_.push_back(std::move(directory));
    has_directories_.store(true, std::memory_order_release);
  }
  // In a cluster, the other hosts learn that its names may be placed here.
  if (config_.remote) config_.remote->on_demand_loaded(what, true);
  return std::vector<ComponentId>{};
}

bool ComponentRuntime::loads_on_demand(std::string_view ns, std::string_view name) const {
  return directory_for(ComponentId{std::string(ns), std::string(name), "0"}) != nullptr;
}

void ComponentRuntime::placement_changed() {
  if (!has_directories_.load(std::memory_order_acquire)) return;
  run_io([this] {
    std::vector<std::shared_ptr<ActivationDirectory>> directories;
    {
      std::shared_lock lock(directories_mutex_);
      directories = directories_;
    }
    for (const auto& d : directories) d->release_moved();
  });
}

std::shared_ptr<ActivationDirectory> ComponentRuntime::directory_for(const ComponentId& id) const {
  if (!has_directories_.load(std::memory_order_acquire)) return nullptr;
  std::shared_lock lock(directories_mutex_);
  for (const auto& d : directories_) {
    if (d->spec().name == id.name && d->spec().ns == id.ns) return d;
  }
  return nullptr;
}

std::vector<ActivationStats> ComponentRuntime::activation_stats() const {
  std::vector<ActivationStats> out;
  std::shared_lock lock(directories_mutex_);
  out.reserve(directories_.size());
  for (const auto& d : directories_) out.push_back(d->stats());
  return out;
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

Result<std::vector<ComponentId>> ComponentRuntime::rejoin_group(const rt::SupervisorRef& supervisor,
                                                                const std::string& group,
                                                                const ComponentSpec& spec) {
  std::vector<ComponentId> ids;
  auto children = children_of(spec, ids);
  if (!children) return std::move(children).error();
  std::size_t started = 0;
  Status outcome = ok();
  for (auto& child : *children) {
    auto promise = std::make_shared<std::promise<Result<rt::ActorAddress>>>();
    auto done = promise->get_future();
    if (Status s = supervisor.start_child(
            std::move(child),
            [promise](Result<rt::ActorAddress> r) { promise->set_value(std::move(r)); });
        !s) {
      outcome = std::move(s);
      break;
    }
    if (done.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      outcome = make_error(ErrorCode::kTimeout, "group " + group + " did not start " + spec.ns +
                                                    "/" + spec.name + " within 30 s");
      break;
    }
    if (auto r = done.get(); !r) {
      Error e = std::move(r).error();
      e.message = "starting " + spec.ns + "/" + spec.name + " in group " + group + ": " + e.message;
      outcome = std::move(e);
      break;
    }
    ++started;
  }
  if (outcome) return ids;
  // All or nothing, as for a first start: the instances that did start leave again.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i < started) static_cast<void>(supervisor.terminate_child(ids[i].to_string()));
    registry_.remove(ids[i]);
  }
  return std::move(outcome).error();
}

Result<std::vector<ComponentId>> ComponentRuntime::start_group(const SupervisionGroupSpec& group) {
  if (group.members.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "supervision group " + group.name + " has no members");
  }
  for (const auto& spec : group.members) {
    if (spec.on_demand && group.members.size() > 1) {
      return make_error(ErrorCode::kInvalidArgument,
                        spec.ns + "/" + spec.name +
                            ": an on-demand component cannot be a member of supervision group " +
                            group.name + " (its activations are not supervised)");
    }
    if (spec.on_demand) return start_on_demand(spec);
    if (directory_for(ComponentId{spec.ns, spec.name, "0"})) {
      return make_error(ErrorCode::kAlreadyExists,
                        spec.ns + "/" + spec.name + " is already running (on demand)");
    }
  }
  {
    std::lock_guard lock(groups_mutex_);
    for (const auto& spec : group.members) {
      for (const auto& g : groups_) {
        for (const auto& m : g.members) {
          if (m.running && m.spec.ns == spec.ns && m.spec.name == spec.name) {
            return make_error(ErrorCode::kAlreadyExists,
                              spec.ns + "/" + spec.name + " is already running");
          }
        }
      }
    }
  }
  std::vector<rt::ChildSpec> children;
  std::vector<Member> members;
  std::vector<ComponentId> all_ids;
  for (const auto& spec : group.members) {
    Member m{spec, {}, true};
    auto mine = children_of(spec, m.ids);
    if (!mine) return std::move(mine).error();
    for (auto& c : *mine) children.push_back(std::move(c));
    all_ids.insert(all_ids.end(), m.ids.begin(), m.ids.end());
    members.push_back(std::move(m));
  }
  // Before the instances start: each links with its declared peers in its pre_start.
  for (const auto& spec : group.members) declare_links(spec);
  auto supervisor = rt::SupervisorNode::start(system_, group.supervision, std::move(children));
  if (!supervisor) {
    for (const auto& spec : group.members) forget_links(spec.ns, spec.name);
    for (const auto& id : all_ids) registry_.remove(id);
    Error e = std::move(supervisor).error();
    e.message = "starting " +
                (group.members.size() == 1 ? group.name : "supervision group " + group.name) +
                ": " + e.message;
    return e;
  }
  rt::ActorAddress watch;
  if (group.escalation.action == GroupEscalation::Action::kRestartGroup) {
    auto w = watch_group(*supervisor);
    if (!w) {
      system_.stop(supervisor->address());
      for (const auto& spec : group.members) forget_links(spec.ns, spec.name);
      for (const auto& id : all_ids) registry_.remove(id);
      return std::move(w).error();
    }
    watch = *w;
  }
  std::lock_guard lock(groups_mutex_);
  groups_.push_back(Group{group.name, *supervisor, std::move(members), group.escalation,
                          std::move(watch), group.supervision});
  return all_ids;
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

namespace {

// Components' payloads are checked against their own limits where the guest hands them over
// (the engine's host bridge); this covers what the host itself sends (admin API, embedders).
Status host_payload_fits(const ComponentId& from, const Payload& payload, std::uint64_t limit) {
  if (from != ComponentRuntime::privileged_caller() || payload.bytes.size() <= limit) return ok();
  return make_error(ErrorCode::kInvalidArgument,
                    payload_too_large(payload.bytes.size(), limit, "the host"));
}

// A send to an instance whose actor has ended names the component, not the runtime's internal
// actor number ("actor 4 is gone" told an operator nothing). An ActorRef send answers
// kUnavailable only for that (rt/actor_ref.hpp), so the code says it; the text need not.
Status name_gone_target(Status sent, const ComponentId& to) {
  if (sent || sent.error().code != ErrorCode::kUnavailable) return sent;
  return make_error(ErrorCode::kUnavailable,
                    "component " + to.to_string() +
                        " is not running (stopped, or its supervisor gave up restarting it)");
}

// A peer sent a name of an on-demand component here that this host does not serve in its own
// view of the cluster: refused, never forwarded on (two views that disagree could bounce it).
Error served_elsewhere(const ComponentId& to) {
  return make_error(ErrorCode::kUnavailable,
                    "name " + to.to_string() +
                        " is not served by this host now (the cluster's membership is changing; "
                        "its owner differs between hosts' views): not handled, try again");
}

}  // namespace

Status ComponentRuntime::peer_payload_fits(const ComponentId& from, const ComponentId& to,
                                           const Payload& payload) const {
  // What another host hands over is held to the receiving component's own limit, as a local
  // sender's payload is (the other host checked it against its own limits, which may differ).
  ResourceLimits limits;
  if (auto d = directory_for(to)) {
    limits = d->spec().limits;
  } else if (const auto record = registry_.record(to)) {
    limits = record->limits;
  }
  const std::uint64_t limit = max_payload_bytes(limits);
  if (payload.bytes.size() <= limit) return ok();
  return make_error(
      ErrorCode::kInvalidArgument,
      payload_too_large(payload.bytes.size(), limit, from.to_string() + " on another host") +
          " of " + to.to_string());
}

Status ComponentRuntime::admit_send(const ComponentId& from, const ComponentId& to,
                                    const Payload& payload) const {
  if (Status s = host_payload_fits(from, payload, config_.max_payload_bytes); !s) return s;
  return authorize_to(from, security::Action::kSend, to);
}

Status ComponentRuntime::send(const ComponentId& from, const ComponentId& to, Payload payload) {
  if (Status s = admit_send(from, to, payload); !s) return s;
  return route(from, to, std::move(payload));
}

void ComponentRuntime::send_later(const ComponentId& from, const ComponentId& to, Payload payload,
                                  std::function<void(Status)> done, bool in_turn) {
  if (Status s = admit_send(from, to, payload); !s) return done(s);
  const auto remote = [&] {
    if (in_turn) return config_.remote->send_in_turn(from, to, std::move(payload), std::move(done));
    config_.remote->send_later(from, to, payload, std::move(done));
  };
  if (auto d = directory_for(to)) {
    // Another host serves this name now: the message goes there, as to any remote component.
    if (!serves_here(to)) return remote();
    return done(d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}));
  }
  auto target = registry_.lookup(to);
  if (!target && config_.remote && target.error().code == ErrorCode::kNotFound) return remote();
  if (!target) return done(std::move(target).error());
  done(name_gone_target(target->send(ComponentEnvelope{
                            ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}),
                        to));
}

void ComponentRuntime::send_batch(const ComponentId& from, std::vector<OutgoingMessage> messages,
                                  BatchDone done) {
  if (messages.size() > kMaxSendBatch) {
    return done(batch_too_large(messages.size(), from.to_string()));
  }
  std::vector<Status> outcomes(messages.size());
  std::vector<std::size_t> where;  // of each message for another host, in `outcomes`
  std::vector<OutgoingMessage> remote;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& [to, payload] = messages[i];
    if (Status s = admit_send(from, to, payload); !s) {
      outcomes[i] = std::move(s);
      continue;
    }
    auto d = directory_for(to);
    if (d && !serves_here(to)) {
      where.push_back(i);
      remote.push_back(std::move(messages[i]));
      continue;
    }
    if (d) {
      outcomes[i] = d->deliver(
          to,
          ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
      continue;
    }
    auto target = registry_.lookup(to);
    if (!target && config_.remote && target.error().code == ErrorCode::kNotFound) {
      where.push_back(i);
      remote.push_back(std::move(messages[i]));
      continue;
    }
    if (!target) {
      outcomes[i] = std::move(target).error();
      continue;
    }
    // Never waits for room (the guest asked for every outcome at once): as full instead.
    Status s = name_gone_target(target->send_nowait(ComponentEnvelope{ComponentEnvelope::Deliver{
                                    message_from(from, std::move(payload))}}),
                                to);
    if (!s && s.error().code == ErrorCode::kWouldBlock) {
      s = make_error(ErrorCode::kMailboxFull,
                     "mailbox of " + to.to_string() +
                         " is full (a batched send does not wait for room; send it alone to wait)");
    }
    outcomes[i] = std::move(s);
  }
  if (remote.empty()) return done(std::move(outcomes));
  config_.remote->send_batch_later(from, std::move(remote),
                                   [outcomes = std::move(outcomes), where = std::move(where),
                                    done = std::move(done)](std::vector<Status> sent) mutable {
                                     for (std::size_t k = 0; k < where.size() && k < sent.size();
                                          ++k) {
                                       outcomes[where[k]] = std::move(sent[k]);
                                     }
                                     done(std::move(outcomes));
                                   });
}

Status ComponentRuntime::route(const ComponentId& from, const ComponentId& to, Payload payload) {
  if (auto d = directory_for(to)) {
    if (!serves_here(to)) return config_.remote->send(from, to, payload);
    return d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
  }
  auto target = registry_.lookup(to);
  if (!target && config_.remote && target.error().code == ErrorCode::kNotFound) {
    return config_.remote->send(from, to, payload);
  }
  if (!target) return std::move(target).error();
  return name_gone_target(target->send(ComponentEnvelope{
                              ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}),
                          to);
}

Result<CorrelationId> ComponentRuntime::request(const ComponentId& from, const ComponentId& to,
                                                Payload payload, std::chrono::milliseconds timeout,
                                                std::function<void(CallbackResponse)> deliver) {
  return checked_request(from, to, std::move(payload), timeout, std::move(deliver), false);
}

Result<CorrelationId> ComponentRuntime::checked_request(
    const ComponentId& from, const ComponentId& to, Payload payload,
    std::chrono::milliseconds timeout, std::function<void(CallbackResponse)> deliver,
    bool run_here) {
  if (Status s = host_payload_fits(from, payload, config_.max_payload_bytes); !s) {
    return std::move(s).error();
  }
  if (Status s = authorize_to(from, security::Action::kRequest, to); !s) {
    return std::move(s).error();
  }
  return begin_request(from, to, std::move(payload), timeout, std::move(deliver), Origin::kLocal,
                       run_here);
}

Status ComponentRuntime::send_from_peer(const ComponentId& from, const ComponentId& to,
                                        Payload payload) {
  if (Status s = authorize_to(from, security::Action::kSend, to, Origin::kPeer); !s) return s;
  if (Status s = peer_payload_fits(from, to, payload); !s) return s;
  if (auto d = directory_for(to)) {
    if (!serves_here(to)) return served_elsewhere(to);
    return d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
  }
  auto target = registry_.lookup(to);
  if (!target) return std::move(target).error();
  return enqueue(
      *target, to,
      ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}},
      Origin::kPeer);
}

Status ComponentRuntime::enqueue(const rt::ActorRef<ComponentEnvelope>& target,
                                 const ComponentId& to, ComponentEnvelope envelope, Origin origin) {
  if (origin == Origin::kLocal) return name_gone_target(target.send(std::move(envelope)), to);
  // Never waits: a peer's message arrives on a network delivery thread that serves other actors
  // (and the heartbeats) too. A full `block` mailbox refuses it as full instead.
  Status s = name_gone_target(target.send_nowait(std::move(envelope)), to);
  if (!s && s.error().code == ErrorCode::kWouldBlock) {
    return make_error(ErrorCode::kMailboxFull,
                      "mailbox of " + to.to_string() +
                          " is full (a message from another host does not wait for room)");
  }
  return s;
}

Result<CorrelationId> ComponentRuntime::request_from_peer(
    const ComponentId& from, const ComponentId& to, Payload payload,
    std::chrono::milliseconds timeout, std::function<void(CallbackResponse)> deliver) {
  if (Status s = authorize_to(from, security::Action::kRequest, to, Origin::kPeer); !s) {
    return std::move(s).error();
  }
  if (Status s = peer_payload_fits(from, to, payload); !s) return std::move(s).error();
  return begin_request(from, to, std::move(payload), timeout, std::move(deliver), Origin::kPeer);
}

Result<CorrelationId> ComponentRuntime::begin_request(const ComponentId& from,
                                                      const ComponentId& to, Payload payload,
                                                      std::chrono::milliseconds timeout,
                                                      std::function<void(CallbackResponse)> deliver,
                                                      Origin origin, bool run_here) {
  auto d = directory_for(to);
  // The owner of an on-demand name is hashed over the live hosts: worked out once.
  const bool here = d && serves_here(to);
  if (d && !here && origin == Origin::kPeer) return served_elsewhere(to);
  if (here) {
    const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
    ComponentMessage message = message_from(from, std::move(payload));
    message.correlation = id;
    if (Status s =
            d->deliver(to, ComponentEnvelope{ComponentEnvelope::Deliver{std::move(message)}});
        !s) {
      tracker_.abandon(id);
      return std::move(s).error();
    }
    timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
    return id;
  }
  // A name of an on-demand component another host serves now: a remote target like any other.
  auto target = d ? Result<rt::ActorRef<ComponentEnvelope>>(make_error(ErrorCode::kNotFound, ""))
                  : registry_.lookup(to);
  // A local caller's target may be another host's; a peer's is this host's only.
  if (!target && origin == Origin::kLocal && config_.remote &&
      target.error().code == ErrorCode::kNotFound) {
    // Another host's component: this tracker and timer still decide the one outcome.
    const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
    if (Status s = config_.remote->request(from, to, payload, id, timeout); !s) {
      tracker_.abandon(id);
      return std::move(s).error();
    }
    timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
    return id;
  }
  if (!target) return std::move(target).error();
  const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
  ComponentMessage message = message_from(from, std::move(payload));
  message.correlation = id;
  ComponentEnvelope envelope{ComponentEnvelope::Deliver{std::move(message)}};
  Status sent = run_here && origin == Origin::kLocal
                    ? name_gone_target(target->send_run_here(std::move(envelope)), to)
                    : enqueue(*target, to, std::move(envelope), origin);
  if (!sent) {
    tracker_.abandon(id);
    return std::move(sent).error();
  }
  // Answered during an inline turn: no deadline to keep (the timer would find it ended anyway).
  if (run_here && !tracker_.is_pending(id)) return id;
  timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
  return id;
}

namespace {

// What a host-side requester gets from a request's one outcome.
Result<Payload> outcome_of(CallbackResponse resp) {
  if (resp.reply) return std::move(*resp.reply);
  return resp.error.value_or(Error{ErrorCode::kInternal, "request ended without outcome"});
}

// One reply slot for call(): the worker that completes the request fills it and flips `done`;
// the caller spins on `done` for a while, then sleeps on it (std::atomic::wait, a futex).
struct ReplySlot {
  std::atomic<bool> done{false};
  std::optional<Result<Payload>> outcome;
};

}  // namespace

std::future<Result<Payload>> ComponentRuntime::ask(const ComponentId& to, Payload payload,
                                                   std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<Payload>>>();
  auto future = promise->get_future();
  auto r = request(
      privileged_caller(), to, std::move(payload), timeout,
      [promise](CallbackResponse resp) { promise->set_value(outcome_of(std::move(resp))); });
  if (!r) promise->set_value(std::move(r).error());
  return future;
}

Result<Payload> ComponentRuntime::call(const ComponentId& to, Payload payload,
                                       std::chrono::milliseconds timeout) {
  auto slot = std::make_shared<ReplySlot>();
  auto r = checked_request(
      privileged_caller(), to, std::move(payload), timeout,
      [slot](CallbackResponse resp) {
        slot->outcome = outcome_of(std::move(resp));
        slot->done.store(true, std::memory_order_release);
        slot->done.notify_one();
      },
      /*run_here=*/true);
  if (!r) return std::move(r).error();
  // Answered already when the target was idle (its turn ran on this thread); otherwise a
  // worker answers: the tracker's timeout guarantees the callback runs, so the wait is bounded.
  rt::wait_for_flag(slot->done);
  return std::move(*slot->outcome);  // set before `done`
}

Status ComponentRuntime::cancel(CorrelationId correlation, const ComponentId& requester) {
  return tracker_.cancel(correlation, requester);
}

Result<std::uint32_t> ComponentRuntime::broadcast(const ComponentId& from,
                                                  const std::vector<ComponentId>& to,
                                                  const Payload& payload) {
  std::uint32_t delivered = 0;
  std::optional<Error> denied;
  for (const auto& id : to) {
    // Checked per target under messaging.broadcast: a broadcast grant is its own permission.
    if (Status s = authorize_to(from, security::Action::kBroadcast, id); !s) {
      if (!denied) denied = std::move(s).error();
      continue;
    }
    if (route(from, id, payload)) ++delivered;
  }
  // Every target refused: say why rather than a bare 0.
  if (denied && delivered == 0) return *denied;
  return delivered;
}

Result<std::uint32_t> ComponentRuntime::publish(const ComponentId& from, std::string_view topic,
                                                const Payload& payload) {
  if (Status s = authorize(from, security::Action::kPublish, topic); !s) {
    return std::move(s).error();
  }
  auto reached = publish_here(from, topic, payload);
  // The count is of local subscribers: other hosts receive it asynchronously.
  if (reached && config_.remote) config_.remote->publish(from, topic, payload);
  return reached;
}

Result<std::uint32_t> ComponentRuntime::publish_from_peer(const ComponentId& from,
                                                          std::string_view topic,
                                                          const Payload& payload) {
  if (Status s = authorize(from, security::Action::kPublish, topic, Origin::kPeer); !s) {
    return std::move(s).error();
  }
  if (payload.bytes.size() > config_.max_payload_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      payload_too_large(payload.bytes.size(), config_.max_payload_bytes,
                                        from.to_string() + " on another host") +
                          " of this host (publish on " + std::string(topic) + ")");
  }
  return publish_here(from, topic, payload);
}

Result<std::uint32_t> ComponentRuntime::publish_here(const ComponentId& from,
                                                     std::string_view topic,
                                                     const Payload& payload) {
  if (topic.empty()) return make_error(ErrorCode::kInvalidArgument, "empty topic name");
  ComponentMessage message = message_from(from, payload);
  message.topic = std::string(topic);
  const auto n =
      broker_.publish(topic, ComponentEnvelope{ComponentEnvelope::Deliver{std::move(message)}});
  return static_cast<std::uint32_t>(n);
}

Status ComponentRuntime::subscribe(std::string_view topic, const ComponentId& subscriber) {
  if (Status s = authorize(subscriber, security::Action::kSubscribe, topic); !s) return s;
  if (topic.empty()) return make_error(ErrorCode::kInvalidArgument, "empty topic name");
  auto ref = registry_.lookup(subscriber);
  if (!ref) return std::move(ref).error();
  return broker_.subscribe(topic, *ref);
}

Status ComponentRuntime::unsubscribe(std::string_view topic, const ComponentId& subscriber) {
  if (Status s = authorize(subscriber, security::Action::kSubscribe, topic); !s) return s;
  auto ref = registry_.lookup(subscriber);
  if (!ref) return std::move(ref).error();
  if (!broker_.unsubscribe(topic, *ref)) {
    return make_error(ErrorCode::kNotFound,
                      subscriber.to_string() + " is not subscribed to " + std::string(topic));
  }
  return ok();
}

Result<HostSubscription> ComponentRuntime::subscribe_host(
    std::string_view topic, std::function<void(const ComponentMessage&)> handler) {
  auto ref = system_.spawn<HostTopicActor>(rt::SpawnOptions{}, std::move(handler));
  if (!ref) return std::move(ref).error();
  if (Status s = broker_.subscribe(topic, *ref); !s) return std::move(s).error();
  return HostSubscription([this, topic = std::string(topic), ref = *ref] {
    broker_.unsubscribe(topic, ref);
    system_.stop(ref.address());
  });
}

void ComponentRuntime::deliver_callback(const rt::ActorRef<ComponentEnvelope>& to,
                                        CallbackResponse response) {
  // The control lane: a requester flooded with data still gets its outcome, and no mailbox
  // policy can drop or evict it. Only a requester that is gone misses it (a dead letter).
  static_cast<void>(
      to.send_control(ComponentEnvelope{ComponentEnvelope::Callback{std::move(response)}}));
}

bool ComponentRuntime::complete_request(CorrelationId correlation, const ComponentId& responder,
                                        Result<std::optional<Payload>> outcome) {
  CallbackResponse response;
  response.responder = responder;
  if (outcome) {
    response.reply = outcome->value_or(Payload{});
    return tracker_.resolve(correlation, std::move(response), RequestOutcome::kReplied);
  }
  response.error = std::move(outcome).error();
  return tracker_.resolve(correlation, std::move(response), RequestOutcome::kFailed);
}

namespace {

// A RepeatFilter key: the level (one character), who, and the text.
constexpr char kKeySeparator = '\x1f';

std::string repeat_key(const ComponentId& who, wasm::LogLevel level, const std::string& message) {
  std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
  key += who.to_string();
  key += kKeySeparator;
  key += message;
  return key;
}

}  // namespace

void ComponentRuntime::log(const ComponentId& who, wasm::LogLevel level, const std::string& message,
                           const wasm::KeyValues& fields) const {
  const bool write = repeats_->pass(repeat_key(who, level, message), RepeatFilter::Clock::now(),
                                    [this](const RepeatFilter::Summary& s) { log_repeats(s); });
  if (write) write_log(who, level, message, fields);
}

void ComponentRuntime::log_repeats(const RepeatFilter::Summary& s) const {
  const auto level = static_cast<wasm::LogLevel>(s.key.front() - '0');
  const auto separator = s.key.find(kKeySeparator);
  auto who = ComponentId::parse(std::string_view(s.key).substr(1, separator - 1));
  // The line is written when the next one arrives, possibly long after the repeats: the fields
  // say when they happened, for readers that order events by time (the text has seconds only).
  const auto epoch_ms = [](RepeatFilter::Clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  };
  write_log(who ? *who : privileged_caller(), level,
            s.key.substr(separator + 1) + " [" + describe_repeats(s) + "]",
            {{"repeat_first_ts", epoch_ms(s.first)}, {"repeat_last_ts", epoch_ms(s.last)}});
}

void ComponentRuntime::write_log(const ComponentId& who, wasm::LogLevel level,
                                 const std::string& message, const wasm::KeyValues& fields) const {
  if (config_.log_sink) {
    config_.log_sink(who, level, message, fields);
    return;
  }
  std::fprintf(stderr, "%s\n", wasm::format_log_line(who, level, message, fields).c_str());
}

Status ComponentRuntime::authorize(const ComponentId& who, security::Action action,
                                   std::string_view target, Origin origin) const {
  if (!guard_.enforcing()) return ok();
  if (origin == Origin::kPeer) {
    // Delivered by the cluster bridge: the peer host checked its component's grants; here only
    // the operator's rules apply.
    return guard_.authorize_foreign(who, action, target);
  }
  // Host code is the party that grants capabilities; it is not checked against them. Every
  // other local caller is a component, checked against its grants even in the windows where
  // it is not registered (its first init, its shutdown): the identity is its instance's.
  if (who == privileged_caller()) return ok();
  return guard_.authorize(who, action, target);
}

Status ComponentRuntime::authorize_to(const ComponentId& who, security::Action action,
                                      const ComponentId& target, Origin origin) const {
  // Without a policy the target is never looked at: no id formatting on the messaging hot path.
  if (!guard_.enforcing()) return ok();
  return authorize(who, action, target.to_string(), origin);
}

}  // namespace capsule::component

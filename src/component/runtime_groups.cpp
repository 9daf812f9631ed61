// ComponentRuntime's supervision groups: components started under one supervisor, and a
// component rejoining its group's supervisor.
#include <utility>

#include <capsule/component/component_runtime.hpp>

#include "component_actor.hpp"
#include "stop_actors.hpp"

namespace capsule::component {

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

}  // namespace capsule::component

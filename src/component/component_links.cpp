// Links between component instances, on the runtime's own link primitive (rt ActorContext::link).
// Declared links (ComponentSpec::links) are made by each instance's pre_start with the peers
// running then, so every incarnation makes its own and a restart leaks none; explicit ones come
// from link(). Exit signals travel the actors' system lane: no mailbox bound refuses them and a
// waiting guest call does not hold them back. ComponentActor traps them and decides
// (component_actor.cpp, on_signal).
#include <algorithm>
#include <string>
#include <vector>

#include <capsule/component/component_runtime.hpp>

namespace capsule::component {
namespace {

std::string key_of(std::string_view ns, std::string_view name) {
  return std::string(ns) + "/" + std::string(name);
}

}  // namespace

void ComponentRuntime::declare_links(const ComponentSpec& spec) {
  std::vector<std::string> peers;
  const std::string self = key_of(spec.ns, spec.name);
  for (const auto& other : spec.links) {
    if (other != self && std::find(peers.begin(), peers.end(), other) == peers.end()) {
      peers.push_back(other);
    }
  }
  std::lock_guard lock(links_mutex_);
  if (peers.empty()) {
    declared_links_.erase(self);
  } else {
    declared_links_[self] = std::move(peers);
  }
}

void ComponentRuntime::forget_links(std::string_view ns, std::string_view name) {
  std::lock_guard lock(links_mutex_);
  declared_links_.erase(key_of(ns, name));
}

std::vector<rt::ActorAddress> ComponentRuntime::declared_peers(const ComponentId& id) const {
  std::vector<std::string> names;  // both directions: what it declared, and who declared it
  {
    std::lock_guard lock(links_mutex_);
    if (declared_links_.empty()) return {};
    const std::string self = key_of(id.ns, id.name);
    if (auto it = declared_links_.find(self); it != declared_links_.end()) names = it->second;
    for (const auto& [other, peers] : declared_links_) {
      if (other != self && std::find(peers.begin(), peers.end(), self) != peers.end() &&
          std::find(names.begin(), names.end(), other) == names.end()) {
        names.push_back(other);
      }
    }
  }
  std::vector<rt::ActorAddress> out;
  if (names.empty()) return out;
  for (const auto& record : registry_.records()) {
    // A peer that is not running (not started yet, stopped, given up) is not linked: it links
    // with this one when it starts. A peer that ends while the link is made answers noproc.
    if (!record.ref.alive()) continue;
    if (std::find(names.begin(), names.end(), key_of(record.id.ns, record.id.name)) !=
        names.end()) {
      out.push_back(record.ref.address());
    }
  }
  return out;
}

Status ComponentRuntime::link(const ComponentId& a, const ComponentId& b) {
  auto from = registry_.lookup(a);
  if (!from)
    return make_error(ErrorCode::kNotFound, "link: no instance " + a.to_string() + " here");
  auto to = registry_.lookup(b);
  if (!to) return make_error(ErrorCode::kNotFound, "link: no instance " + b.to_string() + " here");
  if (a == b) return ok();  // as in Erlang, linking to oneself does nothing
  Status s = system_.link(from->address(), to->address());
  if (!s) return make_error(ErrorCode::kNotFound, "link: " + a.to_string() + " is not running");
  return ok();
}

Status ComponentRuntime::unlink(const ComponentId& a, const ComponentId& b) {
  auto from = registry_.lookup(a);
  if (!from) {
    return make_error(ErrorCode::kNotFound, "unlink: no instance " + a.to_string() + " here");
  }
  auto to = registry_.lookup(b);
  if (!to) {
    return make_error(ErrorCode::kNotFound, "unlink: no instance " + b.to_string() + " here");
  }
  system_.unlink(from->address(), to->address());
  return ok();
}

std::string ComponentRuntime::describe(const rt::ActorAddress& address) const {
  for (const auto& record : registry_.records()) {
    if (record.ref.address() == address) return record.id.to_string();
  }
  return "actor " + std::to_string(address.id());
}

}  // namespace capsule::component

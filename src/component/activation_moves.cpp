// ActivationDirectory across a cluster: names whose owner moved to another host leave this one.
#include "activation_directory.hpp"

namespace capsule::component {

bool ActivationDirectory::moved_locked(const std::string& name) const {
  // While the lease that this host's claims rest on has lapsed, every name may be another
  // host's by now.
  if (NameClaimer* claimer = runtime_.name_claimer();
      claimer != nullptr && !claimer->window()->is_open()) {
    return true;
  }
  return runtime_.has_remote() && !runtime_.serves_here(id_of(name));
}

Error ActivationDirectory::moved_error() const {
  return make_error(ErrorCode::kUnavailable,
                    "a name of " + spec_.ns + "/" + spec_.name +
                        " moved to another host of the cluster before the message was handled "
                        "(membership changed, or this host's lease on its names lapsed): not "
                        "handled, try again");
}

void ActivationDirectory::release_moved() {
  Refusals moved;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    release_moved_locked(moved);
  }
  refuse(std::move(moved), moved_error());
}

void ActivationDirectory::release_moved_locked(Refusals& refused) {
  if (!runtime_.has_remote() && runtime_.name_claimer() == nullptr) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.state == State::kActivating || e.state == State::kRetiring || !moved_locked(it->first)) {
      // Activating: retired by a later pass, once active. Retiring: retired() sees it moved.
      ++it;
      continue;
    }
    if (e.state == State::kActive) {
      // After what its mailbox holds (those messages were routed here while it was the owner).
      // A full mailbox refuses the Retire: the next sweep tries again.
      if (e.ref.alive()) static_cast<void>(retire_locked(e));
      ++it;
      continue;
    }
    // Waiting for room: never activated here. Its slot in waiting_ is skipped when met.
    for (auto& env : e.held) refused.push_back({it->first, std::move(env)});
    it = entries_.erase(it);
  }
}

}  // namespace capsule::component

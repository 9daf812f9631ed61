// ActivationDirectory across a cluster: a name is claimed, and its storage fenced, before it is
// activated here; names whose owner moved to another host leave this one.
#include <capsule/storage/kv_backend.hpp>

#include "activation_directory.hpp"

namespace capsule::component {

void ActivationDirectory::activate(std::string name) {
  // Each failed activation hands its slot to the next waiting name: a loop, not a recursion.
  while (!name.empty()) {
    if (NameClaimer* claimer = runtime_.name_claimer(); claimer != nullptr) {
      // Claimed every time, also a name this host just retired with messages held: the claim
      // may have gone elsewhere meanwhile (this host lost its lease and got it back).
      claimer->claim(id_of(name),
                     [this, name](const Result<std::uint64_t>& token) { claimed(name, token); });
      return;
    }
    name = spawn_activation(name, 0);
  }
}

Status ActivationDirectory::fence_storage(const std::string& name, std::uint64_t token) const {
  storage::KvBackend* kv = runtime_.storage();
  if (kv == nullptr || !runtime_.fences_names()) return ok();
  // Its errors name the space, the name and the token ("cannot fence shop/cart/x with ...").
  return kv->fence(spec_.ns + "/" + spec_.name, name, token);
}

void ActivationDirectory::claimed(const std::string& name, const Result<std::uint64_t>& claim) {
  // The name's storage fence moves to the claim's token before the activation's init reads its
  // state: from then on the storage server refuses every write of an activation of this name
  // under an older claim, on whichever host and however late it arrives.
  Status fenced = claim ? fence_storage(name, *claim) : ok();
  if (claim && fenced) {
    {
      std::lock_guard lock(mu_);
      entries_.at(name).claimed = true;  // kActivating: nothing erases it while spawning_ counts
    }
    const std::uint64_t token = runtime_.fences_names() ? *claim : 0;
    if (std::string next = spawn_activation(name, token); !next.empty()) {
      activate(std::move(next));
    }
    return;
  }
  // Another host has the name active (or the claims cannot be reached), or its storage could not
  // be fenced: what waits for this activation is refused with that reason, and the slot goes to
  // the next waiting name.
  const Error why = claim ? fenced.error() : claim.error();
  Refusals refused;
  std::string next;
  {
    std::lock_guard lock(mu_);
    --spawning_;
    auto it = entries_.find(name);
    for (auto& env : it->second.held) refused.push_back({name, std::move(env)});
    entries_.erase(it);
    --occupied_;
    ++(claim ? totals_.failed_activations : totals_.refused_claims);
    next = admit_waiting_locked();
  }
  if (claim) {
    // Claimed but not fenced: not activated, so the claim goes back.
    release_claim(name);
    runtime_.log(ComponentId{spec_.ns, spec_.name, "*"}, wasm::LogLevel::kError,
                 "activation failed: " + why.describe(), {{"instance", name}});
  }
  refuse(std::move(refused), why);
  if (!next.empty()) activate(std::move(next));
}

void ActivationDirectory::release_claim(const std::string& name) const {
  if (NameClaimer* claimer = runtime_.name_claimer(); claimer != nullptr) {
    claimer->release(id_of(name));
  }
}

void ActivationDirectory::fenced_out(const std::string& name, const Error& why) {
  runtime_.log(
      ComponentId{spec_.ns, spec_.name, "*"}, wasm::LogLevel::kError,
      "storage write refused by the name's fence, activation deactivated: " + why.describe(),
      {{"instance", name}});
  std::lock_guard lock(mu_);
  ++totals_.fenced_writes;
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  // Another host has the name now: this activation's state is stale. It retires (behind what
  // its mailbox holds, which this host's closed lease window refuses) rather than serve it.
  it->second.failed = true;  // retired now, or by the next sweep if its mailbox is full
  if (it->second.state == State::kActive) static_cast<void>(retire_locked(it->second));
}

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

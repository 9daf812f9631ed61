#include <string>
#include <utility>

#include <capsule/rt/actor_registry.hpp>

namespace capsule::rt {

ActorRegistry::Shard& ActorRegistry::shard_for(std::string_view name) const noexcept {
  return shards_[std::hash<std::string_view>{}(name) % kShards];
}

Status ActorRegistry::bind(std::string name, ActorAddress address) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "empty actor name");
  if (!address) return make_error(ErrorCode::kInvalidArgument, "empty address for " + name);
  auto& shard = shard_for(name);
  std::unique_lock lock(shard.mutex);
  // try_emplace leaves `name` untouched when the key exists, so it->first is the name either way.
  auto [it, inserted] = shard.names.try_emplace(std::move(name), address);
  if (!inserted) {
    if (it->second.alive()) {
      return make_error(ErrorCode::kAlreadyExists, "actor name '" + it->first + "' is taken");
    }
    it->second = std::move(address);  // a stale binding of a terminated actor
  }
  return ok();
}

bool ActorRegistry::unbind(std::string_view name, ActorId expected) {
  auto& shard = shard_for(name);
  std::unique_lock lock(shard.mutex);
  auto it = shard.names.find(name);
  if (it == shard.names.end()) return false;
  if (expected != 0 && it->second.id() != expected) return false;
  shard.names.erase(it);
  return true;
}

Result<ActorAddress> ActorRegistry::lookup(std::string_view name) const {
  auto& shard = shard_for(name);
  std::shared_lock lock(shard.mutex);
  auto it = shard.names.find(name);
  if (it == shard.names.end()) {
    return make_error(ErrorCode::kNotFound, "no actor named '" + std::string(name) + "'");
  }
  return it->second;
}

std::size_t ActorRegistry::size() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    total += shard.names.size();
  }
  return total;
}

}  // namespace capsule::rt

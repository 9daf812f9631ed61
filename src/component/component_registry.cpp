#include <mutex>
#include <optional>
#include <utility>

#include <capsule/component/component_registry.hpp>

namespace capsule::component {

Status ComponentRegistry::add(ComponentRecord record) {
  Shard& shard = shard_for(record.id);
  std::unique_lock lock(shard.mutex);
  auto& entry = shard.entries[record.id];
  // The instance may have reported its metadata (from pre_start) before the spawner got here.
  if (!record.metadata) record.metadata = std::move(entry.metadata);
  entry = std::move(record);
  return ok();
}

bool ComponentRegistry::remove(const ComponentId& id) {
  Shard& shard = shard_for(id);
  std::unique_lock lock(shard.mutex);
  return shard.entries.erase(id) > 0;
}

Result<rt::ActorRef<ComponentEnvelope>> ComponentRegistry::lookup(const ComponentId& id) const {
  auto ref = find(id);
  if (!ref) return not_found(id);
  return std::move(*ref);
}

std::optional<rt::ActorRef<ComponentEnvelope>> ComponentRegistry::find(
    const ComponentId& id) const {
  Shard& shard = shard_for(id);
  std::shared_lock lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end() || !it->second.ref) return std::nullopt;
  return it->second.ref;
}

Error ComponentRegistry::not_found(const ComponentId& id) {
  return Error{ErrorCode::kNotFound, "no component " + id.to_string() + " on this host"};
}

std::optional<ComponentRecord> ComponentRegistry::record(const ComponentId& id) const {
  Shard& shard = shard_for(id);
  std::shared_lock lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end()) return std::nullopt;
  return it->second;
}

std::optional<ResourceLimits> ComponentRegistry::limits(const ComponentId& id) const {
  Shard& shard = shard_for(id);
  std::shared_lock lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end()) return std::nullopt;
  return it->second.limits;
}

void ComponentRegistry::set_metadata(const ComponentId& id, ComponentMetadata metadata) {
  Shard& shard = shard_for(id);
  std::unique_lock lock(shard.mutex);
  auto& entry = shard.entries[id];
  entry.id = id;
  entry.metadata = std::move(metadata);
}

std::vector<ComponentRecord> ComponentRegistry::records() const {
  std::vector<ComponentRecord> out;
  for (auto& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    for (const auto& [id, record] : shard.entries) {
      if (record.ref) out.push_back(record);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

std::size_t ComponentRegistry::size() const {
  std::size_t n = 0;
  for (auto& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace capsule::component

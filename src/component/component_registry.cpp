#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

#include <capsule/component/component_registry.hpp>

namespace capsule::component {

ComponentRecord ComponentRegistry::record_of(const ComponentId& id, const Entry& entry) {
  return ComponentRecord{
      id,
      entry.ref,
      entry.component,
      entry.limits,
      entry.metadata ? std::optional<ComponentMetadata>(*entry.metadata) : std::nullopt,
      entry.counters};
}

std::shared_ptr<const ComponentMetadata> ComponentRegistry::share(Shard& shard,
                                                                  ComponentMetadata metadata) {
  const auto& last = shard.last_metadata;
  if (last && last->name == metadata.name && last->version == metadata.version &&
      last->description == metadata.description && last->labels == metadata.labels) {
    return last;
  }
  shard.last_metadata = std::make_shared<const ComponentMetadata>(std::move(metadata));
  return shard.last_metadata;
}

Status ComponentRegistry::add(ComponentRecord record) {
  Shard& shard = shard_for(record.id);
  std::unique_lock lock(shard.mutex);
  auto& entry = shard.entries[record.id];
  entry.ref = std::move(record.ref);
  entry.component = std::move(record.component);
  entry.limits = record.limits;
  entry.counters = std::move(record.counters);
  // The instance may have reported its metadata (from pre_start) before the spawner got here.
  if (record.metadata) entry.metadata = share(shard, std::move(*record.metadata));
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

Error ComponentRegistry::not_found(const ComponentId& id) const {
  std::string message = "no component " + id.to_string() + " on this host";
  const std::string name = id.ns + "/" + id.name;
  std::shared_lock lock(detached_mutex_);
  if (detached_.contains(name)) {
    message += ": " + name +
               " is a wasi:http/proxy route (its instances take HTTP requests, not messages)";
  }
  return Error{ErrorCode::kNotFound, std::move(message)};
}

void ComponentRegistry::add_detached(std::string name) {
  std::unique_lock lock(detached_mutex_);
  detached_.insert(std::move(name));
}

std::optional<ComponentRecord> ComponentRegistry::record(const ComponentId& id) const {
  Shard& shard = shard_for(id);
  std::shared_lock lock(shard.mutex);
  auto it = shard.entries.find(id);
  if (it == shard.entries.end()) return std::nullopt;
  return record_of(it->first, it->second);
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
  shard.entries[id].metadata = share(shard, std::move(metadata));
}

std::vector<ComponentRecord> ComponentRegistry::records() const {
  std::vector<ComponentRecord> out;
  for (auto& shard : shards_) {
    std::shared_lock lock(shard.mutex);
    for (const auto& [id, entry] : shard.entries) {
      if (entry.ref) out.push_back(record_of(id, entry));
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

#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <capsule/component/envelope.hpp>
#include <capsule/core/component_id.hpp>
#include <capsule/core/limits.hpp>
#include <capsule/core/result.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/wasm/compiled_component.hpp>

namespace capsule::component {

// Totals of one instance across its restarts, updated by its actor after every call.
struct InstanceCounters {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> fuel_consumed{0};
  std::atomic<std::uint64_t> starts{0};  // 1 + restarts + upgrades
};

struct ComponentRecord {
  ComponentId id;
  rt::ActorRef<ComponentEnvelope> ref;
  std::shared_ptr<const wasm::CompiledComponent> component;
  ResourceLimits limits;
  std::optional<ComponentMetadata> metadata;  // what the instance reported at its last start
  std::shared_ptr<const InstanceCounters> counters;
};

// ComponentId -> running instance. Lookups take a shared lock on one of many shards, so senders
// on different threads do not contend. An entry survives restarts (the actor keeps its address).
class ComponentRegistry {
 public:
  Status add(ComponentRecord record);
  bool remove(const ComponentId& id);
  [[nodiscard]] Result<rt::ActorRef<ComponentEnvelope>> lookup(const ComponentId& id) const;
  // lookup() without the error: a miss formats no message. For the paths where a miss is the
  // common case (a message for another host's component) rather than a failure.
  [[nodiscard]] std::optional<rt::ActorRef<ComponentEnvelope>> find(const ComponentId& id) const;
  [[nodiscard]] bool contains(const ComponentId& id) const { return find(id).has_value(); }
  // What lookup() says of an id it does not have; for an instance of a detached name, that its
  // instances take no messages.
  [[nodiscard]] Error not_found(const ComponentId& id) const;
  // A name ("ns/name") whose instances run outside the actor system (a wasi:http/proxy route's
  // pool, ComponentRuntime::register_detached): no message reaches them, and not_found() says why.
  void add_detached(std::string name);
  [[nodiscard]] std::optional<ComponentRecord> record(const ComponentId& id) const;
  // record(id)->limits without copying the record (ids, metadata): asked for every message from
  // another host.
  [[nodiscard]] std::optional<ResourceLimits> limits(const ComponentId& id) const;
  void set_metadata(const ComponentId& id, ComponentMetadata metadata);
  [[nodiscard]] std::vector<ComponentRecord> records() const;
  [[nodiscard]] std::size_t size() const;

 private:
  // A record as stored: without its id (the map's key), and with its metadata shared by the
  // instances of a shard that reported the same (100,000 instances of one component report one
  // metadata): ~250 bytes less per instance.
  struct Entry {
    rt::ActorRef<ComponentEnvelope> ref;
    std::shared_ptr<const wasm::CompiledComponent> component;
    ResourceLimits limits;
    std::shared_ptr<const ComponentMetadata> metadata;
    std::shared_ptr<const InstanceCounters> counters;
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<ComponentId, Entry> entries;
    std::shared_ptr<const ComponentMetadata> last_metadata;  // the one shared last
  };
  static ComponentRecord record_of(const ComponentId& id, const Entry& entry);
  // Under shard.mutex: `metadata`, shared with the shard's previous one when they are equal.
  static std::shared_ptr<const ComponentMetadata> share(Shard& shard, ComponentMetadata metadata);
  static constexpr std::size_t kShards = 32;
  Shard& shard_for(const ComponentId& id) const {
    return shards_[std::hash<ComponentId>{}(id) % kShards];
  }
  mutable std::array<Shard, kShards> shards_;
  mutable std::shared_mutex detached_mutex_;
  std::set<std::string, std::less<>> detached_;  // "ns/name"
};

}  // namespace capsule::component

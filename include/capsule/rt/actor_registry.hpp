#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/actor_ref.hpp>

namespace capsule::rt {

// Names -> addresses. Lookups are O(1) hash probes under a shared lock of one of many shards, so
// concurrent readers never contend and writers only block their shard. Actors spawned with a
// name are bound before pre_start and unbound when they terminate (not when they restart).
class ActorRegistry {
 public:
  Status bind(std::string name, ActorAddress address);
  // Removes the binding; when `expected` is non-zero only if it still points at that actor.
  bool unbind(std::string_view name, ActorId expected = 0);
  [[nodiscard]] Result<ActorAddress> lookup(std::string_view name) const;
  template <typename Msg>
  [[nodiscard]] Result<ActorRef<Msg>> lookup_as(std::string_view name) const {
    auto address = lookup(name);
    if (!address) return std::move(address).error();
    return ActorRef<Msg>::from(*address);
  }
  [[nodiscard]] std::size_t size() const;

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, ActorAddress, TransparentHash, std::equal_to<>> names;
  };
  static constexpr std::size_t kShards = 32;
  [[nodiscard]] Shard& shard_for(std::string_view name) const noexcept;

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace capsule::rt

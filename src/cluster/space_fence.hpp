#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <capsule/core/result.hpp>
#include <capsule/storage/kv_backend.hpp>

#include "kv_bucket.hpp"

namespace capsule::cluster {

// Server-checked fencing of storage spaces (docs/cluster.md, "Leases" and "Name claims"). A
// space's fence entry `<hex(space)>.fence` holds the lease token of the failover unit's holder
// that fenced it last; `<hex(space)>.fence-<hex(name)>` the claim token of the host that last
// activated name `name` of an on-demand component (all its names share the space). A fenced
// write attempt begins by reading the space's newest revision, then the writer's fence, which
// must hold the writer's token; each of its steps is then conditional on nothing in the whole
// space having changed since (KvBucket::Expect over `<hex(space)>.*`, which covers every fence of
// the space). A newer holder's fence is either seen by that read or newer than the revision the
// condition names, so the server refuses the write however late it arrives. Only where the
// server can check such a condition (nats-server >= 2.11); elsewhere every attempt is unfenced
// (nullopt), each step on its own key.
class SpaceFence {
 public:
  // A fenced attempt's condition; nullopt: unfenced.
  using Check = std::optional<KvBucket::Expect>;
  using Permit = storage::KvBackend::WritePermit;

  explicit SpaceFence(KvBucket& bucket) : bucket_(bucket) {}

  // Starts an attempt of `writer` (its fence and token; token 0: unfenced). kUnavailable when
  // its fence holds another token: then `writer.fenced()` is told first.
  [[nodiscard]] Result<Check> begin(std::string_view space, const Permit& writer) const;
  // The fenced writers of one space on this backend take turns (each would otherwise make the
  // others retry: their conditions cover the whole space). Empty lock when unfenced.
  [[nodiscard]] std::unique_lock<std::mutex> turn(std::string_view space, std::uint64_t token);
  // Moves the fence `name` of the space (empty: the space's own) to `token` (written on every
  // server, so that an upgraded one finds it; conditional on the whole space where the server can
  // check it). Only forward: an older token is kUnavailable. `backoff(attempt)` pauses between
  // conflicting attempts.
  Status move_to(std::string_view space, std::string_view name, std::uint64_t token, int attempts,
                 const std::function<void(int)>& backoff);

  // One step of an attempt: unfenced, on `revision` of the key itself; fenced, on `check`,
  // which then names this write (the attempt's next step expects it).
  Result<KvBucket::Written> put(const std::string& key, const void* data, std::size_t size,
                                std::uint64_t revision, Check& check) const;
  Result<KvBucket::Written> remove(const std::string& key, std::uint64_t revision,
                                   Check& check) const;

 private:
  // The token of the fence `name` of the space (0: none yet) and the fence entry's revision.
  [[nodiscard]] Result<std::pair<std::uint64_t, std::uint64_t>> read(std::string_view space,
                                                                     std::string_view name) const;
  [[nodiscard]] Result<KvBucket::Expect> whole_space(std::string_view space) const;

  static constexpr std::size_t kStripes = 64;
  KvBucket& bucket_;
  std::array<std::mutex, kStripes> writers_;
};

}  // namespace capsule::cluster

#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include <capsule/rt/fwd.hpp>

namespace capsule::rt::detail {

// The system's strong references to its live actors: what keeps a cell alive between its turns
// and what a shutdown walks. Intrusive: each cell carries its table links and the reference that
// the table holds (ActorCellBase::LiveEntry), so admitting an actor allocates nothing and hashes
// nothing, one short lock of one of the shards (by id) per insert and per removal.
class LiveTable {
 public:
  LiveTable() = default;
  LiveTable(const LiveTable&) = delete;
  LiveTable& operator=(const LiveTable&) = delete;
  ~LiveTable();

  void insert(std::shared_ptr<ActorCellBase> cell);
  // Hands back the table's reference (the caller decides where the cell is destroyed); null when
  // the cell is not in the table (never admitted, or removed already).
  [[nodiscard]] std::shared_ptr<ActorCellBase> remove(ActorCellBase& cell);
  [[nodiscard]] std::vector<std::shared_ptr<ActorCellBase>> snapshot(std::size_t expected) const;

 private:
  // One line each: spawns on different threads lock different shards without sharing a line.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    ActorCellBase* head = nullptr;
  };
  static constexpr std::size_t kShards = 16;
  [[nodiscard]] Shard& shard_for(const ActorCellBase& cell) noexcept;

  std::array<Shard, kShards> shards_;
};

}  // namespace capsule::rt::detail

#include <utility>

#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/detail/live_table.hpp>

namespace capsule::rt::detail {

LiveTable::~LiveTable() {
  // The system empties the table at shutdown; whatever is left (a system destroyed while its
  // constructor unwound) is released here, outside any lock.
  for (auto& shard : shards_) {
    while (shard.head != nullptr) static_cast<void>(remove(*shard.head));
  }
}

LiveTable::Shard& LiveTable::shard_for(const ActorCellBase& cell) noexcept {
  return shards_[cell.id() % kShards];
}

void LiveTable::insert(std::shared_ptr<ActorCellBase> cell) {
  ActorCellBase* raw = cell.get();
  auto& shard = shard_for(*raw);
  std::lock_guard lock(shard.mutex);
  auto& entry = raw->live_entry_;
  entry.self = std::move(cell);
  entry.prev = nullptr;
  entry.next = shard.head;
  if (shard.head != nullptr) shard.head->live_entry_.prev = raw;
  shard.head = raw;
}

std::shared_ptr<ActorCellBase> LiveTable::remove(ActorCellBase& cell) {
  auto& shard = shard_for(cell);
  std::lock_guard lock(shard.mutex);
  auto& entry = cell.live_entry_;
  if (!entry.self) return nullptr;
  if (entry.prev != nullptr) {
    entry.prev->live_entry_.next = entry.next;
  } else {
    shard.head = entry.next;
  }
  if (entry.next != nullptr) entry.next->live_entry_.prev = entry.prev;
  entry.prev = nullptr;
  entry.next = nullptr;
  return std::move(entry.self);
}

std::vector<std::shared_ptr<ActorCellBase>> LiveTable::snapshot(std::size_t expected) const {
  std::vector<std::shared_ptr<ActorCellBase>> cells;
  cells.reserve(expected);
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (ActorCellBase* c = shard.head; c != nullptr; c = c->live_entry_.next) {
      cells.push_back(c->live_entry_.self);
    }
  }
  return cells;
}

}  // namespace capsule::rt::detail

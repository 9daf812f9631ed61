#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <capsule/cluster/wire.hpp>

namespace capsule::cluster {

struct HostInfo {
  std::string name;
  std::chrono::steady_clock::time_point last_seen;
  std::uint64_t sequence = 0;
  std::size_t components = 0;
  std::vector<std::string> groups;
  std::uint32_t wire = 1;  // the envelope formats it takes (Heartbeat::wire)
};

// A live host with the component instances it announced.
struct HostRecord {
  HostInfo info;
  std::vector<ComponentId> components;
};

// The other hosts of the cluster as their heartbeats describe them, and which host runs which
// component. A host is dead when it said goodbye or has not been heard from for `dead_after`.
// Pure bookkeeping (no NATS, no clock of its own), so the failure rules are tested directly.
class HostDirectory {
 public:
  using Clock = std::chrono::steady_clock;
  explicit HostDirectory(Clock::duration dead_after) : dead_after_(dead_after) {}

  // Records a heartbeat. True when the host is new (joined, or came back after being dead).
  // A goodbye (`leaving`) removes the host at once; the return is then false.
  bool observe(const Heartbeat& heartbeat, Clock::time_point now);
  // Removes and returns the hosts not heard from since `now - dead_after`.
  std::vector<std::string> expire(Clock::time_point now);
  // Whether live host `host` announced that it runs `id`.
  [[nodiscard]] bool runs(const std::string& host, const ComponentId& id) const;
  // The host that runs `id`, if any live host announced it.
  [[nodiscard]] std::optional<std::string> locate(const ComponentId& id) const;
  // The live host that runs `id`, with when it was last heard from.
  [[nodiscard]] std::optional<HostInfo> owner_of(const ComponentId& id) const;
  // The live hosts that announced they load on-demand component `key` ("ns/name").
  [[nodiscard]] std::vector<HostInfo> loading(std::string_view key) const;
  [[nodiscard]] std::vector<HostInfo> hosts() const;
  [[nodiscard]] std::vector<HostRecord> records() const;
  // Bumped whenever a host joins or leaves or changes its components or groups: a cheap way to
  // tell whether anything placement depends on has changed.
  [[nodiscard]] std::uint64_t generation() const;

 private:
  struct Entry {
    HostInfo info;
    std::vector<ComponentId> components;
    std::vector<std::string> on_demand;  // "ns/name"
  };
  void forget(const std::string& host);  // caller holds mutex_

  const Clock::duration dead_after_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> hosts_;
  std::unordered_map<ComponentId, std::string> owner_;
  std::uint64_t generation_ = 0;
};

}  // namespace capsule::cluster

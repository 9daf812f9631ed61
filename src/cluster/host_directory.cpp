#include <algorithm>

#include <capsule/cluster/host_directory.hpp>

namespace capsule::cluster {

bool HostDirectory::observe(const Heartbeat& heartbeat, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(heartbeat.host);
  if (heartbeat.leaving) {
    if (it != hosts_.end()) forget(heartbeat.host);
    return false;
  }
  const bool joined = it == hosts_.end();
  if (joined) {
    it = hosts_.emplace(heartbeat.host, Entry{}).first;
    it->second.info.name = heartbeat.host;
  } else if (heartbeat.sequence <= it->second.info.sequence) {
    return false;  // reordered or duplicated: an older view must not overwrite a newer one
  }
  if (joined || it->second.components != heartbeat.components ||
      it->second.info.groups != heartbeat.groups || it->second.on_demand != heartbeat.on_demand) {
    ++generation_;
  }
  for (const auto& id : it->second.components) {
    if (auto o = owner_.find(id); o != owner_.end() && o->second == heartbeat.host) owner_.erase(o);
  }
  it->second.components = heartbeat.components;
  it->second.info.groups = heartbeat.groups;
  it->second.on_demand = heartbeat.on_demand;
  for (const auto& id : it->second.components) owner_[id] = heartbeat.host;
  it->second.info.last_seen = now;
  it->second.info.sequence = heartbeat.sequence;
  it->second.info.components = heartbeat.components.size();
  it->second.info.wire = heartbeat.wire;
  return joined;
}

std::vector<std::string> HostDirectory::expire(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> dead;
  for (const auto& [name, entry] : hosts_) {
    if (now - entry.info.last_seen > dead_after_) dead.push_back(name);
  }
  for (const auto& name : dead) forget(name);
  return dead;
}

bool HostDirectory::runs(const std::string& host, const ComponentId& id) const {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(host);
  return it != hosts_.end() && std::find(it->second.components.begin(), it->second.components.end(),
                                         id) != it->second.components.end();
}

std::optional<std::string> HostDirectory::locate(const ComponentId& id) const {
  std::lock_guard lock(mutex_);
  auto it = owner_.find(id);
  if (it == owner_.end()) return std::nullopt;
  return it->second;
}

std::optional<HostInfo> HostDirectory::owner_of(const ComponentId& id) const {
  std::lock_guard lock(mutex_);
  auto it = owner_.find(id);
  if (it == owner_.end()) return std::nullopt;
  return hosts_.at(it->second).info;
}

std::vector<HostInfo> HostDirectory::loading(std::string_view key) const {
  std::lock_guard lock(mutex_);
  std::vector<HostInfo> out;
  for (const auto& [name, entry] : hosts_) {
    if (std::find(entry.on_demand.begin(), entry.on_demand.end(), key) != entry.on_demand.end()) {
      out.push_back(entry.info);
    }
  }
  return out;
}

std::vector<HostInfo> HostDirectory::hosts() const {
  std::lock_guard lock(mutex_);
  std::vector<HostInfo> out;
  out.reserve(hosts_.size());
  for (const auto& [name, entry] : hosts_) out.push_back(entry.info);
  return out;
}

std::vector<HostRecord> HostDirectory::records() const {
  std::lock_guard lock(mutex_);
  std::vector<HostRecord> out;
  out.reserve(hosts_.size());
  for (const auto& [name, entry] : hosts_) out.push_back({entry.info, entry.components});
  return out;
}

std::uint64_t HostDirectory::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

void HostDirectory::forget(const std::string& host) {
  auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  ++generation_;
  for (const auto& id : it->second.components) {
    if (auto o = owner_.find(id); o != owner_.end() && o->second == host) owner_.erase(o);
  }
  hosts_.erase(it);
}

}  // namespace capsule::cluster

// NatsBridge, membership: heartbeats, the directory of live hosts, deaths, and the owners of
// on-demand names.
#include <utility>

#include <capsule/cluster/name_placement.hpp>

#include "nats_bridge_impl.hpp"

namespace capsule::cluster {

void NatsBridge::Impl::notify_if_changed() {
  const auto generation = directory.generation();
  if (notified_generation.exchange(generation) == generation) return;
  if (change_listener) change_listener();
  // Names of on-demand components may have moved: the runtime retires the ones it lost.
  std::shared_lock lock(runtime_mutex);
  if (runtime != nullptr) runtime->placement_changed();
}

// The owner of name `id` in this host's view: `here` set when it is this host, else the live
// host, if any loads the component.
std::optional<HostInfo> NatsBridge::Impl::name_owner(const ComponentId& id, bool& here) const {
  const std::string key = id.ns + "/" + id.name;
  std::vector<HostInfo> loading = directory.loading(key);
  std::vector<std::string> candidates;
  candidates.reserve(loading.size() + 1);
  for (const auto& h : loading) candidates.push_back(h.name);
  if (loads_here(key)) candidates.push_back(config.host);
  const std::string owner = choose_owner(candidates, id);
  here = !owner.empty() && owner == config.host;
  for (auto& h : loading) {
    if (h.name == owner) return std::move(h);
  }
  return std::nullopt;
}

void NatsBridge::Impl::on_heartbeat(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                                    void* closure) {
  const nats::Message message(raw);
  auto* impl = static_cast<Impl*>(closure);
  auto heartbeat = decode_heartbeat(data_of(raw));
  if (!heartbeat) {
    impl->malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (heartbeat->host == impl->config.host) return;
  // A heartbeat speaks for the host whose name it was published under, and only for it.
  if (!impl->subjects.published_by(natsMsg_GetSubject(raw), heartbeat->host)) {
    impl->forged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bool joined = impl->directory.observe(*heartbeat, Clock::now());
  if (heartbeat->leaving) {
    impl->log_membership(wasm::LogLevel::kInfo,
                         "cluster: host " + heartbeat->host + " left (goodbye)");
    impl->fail_pending_of(heartbeat->host, "host " + heartbeat->host + " left the cluster");
  } else if (joined) {
    impl->log_membership(wasm::LogLevel::kInfo, "cluster: host " + heartbeat->host + " joined");
    // A newcomer learns this host's components now rather than at the next tick.
    std::lock_guard lock(impl->tick_mutex);
    impl->announce_soon = true;
    impl->tick_wake.notify_all();
  }
  impl->notify_if_changed();
}

void NatsBridge::Impl::fail_pending_of(const std::string& host, const std::string& reason) {
  confirmations.fail_host(host, reason);
  std::vector<std::pair<CorrelationId, ComponentId>> lost;
  {
    std::lock_guard lock(pending_mutex);
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.host == host) {
        lost.emplace_back(it->first, it->second.target);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (lost.empty()) return;
  std::shared_lock lock(runtime_mutex);
  if (runtime == nullptr) return;
  for (auto& [correlation, target] : lost) {
    failed_by_host_loss.fetch_add(1, std::memory_order_relaxed);
    runtime->complete_request(
        correlation, target,
        make_error(ErrorCode::kUnavailable,
                   reason + ": request to " + target.to_string() + " cannot be answered"));
  }
}

// The runtime's instances: all reachable through this host's one inbox subscription.
std::vector<ComponentId> NatsBridge::Impl::local_components() const {
  std::vector<ComponentId> local;
  std::shared_lock lock(runtime_mutex);
  if (runtime == nullptr) return local;
  for (const auto& record : runtime->registry().records()) local.push_back(record.id);
  return local;
}

Status NatsBridge::Impl::announce(bool leaving) {
  std::lock_guard lock(announce_mutex);
  Heartbeat h;
  h.host = config.host;
  h.sequence = sequence.fetch_add(1);
  h.interval_ms = static_cast<std::uint32_t>(config.heartbeat_interval.count());
  h.leaving = leaving;
  h.wire = kWireCoalescedRequests;
  h.groups = config.groups;
  {
    std::lock_guard od(on_demand_mutex);
    h.on_demand = on_demand_here;
  }
  if (!leaving) h.components = local_components();
  return publish_raw(subjects.hosts(config.host), encode(h));
}

// Dead hosts are looked for four times per heartbeat interval, so a death is noticed at most
// a quarter interval after the deadline rather than up to a whole one.
void NatsBridge::Impl::log_membership(wasm::LogLevel level, const std::string& text) {
  std::shared_lock lock(runtime_mutex);
  if (runtime != nullptr)
    runtime->log(component::ComponentRuntime::privileged_caller(), level, text, {});
}

// A host that cannot hear the others does not declare them dead: not while its own connection
// is down, nor for one death timeout plus one reconnect wait after it came back (the others
// reconnect on their own schedule, then need a heartbeat interval to be heard again). Otherwise a
// host cut off from NATS would fail every pending request and adopt every failover component
// while the others are alive.
bool NatsBridge::Impl::can_judge_deaths(Clock::time_point now) const {
  if (natsConnection_Status(connection.get()) != NATS_CONN_STATUS_CONNECTED) return false;
  const Clock::time_point back{Clock::duration{reconnected_at.load()}};
  return now - back >= config.heartbeat_interval * config.missed_heartbeats + config.reconnect_wait;
}

void NatsBridge::Impl::check_deaths() {
  const auto now = Clock::now();
  // The ticker runs every quarter interval; a gap of a whole interval means this process did
  // not run (SIGSTOP, a frozen VM): the others' silence is ours. Judge nobody until they had
  // the time to be heard again, as after a reconnect.
  if (last_check != Clock::time_point{} && now - last_check > config.heartbeat_interval) {
    reconnected_at.store(now.time_since_epoch().count());
    log_membership(
        wasm::LogLevel::kWarn,
        "cluster: this host did not run for " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - last_check).count()) +
            " ms (paused?): declaring nobody dead until the others are heard again");
  }
  last_check = now;
  const std::vector<std::string> dead =
      can_judge_deaths(now) ? directory.expire(now) : std::vector<std::string>{};
  hosts_declared_dead.fetch_add(dead.size(), std::memory_order_relaxed);
  for (const auto& host : dead) {
    log_membership(
        wasm::LogLevel::kWarn,
        "cluster: host " + host + " is dead (no heartbeat for " +
            std::to_string(config.heartbeat_interval.count() * config.missed_heartbeats) + " ms)");
    fail_pending_of(
        host, "host " + host + " left the cluster (no heartbeat for " +
                  std::to_string(config.heartbeat_interval.count() * config.missed_heartbeats) +
                  " ms)");
  }
  notify_if_changed();
  // Requests the requester's own timer has ended: nothing left to fail.
  std::lock_guard lock(pending_mutex);
  std::erase_if(pending, [&](const auto& entry) { return entry.second.deadline < now; });
}

void NatsBridge::Impl::run_ticker() {
  const auto step =
      std::max<Clock::duration>(config.heartbeat_interval / 4, std::chrono::milliseconds(5));
  auto next_announce = Clock::now();
  std::unique_lock lock(tick_mutex);
  while (!stopping) {
    const bool announce_now = announce_soon || Clock::now() >= next_announce;
    announce_soon = false;
    lock.unlock();
    if (announce_now) {
      static_cast<void>(announce(false));
      next_announce = Clock::now() + config.heartbeat_interval;
    }
    check_deaths();
    confirmations.expire(Clock::now());
    lock.lock();
    tick_wake.wait_for(lock, std::min<Clock::duration>(step, next_announce - Clock::now()),
                       [&] { return stopping || announce_soon; });
  }
}

void NatsBridge::on_demand_loaded(const std::string& key, bool loaded) {
  {
    std::lock_guard lock(impl_->on_demand_mutex);
    auto& here = impl_->on_demand_here;
    const auto it = std::find(here.begin(), here.end(), key);
    if (loaded && it == here.end()) here.push_back(key);
    if (!loaded && it != here.end()) here.erase(it);
  }
  // The others learn it now rather than at the next tick.
  std::lock_guard lock(impl_->tick_mutex);
  impl_->announce_soon = true;
  impl_->tick_wake.notify_all();
}

bool NatsBridge::serves_here(const ComponentId& id) const {
  bool here = false;
  static_cast<void>(impl_->name_owner(id, here));
  return here;
}

std::string NatsBridge::name_owner(const ComponentId& id) const {
  bool here = false;
  auto owner = impl_->name_owner(id, here);
  if (here) return impl_->config.host;
  return owner ? owner->name : std::string{};
}

std::vector<HostInfo> NatsBridge::hosts() const {
  return impl_->directory.hosts();
}

std::vector<HostRecord> NatsBridge::host_records() const {
  return impl_->directory.records();
}

void NatsBridge::on_cluster_change(std::function<void()> listener) {
  impl_->change_listener = std::move(listener);
}

}  // namespace capsule::cluster

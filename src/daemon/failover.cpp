#include "failover.hpp"

#include <algorithm>

namespace capsule::daemon {

FailoverLoop::FailoverLoop(std::shared_ptr<cluster::NatsBridge> bridge,
                           std::unique_ptr<cluster::LeaseKeeper> leases,
                           cluster::FailoverPlanner planner, Reporter& reporter, StartFn start,
                           StopFn stop, FenceFn fence)
    : bridge_(std::move(bridge)),
      leases_(std::move(leases)),
      planner_(std::move(planner)),
      reporter_(reporter),
      start_(std::move(start)),
      stop_(std::move(stop)),
      fence_(std::move(fence)) {}

FailoverLoop::~FailoverLoop() {
  stop();
}

void FailoverLoop::add(const std::string& key, Unit unit) {
  unit.spec.serving = leases_->window(key);
  units_.insert_or_assign(key, std::move(unit));
}

void FailoverLoop::start() {
  for (auto& [key, unit] : units_) {
    if (!unit.home) continue;
    auto attempt = leases_->try_acquire(key);
    if (attempt && *attempt == cluster::LeaseAttempt::kAcquired) {
      take(key, unit, false);
    } else {
      reporter_.info("waiting for the lease on " + key,
                     {{"held_by", attempt ? leases_->holder(key) : "?"},
                      {"why", attempt ? "another host serves it" : attempt.error().describe()}});
    }
  }
  publish_view();
  if (!running_.empty()) static_cast<void>(bridge_->announce());
  thread_ = std::thread([this] { run(); });
}

void FailoverLoop::stop() {
  {
    const std::lock_guard lock(wake_mutex_);
    if (stopping_) return;
    stopping_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& [key, unit] : units_) {
    if (running_.contains(key)) drop(key, unit, "the host is stopping", true);
  }
  publish_view();
}

void FailoverLoop::poke() {
  const std::lock_guard lock(wake_mutex_);
  dirty_ = true;
  wake_.notify_all();
}

std::set<std::string> FailoverLoop::adopted() const {
  const std::lock_guard lock(view_mutex_);
  return adopted_view_;
}

void FailoverLoop::run() {
  // Until every live host has been heard from, an empty view would look like a dead cluster.
  // Every host announces itself once an interval (and at once when it sees a newcomer), so one
  // and a half intervals after joining the view is complete. Leases are renewed meanwhile.
  const cluster::BridgeConfig defaults;
  const auto period =
      std::min<std::chrono::milliseconds>(defaults.heartbeat_interval, leases_->renew_period() / 2);
  const auto settled = std::chrono::steady_clock::now() + defaults.heartbeat_interval * 3 / 2;
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    dirty_ = false;
    const bool plan = std::chrono::steady_clock::now() >= settled;
    lock.unlock();
    if (plan) {
      pass();
    } else if (drop_lost_leases()) {
      publish_view();
      static_cast<void>(bridge_->announce());
    }
    lock.lock();
    wake_.wait_for(lock, period, [&] { return stopping_ || dirty_; });
  }
}

bool FailoverLoop::drop_lost_leases() {
  bool dropped = false;
  for (const auto& key : leases_->renew()) {
    if (!running_.contains(key)) continue;
    const std::string holder = leases_->holder(key);
    drop(key, units_.at(key),
         holder.empty() ? "its lease was taken over while this host could not renew it (released "
                          "since)"
                        : "host " + holder + " holds its lease now",
         false);
    dropped = true;
  }
  return dropped;
}

std::set<std::string> FailoverLoop::adopted_units() const {
  std::set<std::string> adopted;
  for (const auto& key : running_) {
    if (!units_.at(key).home) adopted.insert(key);
  }
  return adopted;
}

void FailoverLoop::pass() {
  bool changed = drop_lost_leases();
  const auto plan = planner_.plan(bridge_->host_records(), adopted_units());
  for (const auto& key : plan.release) {
    drop(key, units_.at(key), "a live host of its own groups takes it back", true);
    changed = true;
  }
  for (auto& [key, unit] : units_) {
    if (running_.contains(key)) continue;
    const bool wanted =
        unit.home || std::find(plan.adopt.begin(), plan.adopt.end(), key) != plan.adopt.end();
    if (!wanted) {
      leases_->observe(key);  // so that a takeover later need not wait from its first look
      continue;
    }
    auto attempt = leases_->try_acquire(key);
    if (attempt && *attempt == cluster::LeaseAttempt::kAcquired) {
      take(key, unit, !unit.home);
      changed = changed || running_.contains(key);
    }
  }
  publish_view();
  if (changed) static_cast<void>(bridge_->announce());
}

void FailoverLoop::take(const std::string& key, Unit& unit, bool adopting) {
  const std::string token = std::to_string(leases_->token(key));
  // The storage learns the new token before anything is served: from here on it refuses the
  // previous holder's writes, however late they arrive.
  if (Status s = fence_(key, leases_->token(key)); !s) {
    leases_->release(key);
    reporter_.error("failover: cannot fence the storage of " + key + ": " + s.error().describe());
    return;
  }
  // The instances learn which lease they serve under: a reply can carry it (a checker can then
  // tell two owners apart).
  component::ComponentSpec spec = unit.spec;
  spec.config.emplace_back("capsule.lease.host", leases_->config().host);
  spec.config.emplace_back("capsule.lease.token", token);
  if (Status s = start_(spec, unit.topics); !s) {
    leases_->release(key);
    reporter_.error("failover: cannot start " + key + ": " + s.error().describe());
    return;
  }
  running_.insert(key);
  if (adopting) {
    std::string others;
    for (const auto& h : bridge_->hosts()) others += (others.empty() ? "" : ",") + h.name;
    reporter_.warn("failover: adopted " + key + ", no live host of the cluster runs it",
                   {{"lease_token", token}, {"live_hosts", others.empty() ? "none" : others}});
  } else {
    reporter_.info("serving " + key + " under its lease", {{"lease_token", token}});
  }
}

void FailoverLoop::drop(const std::string& key, Unit& unit, const std::string& why, bool release) {
  // The window closes before the instances stop: nothing is served in between.
  if (release) leases_->release(key);
  stop_(unit.spec);
  running_.erase(key);
  reporter_.info((unit.home ? "failover: stopped serving " : "failover: released ") + key,
                 {{"why", why}});
}

void FailoverLoop::publish_view() {
  auto adopted = adopted_units();
  const std::lock_guard lock(view_mutex_);
  adopted_view_ = std::move(adopted);
}

}  // namespace capsule::daemon

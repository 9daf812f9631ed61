#include <utility>

#include <capsule/cluster/name_leases.hpp>

#include "boot_id.hpp"
#include "kv_bucket.hpp"
#include "lease_bucket.hpp"

namespace capsule::cluster {
namespace {

// The lease of host `host` on itself: a LeaseKeeper unit, in the bucket of failover units'
// leases. The "host" namespace is reserved, so no component's unit has this name.
std::string host_unit(const std::string& host) {
  return "host/" + host;
}

// One KV token per name, apart from the units' keys (hex of "ns/name" or "host/<name>").
std::string claim_key(const ComponentId& id) {
  return hex_token("name:" + id.to_string());
}

std::string text_of(const std::vector<std::uint8_t>& value) {
  return {value.begin(), value.end()};
}

}  // namespace

NameLeases::NameLeases(LeaseConfig config, std::unique_ptr<LeaseKeeper> leases,
                       std::unique_ptr<KvBucket> claims)
    : config_(std::move(config)),
      value_(config_.host + " " + random_boot_id()),
      leases_(std::move(leases)),
      claims_(std::move(claims)),
      window_(leases_->window(host_unit(config_.host))) {}

NameLeases::~NameLeases() {
  stop();
}

Result<std::shared_ptr<NameLeases>> NameLeases::connect(LeaseConfig config) {
  auto leases = LeaseKeeper::connect(config);
  if (!leases) return std::move(leases).error();
  auto claims = KvBucket::open(lease_bucket_options(config, "capsule-name-claims-" + config.host),
                               "claim names of on-demand components");
  if (!claims) return std::move(claims).error();
  return std::shared_ptr<NameLeases>(
      new NameLeases(std::move(config), std::move(*leases), std::move(*claims)));
}

void NameLeases::start(std::function<void()> lost, std::function<bool()> idle) {
  lost_ = std::move(lost);
  idle_ = std::move(idle);
  // A host that starts while its lease is free holds it when start() returns, so its names can
  // be activated at once; one restarted within a duration of its previous life waits for it.
  auto attempt = leases_->try_acquire(host_unit(config_.host));
  const bool holding = attempt && *attempt == LeaseAttempt::kAcquired;
  worker_ = std::thread([this] { work(); });
  renewer_ = std::thread([this, holding] { renew(holding); });
}

void NameLeases::stop() {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (worker_.joinable()) worker_.join();  // after the tasks queued before stop()
  leases_->release(host_unit(config_.host));
}

void NameLeases::claim(const ComponentId& id, std::function<void(Result<std::uint64_t>)> done) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_) {
      tasks_.emplace_back([this, id, done = std::move(done)] { done(claim_now(id)); });
      wake_.notify_all();
      return;
    }
  }
  // Only after stop(), when the runtime's on-demand components are closed already.
  done(make_error(ErrorCode::kUnavailable,
                  "cannot activate " + id.to_string() + ": the host is stopping"));
}

void NameLeases::release(const ComponentId& id) {
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_) {
      tasks_.emplace_back([this, id] { release_now(id); });
      wake_.notify_all();
      return;
    }
  }
  // Stopping: nothing to give back one by one, stop() releases this host's lease, which ends
  // every claim of this life at once (the next claimant of a name takes it without waiting).
}

void NameLeases::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and everything queued before is done
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void NameLeases::renew(bool holding) {
  const std::string mine = host_unit(config_.host);
  // Twice per renewal period: a renewal is due every quarter duration (LeaseKeeper::renew).
  const auto period = leases_->renew_period() / 2;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (!holding) {
      // After a loss, not before every activation of the old lease has retired: they must never
      // serve again under a new one.
      if (!idle_ || idle_()) {
        auto attempt = leases_->try_acquire(mine);
        holding = attempt && *attempt == LeaseAttempt::kAcquired;
      }
    } else {
      for (const auto& unit : leases_->renew()) {
        if (unit != mine) continue;
        holding = false;
        losses_.fetch_add(1, std::memory_order_relaxed);
        if (lost_) lost_();
      }
    }
    lock.lock();
    wake_.wait_for(lock, period, [this] { return stopping_; });
  }
}

Result<std::uint64_t> NameLeases::claim_now(const ComponentId& id) {
  const std::string name = id.to_string();
  if (!window_->is_open()) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot activate " + name + " on host " + config_.host +
                          ": it does not hold its lease in the cluster now (starting, or cut off "
                          "from NATS); try again");
  }
  const std::string key = claim_key(id);
  // A few rounds: each lost race means another host wrote the entry since it was read.
  for (int round = 0; round < 4; ++round) {
    auto entry = claims_->read(key, true);
    if (!entry) return std::move(entry).error();
    std::uint64_t expected = 0;
    std::string taken_from;
    if (entry->exists) {
      const std::string value = text_of(entry->value);
      if (value == value_) {
        claims_made_.fetch_add(1, std::memory_order_relaxed);
        return entry->revision;  // this host's already, under this token
      }
      const std::string holder = value.substr(0, value.find(' '));
      if (holder != config_.host) {
        // Another host's claim holds while that host holds its lease. Taking its lease (after it
        // stood still for a whole duration, as seen from here) fences it: its window closed
        // before, and its next renewal fails.
        auto attempt = leases_->try_acquire(host_unit(holder));
        if (!attempt) return std::move(attempt).error();
        if (*attempt == LeaseAttempt::kHeld) {
          refusals_.fetch_add(1, std::memory_order_relaxed);
          std::string why = name;
          why += " is active on host ";
          why += holder;
          why +=
              " (the hosts' views of the cluster differ, or the name is moving): not handled "
              "here, try again";
          return make_error(ErrorCode::kUnavailable, std::move(why));
        }
        taken_from = holder;
      }
      // Else a claim of this host's previous life: its lease is this life's now.
      expected = entry->revision;
    }
    auto put = claims_->put(key, value_.data(), value_.size(), expected);
    // The lapsed host's lease is not kept: deleting it lets that host acquire a new one (after
    // its old activations retired) and the next taker of its names take it at once.
    if (!taken_from.empty()) leases_->release(host_unit(taken_from));
    if (!put) return std::move(put).error();
    if (put->written == KvBucket::Written::kDone) {
      claims_made_.fetch_add(1, std::memory_order_relaxed);
      if (!taken_from.empty()) takeovers_.fetch_add(1, std::memory_order_relaxed);
      return put->revision;
    }
  }
  return make_error(ErrorCode::kUnavailable, "the claim of " + name +
                                                 " kept changing while this host tried to take it: "
                                                 "try again");
}

void NameLeases::release_now(const ComponentId& id) {
  const std::string key = claim_key(id);
  auto entry = claims_->read(key, true);
  // Only this life's claim: a later claim by another host stays. Best effort: a claim left
  // behind is taken over once this host's lease lapses, or replaced by its next life.
  if (!entry || !entry->exists || text_of(entry->value) != value_) return;
  if (auto removed = claims_->remove(key, entry->revision);
      removed && *removed == KvBucket::Written::kDone) {
    releases_.fetch_add(1, std::memory_order_relaxed);
  }
}

NameLeases::Stats NameLeases::stats() const {
  return Stats{claims_made_.load(std::memory_order_relaxed),
               refusals_.load(std::memory_order_relaxed),
               takeovers_.load(std::memory_order_relaxed),
               releases_.load(std::memory_order_relaxed), losses_.load(std::memory_order_relaxed)};
}

}  // namespace capsule::cluster

#include <capsule/cluster/lease_keeper.hpp>

#include "boot_id.hpp"
#include "kv_bucket.hpp"

namespace capsule::cluster {
namespace {

// The entry's key: one token whatever the unit's name.
std::string lease_key(const std::string& unit) {
  return hex_token(unit);
}

// "<host> <boot>": who holds it, and which life of that host.
std::string holder_of(const std::vector<std::uint8_t>& value) {
  const std::string text(value.begin(), value.end());
  return text.substr(0, text.find(' '));
}

}  // namespace

LeaseKeeper::LeaseKeeper(LeaseConfig config, std::unique_ptr<KvBucket> bucket)
    : config_(std::move(config)), boot_(random_boot_id()), bucket_(std::move(bucket)) {}

LeaseKeeper::~LeaseKeeper() = default;

Result<std::unique_ptr<LeaseKeeper>> LeaseKeeper::connect(LeaseConfig config) {
  if (config.host.empty() || config.host.find(' ') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a lease keeper needs a host name without spaces");
  }
  if (config.duration < std::chrono::milliseconds(40)) {
    return make_error(ErrorCode::kInvalidArgument, "a lease duration must be at least 40 ms");
  }
  KvBucket::Options bo;
  bo.url = config.url;
  bo.bucket = config.bucket;
  bo.description = "capsule failover leases";
  bo.client_name = "capsule-leases-" + config.host;
  bo.timeout = config.timeout;
  bo.user = config.user;
  bo.password = config.password;
  bo.tls = config.tls;
  auto bucket = KvBucket::open(std::move(bo), "hold failover leases");
  if (!bucket) return std::move(bucket).error();
  return std::unique_ptr<LeaseKeeper>(new LeaseKeeper(std::move(config), std::move(*bucket)));
}

LeaseKeeper::Unit& LeaseKeeper::unit(const std::string& name) {
  return units_[name];
}

std::string LeaseKeeper::value() const {
  return config_.host + " " + boot_;
}

std::shared_ptr<ServingWindow> LeaseKeeper::window(const std::string& name) {
  const std::lock_guard lock(mutex_);
  return unit(name).window;
}

void LeaseKeeper::won(Unit& u, std::uint64_t revision, Clock::time_point sent) const {
  if (!u.held) u.token = revision;
  u.held = true;
  u.revision = revision;
  u.renew_sent = sent;
  u.seen = false;
  u.holder = config_.host;
  u.window->open_until(sent + config_.duration * 3 / 4, u.token);
}

Result<LeaseAttempt> LeaseKeeper::try_acquire(const std::string& name) {
  const std::lock_guard lock(mutex_);
  Unit& u = unit(name);
  if (u.held) return LeaseAttempt::kAcquired;
  const std::string key = lease_key(name);
  const std::string mine = value();
  const auto now = Clock::now();
  auto entry = bucket_->read(key, true);
  if (!entry) {
    u.seen = false;
    return std::move(entry).error();
  }
  std::uint64_t expected = 0;  // create: nobody holds it
  if (entry->exists) {
    note_seen(u, entry->value, entry->revision, now);
    if (now - u.seen_since < config_.duration) return LeaseAttempt::kHeld;
    expected = entry->revision;  // not renewed for a whole duration: take it over
  }
  const auto sent = Clock::now();
  auto put = bucket_->put(key, mine.data(), mine.size(), expected);
  if (!put) {
    u.seen = false;
    return std::move(put).error();
  }
  if (put->written == KvBucket::Written::kConflict) {
    u.seen = false;  // someone else moved it: look again
    return LeaseAttempt::kHeld;
  }
  won(u, put->revision, sent);
  return LeaseAttempt::kAcquired;
}

void LeaseKeeper::observe(const std::string& name) {
  const std::lock_guard lock(mutex_);
  Unit& u = unit(name);
  if (u.held) return;
  auto entry = bucket_->read(lease_key(name), true);
  if (!entry || !entry->exists) {
    u.seen = false;
    return;
  }
  note_seen(u, entry->value, entry->revision, Clock::now());
}

void LeaseKeeper::note_seen(Unit& u, const std::vector<std::uint8_t>& value, std::uint64_t revision,
                            Clock::time_point now) {
  u.holder = holder_of(value);
  // The count towards a takeover starts when a revision is first seen, and again at each new one.
  if (!u.seen || u.revision != revision) {
    u.seen = true;
    u.revision = revision;
    u.seen_since = now;
  }
}

std::vector<std::string> LeaseKeeper::renew() {
  const std::lock_guard lock(mutex_);
  std::vector<std::string> lost;
  const std::string mine = value();
  for (auto& [name, u] : units_) {
    if (!u.held) continue;
    const auto sent = Clock::now();
    if (sent - u.renew_sent < renew_period()) continue;
    const std::string key = lease_key(name);
    auto put = bucket_->put(key, mine.data(), mine.size(), u.revision);
    if (!put) continue;  // unreachable for now: the window closes by itself if this lasts
    if (put->written == KvBucket::Written::kDone) {
      won(u, put->revision, sent);
      continue;
    }
    // A conflict. A renewal of ours that timed out may still have been written: then the entry
    // is ours at a newer revision (renewed again at the next call, the window not extended).
    auto entry = bucket_->read(key, true);
    if (entry && entry->exists && std::string(entry->value.begin(), entry->value.end()) == mine) {
      u.revision = entry->revision;
      u.renew_sent = {};
      continue;
    }
    u.window->close();
    u.held = false;
    u.seen = false;
    // Taken over, and maybe released since (a hand-back): then nobody holds it now.
    u.holder = entry && entry->exists ? holder_of(entry->value) : std::string();
    lost.push_back(name);
  }
  return lost;
}

void LeaseKeeper::release(const std::string& name) {
  const std::lock_guard lock(mutex_);
  Unit& u = unit(name);
  if (!u.held) return;
  u.window->close();
  u.held = false;
  u.seen = false;
  // Best effort: if this fails the lease simply lapses after a duration.
  static_cast<void>(bucket_->remove(lease_key(name), u.revision));
}

bool LeaseKeeper::holds(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = units_.find(name);
  return it != units_.end() && it->second.held;
}

std::uint64_t LeaseKeeper::token(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = units_.find(name);
  return it != units_.end() && it->second.held ? it->second.token : 0;
}

std::string LeaseKeeper::holder(const std::string& name) const {
  const std::lock_guard lock(mutex_);
  const auto it = units_.find(name);
  return it != units_.end() ? it->second.holder : std::string();
}

}  // namespace capsule::cluster

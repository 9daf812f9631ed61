#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <capsule/cluster/tls_files.hpp>
#include <capsule/core/result.hpp>
#include <capsule/core/serving_window.hpp>

namespace capsule::cluster {

class KvBucket;

// The bucket of a cluster's leases (hosts of one cluster share it).
[[nodiscard]] inline std::string lease_bucket(const std::string& cluster) {
  return "capsule_leases_" + cluster;
}

struct LeaseConfig {
  std::string url = "nats://127.0.0.1:4222";
  std::string bucket = lease_bucket("default");
  std::string host;  // this host's name, written into its leases
  std::string user;  // credentials (cluster_auth.hpp); empty: none
  std::string password;
  TlsFiles tls;  // TLS to the server (tls_files.hpp); not enabled: plain TCP
  // A lease whose revision has not moved for this long, as seen by another host, may be taken
  // over. The holder renews every quarter of it and stops serving three quarters after the start
  // of its last renewal that succeeded (see docs/cluster.md, "Leases").
  std::chrono::milliseconds duration{3000};
  std::chrono::milliseconds timeout{1000};  // each KV request
  // Of the lease bucket, when this host creates it: 3 on a JetStream cluster of three servers
  // (docs/cluster.md, "Replicated JetStream"); an existing bucket keeps its own.
  int replicas = 1;
};

// What a try_acquire found.
enum class LeaseAttempt : std::uint8_t {
  kAcquired,  // this host holds it now (or already did)
  kHeld,      // another host holds it and renewed it within a lease duration, as seen from here
};

// Leases on failover units in a JetStream KV bucket, acquired and renewed by compare-and-set on
// the entry's revision. There is no clock shared between hosts: a host takes over a lease only
// after watching its revision stay the same for a whole duration on its own clock, and the holder
// stops serving (its ServingWindow closes) a quarter duration before that can happen, counted from
// when it sent its last successful renewal. The revision at which a host acquired a lease is its
// fencing token. One keeper per host life: its random boot id is part of every lease value, so a
// restarted host with the same name waits like any other host.
//
// Not thread-safe except window(): one thread (the host's failover loop) drives it.
class LeaseKeeper {
 public:
  static Result<std::unique_ptr<LeaseKeeper>> connect(LeaseConfig config);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // The window the runtime checks for `unit` ("ns/name"): the same object for the keeper's life,
  // open only while this host holds the lease and has renewed it recently enough.
  [[nodiscard]] std::shared_ptr<ServingWindow> window(const std::string& unit);

  // Becomes the holder of `unit` if there is no lease, it was released, or its holder has not
  // renewed it for a whole duration as seen from here (a first look starts that count).
  // kUnavailable when the bucket cannot be reached.
  Result<LeaseAttempt> try_acquire(const std::string& unit);
  // Notes the lease's current revision, so that a later takeover does not wait a whole duration
  // from its first look. A failed read forgets what was seen (the count starts again).
  void observe(const std::string& unit);
  // Renews each held lease that is due. Returns the units lost: another host holds them now.
  // A renewal that fails for another reason is retried at the next call; the window closes by
  // itself if none succeeds in time.
  std::vector<std::string> renew();
  // Stops serving `unit` (the window closes first), then deletes the lease at its revision so
  // that the next holder need not wait. Does nothing if this host does not hold it.
  void release(const std::string& unit);

  [[nodiscard]] bool holds(const std::string& unit) const;
  // The fencing token of a held lease (0 if not held).
  [[nodiscard]] std::uint64_t token(const std::string& unit) const;
  // "host" of the last holder seen for `unit`, for log lines ("" if none seen).
  [[nodiscard]] std::string holder(const std::string& unit) const;
  // How often renew() must be called for renewals to be on time.
  [[nodiscard]] std::chrono::milliseconds renew_period() const { return config_.duration / 4; }
  [[nodiscard]] const LeaseConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Unit {
    std::shared_ptr<ServingWindow> window = std::make_shared<ServingWindow>();
    bool held = false;
    std::uint64_t revision = 0;      // of the entry this host last wrote (held) or saw (not held)
    std::uint64_t token = 0;         // revision at acquisition
    Clock::time_point renew_sent{};  // start of the last successful write of ours
    Clock::time_point seen_since{};  // when `revision` was first seen (not held)
    bool seen = false;
    std::string holder;
  };
  LeaseKeeper(LeaseConfig config, std::unique_ptr<KvBucket> bucket);
  Unit& unit(const std::string& name);
  void won(Unit& u, std::uint64_t revision, Clock::time_point sent) const;
  // Another host's entry, as just read: its holder, and since when its revision stands.
  static void note_seen(Unit& u, const std::vector<std::uint8_t>& value, std::uint64_t revision,
                        Clock::time_point now);
  [[nodiscard]] std::string value() const;

  LeaseConfig config_;
  std::string boot_;  // 64 random bits in hex
  std::unique_ptr<KvBucket> bucket_;
  mutable std::mutex mutex_;  // window() and the queries may come from other threads
  std::map<std::string, Unit> units_;
};

}  // namespace capsule::cluster

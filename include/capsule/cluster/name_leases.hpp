#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/component/name_claimer.hpp>

namespace capsule::cluster {

class KvBucket;

// One activation per name of an on-demand component across a cluster (docs/cluster.md, "Name
// claims"): the component layer's NameClaimer, in the cluster's lease bucket.
//
// * Each host holds a lease on itself, the unit "host/<name>" of a LeaseKeeper: acquired when
//   it is free, renewed every quarter duration, its ServingWindow (window()) closing three
//   quarters of a duration after the last renewal that reached the server.
// * A claim is an entry per name holding "<host> <boot>". A host claims a name by creating it,
//   or by replacing one of its own previous life's. The entry's revision is the claim's fencing
//   token (it grows with every claim of the name). Another host's claim holds while that host
//   holds its lease: a host takes a claim over only after taking that host's lease, which needs
//   the lease to have stood still for a whole duration on the taker's clock, after that host's
//   window closed. The host whose lease was taken learns it at its next renewal, `lost` runs,
//   and it acquires a lease again only once `idle` says none of its activations is left.
// * No renewal per name: 10,000 active names cost one lease renewal per quarter duration.
//
// Claims and releases run in order on a thread of their own; renewals on another, so that a
// burst of claims never delays them.
class NameLeases final : public component::NameClaimer {
 public:
  struct Stats {
    std::uint64_t claims = 0;     // names claimed (or found claimed by this host)
    std::uint64_t refusals = 0;   // claims refused: another host holds the name
    std::uint64_t takeovers = 0;  // claims taken from a host whose lease had lapsed
    std::uint64_t releases = 0;   // claims given back
    std::uint64_t losses = 0;     // times this host found its own lease taken
  };

  // Connects (two KV connections to the lease bucket: the lease keeper's and the claims').
  static Result<std::shared_ptr<NameLeases>> connect(LeaseConfig config);
  ~NameLeases() override;
  NameLeases(const NameLeases&) = delete;
  NameLeases& operator=(const NameLeases&) = delete;

  // Acquires this host's lease if it is free, then starts the threads: the renewal thread
  // renews it (or acquires it later: a host restarted within a duration of its previous life
  // waits for that one's lease to lapse). `lost` runs on that thread
  // when a renewal finds the lease taken; `idle` is asked before each new acquisition.
  void start(std::function<void()> lost, std::function<bool()> idle);
  // Finishes the claims and releases queued, stops both threads and releases this host's lease,
  // so that its names can be claimed elsewhere at once. Idempotent.
  void stop();

  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  void claim(const ComponentId& id, std::function<void(Result<std::uint64_t>)> done) override;
  void release(const ComponentId& id) override;
  [[nodiscard]] std::shared_ptr<const ServingWindow> window() const override { return window_; }

  [[nodiscard]] Stats stats() const;
  // Whether this host holds its lease now (renewed in time).
  [[nodiscard]] bool holding() const { return window_->is_open(); }

 private:
  NameLeases(LeaseConfig config, std::unique_ptr<LeaseKeeper> leases,
             std::unique_ptr<KvBucket> claims);
  Result<std::uint64_t> claim_now(const ComponentId& id);
  void release_now(const ComponentId& id);
  void work();               // the claims thread
  void renew(bool holding);  // the renewal thread

  LeaseConfig config_;
  std::string value_;  // "<host> <boot>"
  std::unique_ptr<LeaseKeeper> leases_;
  std::unique_ptr<KvBucket> claims_;
  std::shared_ptr<ServingWindow> window_;
  std::function<void()> lost_;
  std::function<bool()> idle_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // under mutex_
  bool stopping_ = false;                    // under mutex_
  std::thread worker_;
  std::thread renewer_;

  std::atomic<std::uint64_t> claims_made_{0};
  std::atomic<std::uint64_t> refusals_{0};
  std::atomic<std::uint64_t> takeovers_{0};
  std::atomic<std::uint64_t> releases_{0};
  std::atomic<std::uint64_t> losses_{0};
};

}  // namespace capsule::cluster

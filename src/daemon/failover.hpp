#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <capsule/cluster/lease_keeper.hpp>
#include <capsule/cluster/nats_bridge.hpp>
#include <capsule/cluster/placement.hpp>
#include <capsule/component/component_spec.hpp>

#include "reporter.hpp"

namespace capsule::daemon {

// A host's side of fenced failover (docs/cluster.md, "Leases"): the components that only one host
// may serve at a time (those with [component.placement] failover), on the hosts that may serve
// them. Serving needs the unit's lease: a home host (one of the component's own groups) takes it
// whenever it is free; a standby takes it only when the planner says no live host runs it and the
// lease has lapsed; whoever holds it renews it, gives it back to a live home host, and stops the
// instances the moment it learns the lease went to another host. Until then its ServingWindow
// (closed as soon as renewals stop arriving in time) keeps the instances from serving.
// One thread drives it.
class FailoverLoop {
 public:
  struct Unit {
    component::ComponentSpec spec;  // spec.serving is set here, to the unit's lease window
    std::vector<std::string> topics;
    bool home = false;  // placed on this host's groups
  };
  using StartFn =
      std::function<Status(const component::ComponentSpec&, const std::vector<std::string>&)>;
  using StopFn = std::function<void(const component::ComponentSpec&)>;
  // Fences the unit's storage with its new lease token before its instances start (so that the
  // storage refuses the previous holder's late writes: KvBackend::fence).
  using FenceFn = std::function<Status(const std::string& unit, std::uint64_t token)>;

  FailoverLoop(std::shared_ptr<cluster::NatsBridge> bridge,
               std::unique_ptr<cluster::LeaseKeeper> leases, cluster::FailoverPlanner planner,
               Reporter& reporter, StartFn start, StopFn stop, FenceFn fence);
  ~FailoverLoop();
  FailoverLoop(const FailoverLoop&) = delete;
  FailoverLoop& operator=(const FailoverLoop&) = delete;

  // Before start().
  void add(const std::string& key, Unit unit);
  // Takes the free leases of home units at once (a host that starts alone serves them when
  // start() returns), then runs the loop on its own thread.
  void start();
  // Stops the loop, then stops serving and releases every lease held (the next holder need not
  // wait for it to lapse).
  void stop();
  // Re-plan now (the cluster changed).
  void poke();
  // The units this host serves now that it adopted (not placed on its groups).
  [[nodiscard]] std::set<std::string> adopted() const;

 private:
  void run();
  void pass();
  // Renews the leases held; stops the units whose lease went to another host. True if any did.
  bool drop_lost_leases();
  [[nodiscard]] std::set<std::string> adopted_units() const;
  void take(const std::string& key, Unit& unit, bool adopting);
  void drop(const std::string& key, Unit& unit, const std::string& why, bool release);
  void publish_view();

  std::shared_ptr<cluster::NatsBridge> bridge_;
  std::unique_ptr<cluster::LeaseKeeper> leases_;
  cluster::FailoverPlanner planner_;
  Reporter& reporter_;
  StartFn start_;
  StopFn stop_;
  FenceFn fence_;
  std::map<std::string, Unit> units_;  // only the loop thread touches it after start()
  std::set<std::string> running_;      // units whose instances run here
  mutable std::mutex view_mutex_;      // guards the copy the admin API reads
  std::set<std::string> adopted_view_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool dirty_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace capsule::daemon

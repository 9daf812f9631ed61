#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>

namespace capsule::cluster {

// Confirmed sends waiting for their acknowledgement, matched when it arrives (any order), so no
// thread waits for one: each entry ends exactly once, by its ack, its deadline, the loss of the
// target's host, or the bridge detaching. An entry is one send, or one batch of sends to one host
// acknowledged by one message with an outcome per send. `done` always runs outside the lock.
class PendingConfirmations {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Status)>;
  using BatchDone = std::function<void(std::vector<Status>)>;

  // Registers a send to `target` on `host`; the number names its ack subject.
  std::uint64_t add(std::string host, ComponentId target, Clock::time_point deadline, Done done);
  // Registers a batch of sends to `targets` (in order) on `host`, acknowledged together.
  std::uint64_t add_batch(std::string host, std::vector<ComponentId> targets,
                          Clock::time_point deadline, BatchDone done);
  // The ack for `id` arrived from `origin` with one outcome per send of the entry: ends it. An ack
  // from another host than the send went to ends nothing (false: forged or misrouted); so does
  // one with the wrong number of outcomes (false: malformed), and the deadline will end it.
  bool acknowledge(std::uint64_t id, const std::string& origin, std::vector<Status> outcomes);
  // Ends the entry as `outcome` (for each of its sends) whoever answered (e.g. the server's "no
  // responders").
  void fail(std::uint64_t id, const Status& outcome);
  // Ends, as unavailable, every entry past its deadline / to `host` / all of them.
  void expire(Clock::time_point now);
  void fail_host(const std::string& host, const std::string& reason);
  void fail_all(const std::string& reason);

 private:
  struct Entry {
    std::string host;
    std::vector<ComponentId> targets;  // one for a single send
    Clock::time_point deadline;
    Done single;      // set for a single send
    BatchDone batch;  // set for a batch
  };
  // Runs the entry's callback with `outcomes` (one per target).
  static void finish(Entry& entry, std::vector<Status> outcomes);
  template <typename Pick>
  void end_where(Pick pick, const std::function<Error(const Entry&, const ComponentId&)>& why);

  mutable std::mutex mutex_;
  std::uint64_t next_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

}  // namespace capsule::cluster

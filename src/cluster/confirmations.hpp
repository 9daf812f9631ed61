#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <capsule/core/component_id.hpp>
#include <capsule/core/result.hpp>

namespace capsule::cluster {

// Confirmed sends waiting for their acknowledgement, matched when it arrives (any order), so no
// thread waits for one: each entry ends exactly once, by its ack, its deadline, the loss of the
// target's host, or the bridge detaching. `done` always runs outside the lock.
class PendingConfirmations {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Status)>;

  // Registers a send to `target` on `host`; the number names its ack subject.
  std::uint64_t add(std::string host, ComponentId target, Clock::time_point deadline, Done done);
  // The ack for `id` arrived from `origin`: ends the entry with `outcome`. An ack from another
  // host than the send went to ends nothing (false: forged or misrouted).
  bool acknowledge(std::uint64_t id, const std::string& origin, Status outcome);
  // Ends the entry as `outcome` whoever answered (e.g. the server's "no responders").
  void fail(std::uint64_t id, Status outcome);
  // Ends, as unavailable, every entry past its deadline / to `host` / all of them.
  void expire(Clock::time_point now);
  void fail_host(const std::string& host, const std::string& reason);
  void fail_all(const std::string& reason);

 private:
  struct Entry {
    std::string host;
    ComponentId target;
    Clock::time_point deadline;
    Done done;
  };
  template <typename Pick>
  void end_where(Pick pick, const std::function<Error(const Entry&)>& why);

  mutable std::mutex mutex_;
  std::uint64_t next_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
};

}  // namespace capsule::cluster

#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <capsule/rt/fwd.hpp>

namespace capsule::rt {

struct SchedulerConfig {
  unsigned workers = 0;            // 0 = std::thread::hardware_concurrency()
  std::uint32_t budget = 64;       // messages an actor may process per turn before yielding
  std::uint32_t spin_rounds = 32;  // steal attempts before an idle worker parks
};

// Per-core run queues with work stealing. An actor is in at most one queue at a time (its cell's
// `scheduled` flag guarantees it), so a turn never runs on two threads at once, and different
// actors run in parallel with no global lock. Actors woken by an actor go to the waking worker's
// own queue (cache-warm, no wake-up cost: ping-pong stays on one core); a worker that has surplus
// work wakes a parked peer, which steals. Fairness: a turn ends after `budget` messages and the
// actor goes to the back of the queue.
class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler();

  // Any thread. After stop() the call is ignored (the system force-terminates leftovers).
  void schedule(detail::ActorCellBase* cell);
  // Joins the workers; queued actors are left for the caller to clean up.
  void stop();

  [[nodiscard]] unsigned worker_count() const noexcept {
    return static_cast<unsigned>(workers_.size());
  }
  [[nodiscard]] std::uint32_t budget() const noexcept { return config_.budget; }
  // True on any scheduler worker thread (where blocking is forbidden).
  [[nodiscard]] static bool on_worker_thread() noexcept;

 private:
  struct Worker;
  void run(Worker& self);
  detail::ActorCellBase* search(Worker& self, bool steal_slots);
  bool park(Worker& self);
  void wake_one(Worker* preferred);
  [[nodiscard]] bool any_work() const noexcept;

  SchedulerConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<unsigned> parked_{0};
  std::atomic<unsigned> searching_{0};
  std::atomic<unsigned> next_external_{0};
};

}  // namespace capsule::rt

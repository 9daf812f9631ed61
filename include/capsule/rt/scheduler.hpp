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
  // Polls of an actor's mailbox that ran dry before its budget, after a turn that found more than
  // one message and while the worker has nothing else to run, before the turn is given up (0:
  // give it up at once). See ActorCellBase::linger.
  std::uint32_t linger_polls = 64;
};

// Per-core run queues with work stealing. An actor is in at most one queue at a time (its cell's
// `scheduled` flag guarantees it), so a turn never runs on two threads at once, and different
// actors run in parallel with no global lock. Actors woken by an actor go to the waking worker's
// run-next slot (cache-warm, no wake-up cost: ping-pong stays on one core); a worker that has
// surplus work wakes a parked peer, which steals. A woken worker counts as searching until it
// finds work, and the last searcher to find work wakes the next one, so a burst spreads over
// parked workers one wake-up at a time. A slot whose owner stays inside one turn (a long
// handler) is handed to another worker by a stall monitor thread after about a millisecond.
// Fairness: a turn ends after `budget` messages and the actor goes to the back of the queue.
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
  // On a worker: its queue or run-next slot holds an actor (false on any other thread).
  [[nodiscard]] static bool local_work_waiting() noexcept;
  // A worker's turn that gave its actor up still reads the actor's mailbox once (the hand-back
  // check in ActorCellBase::run_turn), while another worker may already own it, terminate it and
  // drop the system's reference. The worker names the cell it reads here instead of taking a
  // reference (two atomic read-modify-writes on the cell's control block per turn, ~7% of Savina
  // Chameneos' CPU); whoever drops the system's reference waits until no worker names it
  // (wait_unread). No-ops on other threads: an inline turn's caller holds a reference.
  static void begin_hand_back(const detail::ActorCellBase* cell) noexcept;
  static void end_hand_back() noexcept;
  void wait_unread(const detail::ActorCellBase* cell) const noexcept;
  // A spin-wait hint to the CPU (pause on x86).
  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

 private:
  struct Worker;
  struct StallMonitor;
  enum class Woken : std::uint8_t { kExit, kClaimed, kNotParked };

  void run(Worker& self);
  detail::ActorCellBase* take_local(Worker& self);
  detail::ActorCellBase* search(const Worker& self);
  void found_work(Worker& self);
  Woken park(Worker& self);
  Worker* claim_parked(Worker* preferred);
  void wake(Worker& worker, detail::ActorCellBase* handoff);
  void wake_one(Worker* preferred);
  [[nodiscard]] bool any_work() const noexcept;
  [[nodiscard]] bool slot_waiting() const noexcept;
  void watch_slots();
  void monitor_loop();
  bool hand_off_stalled_slots();

  SchedulerConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<StallMonitor> monitor_;  // null with one worker: no peer could take a slot
  std::atomic<bool> stopping_{false};
  std::atomic<bool> watching_{false};  // the stall monitor is ticking
  std::atomic<unsigned> parked_{0};
  std::atomic<unsigned> searching_{0};
  std::atomic<unsigned> next_external_{0};
};

}  // namespace capsule::rt

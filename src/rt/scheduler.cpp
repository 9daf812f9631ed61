#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/scheduler.hpp>

namespace capsule::rt {
namespace {

// Tiny test-and-test-and-set lock: a run queue is held for a few instructions at a time.
class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      // On an oversubscribed machine the holder may have been preempted: after a short spin,
      // give the core away instead of burning the rest of our time slice.
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
          Scheduler::cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

// Intrusive FIFO of runnable cells (links live in the cells: scheduling never allocates).
class RunQueue {
 public:
  void push(detail::ActorCellBase* cell) noexcept {
    cell->next_runnable = nullptr;
    lock_.lock();
    if (tail_ != nullptr) {
      tail_->next_runnable = cell;
    } else {
      head_ = cell;
    }
    tail_ = cell;
    size_.fetch_add(1, std::memory_order_relaxed);
    lock_.unlock();
  }
  detail::ActorCellBase* pop() noexcept {
    if (size_.load(std::memory_order_relaxed) == 0) return nullptr;
    lock_.lock();
    detail::ActorCellBase* cell = head_;
    if (cell != nullptr) {
      head_ = cell->next_runnable;
      if (head_ == nullptr) tail_ = nullptr;
      size_.fetch_sub(1, std::memory_order_relaxed);
    }
    lock_.unlock();
    return cell;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_.load(std::memory_order_seq_cst); }
  [[nodiscard]] std::size_t size_relaxed() const noexcept {
    return size_.load(std::memory_order_relaxed);
  }

 private:
  SpinLock lock_;
  detail::ActorCellBase* head_ = nullptr;
  detail::ActorCellBase* tail_ = nullptr;
  std::atomic<std::size_t> size_{0};
};

}  // namespace

struct Scheduler::Worker {
  alignas(64) RunQueue queue;
  alignas(64) std::atomic<std::uint32_t> wake_seq{0};
  // True while parked and not yet claimed. Whoever flips it back (a waker, or the worker giving
  // up on parking) owns the wake-up, so a worker is woken, and counted as searching, once.
  std::atomic<bool> parked{false};
  Scheduler* owner = nullptr;
  unsigned index = 0;
  std::thread thread;
  // The cell most recently woken by this worker, run next: a message chain (ping-pong,
  // request/reply) stays on one core instead of being stolen mid-exchange. Only the stall monitor
  // takes it from another thread, when the owner stays in one turn.
  std::atomic<detail::ActorCellBase*> next_slot{nullptr};
  std::atomic<std::uint64_t> turns{0};  // written by the owner only
  // The cell whose hand-back check this worker is making (Scheduler::begin_hand_back).
  std::atomic<const detail::ActorCellBase*> reading{nullptr};
  std::uint32_t slot_streak = 0;  // owner only
  bool searching = false;         // owner only: this worker is counted in searching_
};

// A cell in a run-next slot waits for its owner's turn to end; a component handler's turn lasts
// up to its wall-time budget. Nothing else can notice that, since idle workers sleep on a futex
// and the owner is busy in the handler, so this thread looks at the slots while any is occupied.
// A slot that sat behind one turn for a tick goes to a parked worker, or, with none parked, to
// its owner's queue, where searching workers steal it. The monitor sleeps on a condition
// variable when no slot is in use: an idle runtime pays nothing, and filling a slot costs one
// load of `watching_`.
//
// Tick granularity is deliberate: searching workers used to steal a slot after a few
// microseconds, which took message chains off their core and bounced a streamed-to actor between
// cores each time it caught up and went idle.
//
// An actor whose backlog reached kStreamBacklog while it waited in the slot (it entered it idle)
// is taken to be streamed to by the turn (rt_micro_bench's Throughput: one handler sends 2M
// messages, ~15k per tick). Consumed on another core while the producer keeps sending, every
// message becomes cross-core traffic: 1->1 throughput fell from ~16 to ~4 M msg/s. So it goes to
// its owner's queue, where the owner runs it after the turn, or a worker that starts searching
// steals it. The cost: an actor that other senders filled that far while it waited stays too.
struct Scheduler::StallMonitor {
  // Turns shorter than a tick (ping-pong: ~100 ns) never lose their slot; a woken actor waits
  // at most about two ticks behind a long one.
  static constexpr std::chrono::microseconds kTick{1000};
  // Far above what a woken actor holds (a request, a few events), far below what a streaming
  // turn leaves in a tick.
  static constexpr std::uint64_t kStreamBacklog = 1024;
  // Ticks without an occupied slot before the monitor sleeps, so a chain that pauses briefly
  // does not pay a wake-up of the monitor each time.
  static constexpr unsigned kQuietTicks = 16;

  using Clock = std::chrono::steady_clock;
  struct Seen {  // one worker's current turn, as the ticks saw it
    std::uint64_t turns = 0;
    Clock::time_point since;  // first seen; its slot waited behind it from the next tick on
  };

  std::mutex mutex;  // only for the condition variable: watching_ and stopping_ are atomics
  std::condition_variable cv;
  std::thread thread;
  std::vector<Seen> seen;  // monitor thread only
};

namespace {
// After this many consecutive slot runs the queue gets a turn, so two actors that keep waking
// each other cannot starve the rest of the worker's queue.
constexpr std::uint32_t kMaxSlotStreak = 32;
}  // namespace

namespace {
// The worker running on this thread, if any. Thread identity, not shared state: it lets a send
// from inside a handler go to the local queue and tells mailboxes that blocking is forbidden.
thread_local void* t_current_worker = nullptr;
}  // namespace

Scheduler::Scheduler(SchedulerConfig config) : config_(config) {
  if (config_.workers == 0) config_.workers = std::max(1U, std::thread::hardware_concurrency());
  if (config_.budget == 0) config_.budget = 1;
  workers_.reserve(config_.workers);
  for (unsigned i = 0; i < config_.workers; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->owner = this;
    worker->index = i;
    workers_.push_back(std::move(worker));
  }
  if (config_.workers > 1) {
    monitor_ = std::make_unique<StallMonitor>();
    monitor_->seen.resize(config_.workers);
  }
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([this, w] { run(*w); });
  }
  if (monitor_) monitor_->thread = std::thread([this] { monitor_loop(); });
}

Scheduler::~Scheduler() {
  stop();
}

bool Scheduler::on_worker_thread() noexcept {
  return t_current_worker != nullptr;
}

void Scheduler::begin_hand_back(const detail::ActorCellBase* cell) noexcept {
  // Relaxed: the turn's release of the cell (a seq_cst exchange of its `scheduled` flag) comes
  // next, and whoever ends the cell got it through that release, so it sees this store.
  if (auto* self = static_cast<Worker*>(t_current_worker)) {
    self->reading.store(cell, std::memory_order_relaxed);
  }
}

void Scheduler::end_hand_back() noexcept {
  if (auto* self = static_cast<Worker*>(t_current_worker)) {
    self->reading.store(nullptr, std::memory_order_release);
  }
}

void Scheduler::wait_unread(const detail::ActorCellBase* cell) const noexcept {
  for (const auto& w : workers_) {
    // A handful of loads on the reader's side: it is only ever preempted in between.
    for (int spins = 0; w->reading.load(std::memory_order_acquire) == cell; ++spins) {
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }
}

bool Scheduler::local_work_waiting() noexcept {
  const auto* self = static_cast<const Worker*>(t_current_worker);
  if (self == nullptr) return false;
  return self->queue.size_relaxed() > 0 ||
         self->next_slot.load(std::memory_order_relaxed) != nullptr ||
         self->owner->stopping_.load(std::memory_order_relaxed);
}

void Scheduler::schedule(detail::ActorCellBase* cell) {
  if (stopping_.load(std::memory_order_acquire)) return;
  auto* current = static_cast<Worker*>(t_current_worker);
  if (current != nullptr && current->owner == this) {
    // seq_cst: pairs with park() and the monitor going idle, which write, then read the slots.
    if (auto* displaced = current->next_slot.exchange(cell, std::memory_order_seq_cst)) {
      current->queue.push(displaced);
    }
    // The current turn may be a long handler: have the slot watched (a load when it is).
    if (!watching_.load(std::memory_order_seq_cst)) watch_slots();
    // Surplus work: a parked peer steals it. A lone message chain stays on this core.
    if (current->queue.size_relaxed() > 0 && parked_.load(std::memory_order_relaxed) > 0 &&
        searching_.load(std::memory_order_relaxed) == 0) {
      wake_one(nullptr);
    }
    return;
  }
  Worker* target =
      workers_[next_external_.fetch_add(1, std::memory_order_relaxed) % workers_.size()].get();
  target->queue.push(cell);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // A searching worker scans every queue (and re-checks before it parks or when it finds work),
  // so a wake-up, a futex syscall on this thread, is only needed when nobody is looking for work.
  // Work piling up in the target queue means the searcher is not keeping up (or was preempted on
  // an oversubscribed machine): wake a parked worker then as well.
  if (parked_.load(std::memory_order_seq_cst) > 0 &&
      (searching_.load(std::memory_order_seq_cst) == 0 || target->queue.size_relaxed() > 1)) {
    wake_one(target);
  }
}

void Scheduler::stop() {
  if (!stopping_.exchange(true)) {
    if (monitor_) {
      {
        const std::lock_guard lock(monitor_->mutex);
      }  // the monitor is waiting or will see it
      monitor_->cv.notify_all();
    }
    for (auto& w : workers_) {
      w->parked.store(false);
      w->wake_seq.fetch_add(1);
      w->wake_seq.notify_one();
    }
  }
  if (monitor_ && monitor_->thread.joinable()) monitor_->thread.join();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

bool Scheduler::any_work() const noexcept {
  return std::any_of(workers_.begin(), workers_.end(),
                     [](const auto& w) { return w->queue.size() > 0; });
}

bool Scheduler::slot_waiting() const noexcept {
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) {
    return w->next_slot.load(std::memory_order_seq_cst) != nullptr;
  });
}

// The worker that flips `parked` owns the wake-up (see Worker::parked).
Scheduler::Worker* Scheduler::claim_parked(Worker* preferred) {
  if (preferred != nullptr && preferred->parked.exchange(false, std::memory_order_seq_cst)) {
    return preferred;
  }
  for (auto& w : workers_) {
    if (w->parked.load(std::memory_order_relaxed) &&
        w->parked.exchange(false, std::memory_order_seq_cst)) {
      return w.get();
    }
  }
  return nullptr;
}

// `worker` was claimed. It starts as a searcher (counted before it runs, so further producers
// leave the wake-ups to it; see found_work()), with `handoff`, if any, in its own queue.
void Scheduler::wake(Worker& worker, detail::ActorCellBase* handoff) {
  if (handoff != nullptr) worker.queue.push(handoff);
  parked_.fetch_sub(1, std::memory_order_seq_cst);
  searching_.fetch_add(1, std::memory_order_seq_cst);
  worker.wake_seq.fetch_add(1, std::memory_order_release);
  worker.wake_seq.notify_one();
}

void Scheduler::wake_one(Worker* preferred) {
  if (Worker* worker = claim_parked(preferred)) wake(*worker, nullptr);
}

// The last searcher to find work wakes the next one (Go's and Tokio's rule): producers skip the
// wake-up while someone searches, so without this a burst would wait for one worker. It also
// closes the race with a producer that saw this worker searching and relied on it.
void Scheduler::found_work(Worker& self) {
  self.searching = false;
  if (searching_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      parked_.load(std::memory_order_seq_cst) > 0 && any_work()) {
    wake_one(nullptr);
  }
}

// Only queues: a slot belongs to its owner's next turn (see StallMonitor).
detail::ActorCellBase* Scheduler::search(const Worker& self) {
  const std::size_t n = workers_.size();
  for (std::size_t i = 1; i < n; ++i) {
    if (auto* cell = workers_[(self.index + i) % n]->queue.pop()) return cell;
  }
  return nullptr;
}

Scheduler::Woken Scheduler::park(Worker& self) {
  const auto seen = self.wake_seq.load(std::memory_order_acquire);
  self.parked.store(true, std::memory_order_seq_cst);
  parked_.fetch_add(1, std::memory_order_seq_cst);
  if (any_work() || stopping_.load(std::memory_order_seq_cst)) {
    if (self.parked.exchange(false, std::memory_order_seq_cst)) {
      parked_.fetch_sub(1, std::memory_order_seq_cst);
      return stopping_.load(std::memory_order_acquire) ? Woken::kExit : Woken::kNotParked;
    }
    // A waker claimed this worker meanwhile: wait for its wake_seq bump, which follows at once.
  }
  self.wake_seq.wait(seen, std::memory_order_acquire);
  return stopping_.load(std::memory_order_acquire) ? Woken::kExit : Woken::kClaimed;
}

detail::ActorCellBase* Scheduler::take_local(Worker& self) {
  detail::ActorCellBase* cell = nullptr;
  if (self.slot_streak < kMaxSlotStreak &&
      self.next_slot.load(std::memory_order_relaxed) != nullptr) {
    cell = self.next_slot.exchange(nullptr, std::memory_order_acq_rel);
    if (cell != nullptr) {
      ++self.slot_streak;
      return cell;
    }
  }
  self.slot_streak = 0;
  cell = self.queue.pop();
  if (cell == nullptr && self.next_slot.load(std::memory_order_relaxed) != nullptr) {
    cell = self.next_slot.exchange(nullptr, std::memory_order_acq_rel);
  }
  return cell;
}

void Scheduler::run(Worker& self) {
  t_current_worker = &self;
  const std::uint32_t budget = config_.budget;
  const std::uint32_t linger_polls = config_.linger_polls;
  while (true) {
    detail::ActorCellBase* cell = take_local(self);
    if (cell == nullptr) {
      if (!self.searching) {
        searching_.fetch_add(1, std::memory_order_seq_cst);
        self.searching = true;
      }
      for (std::uint32_t round = 0; round < config_.spin_rounds && cell == nullptr; ++round) {
        cell = search(self);
        if (cell == nullptr) cell = self.queue.pop();
        if (cell == nullptr) {
          if (stopping_.load(std::memory_order_relaxed)) break;
          if (round < config_.spin_rounds / 2) {
            cpu_relax();
          } else {
            std::this_thread::yield();
          }
        }
      }
      if (cell == nullptr) {
        // Giving up: park() re-checks every queue after announcing itself, so a producer that
        // saw this worker searching and skipped its wake-up is not lost.
        self.searching = false;
        searching_.fetch_sub(1, std::memory_order_seq_cst);
        if (stopping_.load(std::memory_order_acquire)) break;
        const Woken woken = park(self);
        if (woken == Woken::kExit) break;
        self.searching = woken == Woken::kClaimed;  // the waker counted it in searching_
        continue;
      }
    }
    if (self.searching) {
      found_work(self);
    } else if (self.queue.size() > 0 && parked_.load(std::memory_order_relaxed) > 0 &&
               searching_.load(std::memory_order_relaxed) == 0) {
      // More runnable work than this worker can take: let a parked peer steal some.
      wake_one(nullptr);
    }
    self.turns.store(self.turns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    switch (cell->run_turn(budget, linger_polls)) {
      case detail::ActorCellBase::TurnResult::kIdle:
        break;
      case detail::ActorCellBase::TurnResult::kReschedule:
        self.queue.push(cell);
        break;
      case detail::ActorCellBase::TurnResult::kTerminated:
        detail::ActorCellBase::release(cell);
        break;
    }
  }
  t_current_worker = nullptr;
}

void Scheduler::watch_slots() {
  if (!monitor_ || watching_.exchange(true, std::memory_order_seq_cst)) return;
  // Taking the mutex orders this with the monitor's predicate check: it either saw the flag or
  // is already waiting for this notification.
  {
    const std::lock_guard lock(monitor_->mutex);
  }
  monitor_->cv.notify_one();
}

void Scheduler::monitor_loop() {
  StallMonitor& m = *monitor_;
  const auto stopping = [this] { return stopping_.load(std::memory_order_acquire); };
  std::unique_lock lock(m.mutex);
  while (!stopping()) {
    m.cv.wait(lock, [&] { return stopping() || watching_.load(std::memory_order_seq_cst); });
    unsigned quiet = 0;
    while (!stopping()) {
      if (m.cv.wait_for(lock, StallMonitor::kTick, stopping)) break;
      quiet = hand_off_stalled_slots() ? 0 : quiet + 1;
      if (quiet < StallMonitor::kQuietTicks) continue;
      watching_.store(false, std::memory_order_seq_cst);
      // A slot filled just before the store saw `watching_` set and did not call watch_slots().
      if (!slot_waiting()) break;
      watching_.store(true, std::memory_order_seq_cst);
      quiet = 0;
    }
  }
}

// One tick. A slot whose owner is in a turn that was already running at the previous tick waited
// behind that turn: its actor goes to a parked worker, or, with none parked or when it is being
// streamed to, to the owner's queue. True while some slot is occupied: the monitor keeps ticking.
bool Scheduler::hand_off_stalled_slots() {
  const auto now = StallMonitor::Clock::now();
  bool waiting = false;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = *workers_[i];
    StallMonitor::Seen& seen = monitor_->seen[i];
    const auto turns = w.turns.load(std::memory_order_relaxed);
    if (turns != seen.turns) seen = StallMonitor::Seen{turns, now};
    if (w.next_slot.load(std::memory_order_seq_cst) == nullptr) continue;
    waiting = true;
    if (now <= seen.since) continue;  // the turn may have started just now
    // Taken out first: only the holder may look into a cell (its owner could otherwise run,
    // terminate and free it meanwhile). The owner's queue never strands it: the owner pops it
    // after the turn, and a worker about to park sees it.
    auto* cell = w.next_slot.exchange(nullptr, std::memory_order_acq_rel);
    if (cell == nullptr) continue;
    Worker* idle = nullptr;
    if (cell->mailbox_stats().depth() < StallMonitor::kStreamBacklog) idle = claim_parked(nullptr);
    if (idle != nullptr) {
      wake(*idle, cell);
      continue;
    }
    // Into the owner's queue, which the owner drains after the turn that stalled the slot. No
    // other worker is woken for it: an actor being streamed to stays with its producer's worker
    // (kStreamBacklog above; a consumer running beside its producer made Savina Counting 3x
    // slower). Only an owner that parked meanwhile (its turn ended and it found nothing, just
    // before this push) would strand it: park() announces itself and then re-checks the queues,
    // so either it sees the cell or this sees it parked and wakes it. (Pushing without this
    // check left the cell queued with every worker asleep; Savina Big hung that way.)
    w.queue.push(cell);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (w.parked.load(std::memory_order_seq_cst)) wake_one(&w);
  }
  return waiting;
}

}  // namespace capsule::rt

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/scheduler.hpp>

namespace capsule::rt {
namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Tiny test-and-test-and-set lock: a run queue is held for a few instructions at a time.
class SpinLock {
 public:
  void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      // On an oversubscribed machine the holder may have been preempted: after a short spin,
      // give the core away instead of burning the rest of our time slice.
      for (int spins = 0; locked_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
          cpu_relax();
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
  std::atomic<bool> parked{false};
  Scheduler* owner = nullptr;
  unsigned index = 0;
  std::thread thread;
  // The cell most recently woken by this worker, run next: a message chain (ping-pong,
  // request/reply) stays on one core instead of being stolen mid-exchange. Thieves take it only
  // when the owner has been stuck in one turn for a while (see search()).
  std::atomic<detail::ActorCellBase*> next_slot{nullptr};
  std::atomic<std::uint64_t> turns{0};    // written by the owner only
  std::uint32_t slot_streak = 0;          // owner only
  std::vector<std::uint64_t> seen_turns;  // owner only: peers' turn counters at the last look
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
    worker->seen_turns.assign(config_.workers, 0);
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([this, w] { run(*w); });
  }
}

Scheduler::~Scheduler() {
  stop();
}

bool Scheduler::on_worker_thread() noexcept {
  return t_current_worker != nullptr;
}

void Scheduler::schedule(detail::ActorCellBase* cell) {
  if (stopping_.load(std::memory_order_acquire)) return;
  auto* current = static_cast<Worker*>(t_current_worker);
  if (current != nullptr && current->owner == this) {
    if (auto* displaced = current->next_slot.exchange(cell, std::memory_order_acq_rel)) {
      current->queue.push(displaced);
    }
    // This worker runs the cell itself after its current turn, so no fence is needed for
    // correctness; waking a peer is a heuristic. Only surplus work is worth a wake-up: a lone
    // message chain stays on this core.
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
  // A searching worker scans every queue (and re-checks before it parks), so a wake-up, a futex
  // syscall on this thread, is only needed when nobody is looking for work.
  // Work piling up in the target queue means the searcher is not keeping up (or was preempted on
  // an oversubscribed machine): wake a parked worker then as well.
  if (parked_.load(std::memory_order_seq_cst) > 0 &&
      (searching_.load(std::memory_order_seq_cst) == 0 || target->queue.size_relaxed() > 1)) {
    wake_one(target);
  }
}

void Scheduler::stop() {
  if (stopping_.exchange(true)) {
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
    return;
  }
  for (auto& w : workers_) {
    w->parked.store(false);
    w->wake_seq.fetch_add(1);
    w->wake_seq.notify_one();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

bool Scheduler::any_work() const noexcept {
  return std::any_of(workers_.begin(), workers_.end(),
                     [](const auto& w) { return w->queue.size() > 0; });
}

void Scheduler::wake_one(Worker* preferred) {
  if (preferred != nullptr && preferred->parked.exchange(false, std::memory_order_seq_cst)) {
    parked_.fetch_sub(1, std::memory_order_seq_cst);
    preferred->wake_seq.fetch_add(1, std::memory_order_release);
    preferred->wake_seq.notify_one();
    return;
  }
  for (auto& w : workers_) {
    if (w->parked.load(std::memory_order_relaxed) &&
        w->parked.exchange(false, std::memory_order_seq_cst)) {
      parked_.fetch_sub(1, std::memory_order_seq_cst);
      w->wake_seq.fetch_add(1, std::memory_order_release);
      w->wake_seq.notify_one();
      return;
    }
  }
}

detail::ActorCellBase* Scheduler::search(Worker& self, bool steal_slots) {
  const std::size_t n = workers_.size();
  for (std::size_t i = 1; i < n; ++i) {
    const std::size_t v = (self.index + i) % n;
    Worker& victim = *workers_[v];
    if (auto* cell = victim.queue.pop()) return cell;
    if (victim.next_slot.load(std::memory_order_relaxed) == nullptr) continue;
    // A slot is only fair game when its owner's turn counter did not move since our previous
    // look: the owner is inside a long handler and would leave the woken actor waiting.
    const auto turns = victim.turns.load(std::memory_order_relaxed);
    if (steal_slots && turns == self.seen_turns[v]) {
      if (auto* cell = victim.next_slot.exchange(nullptr, std::memory_order_acq_rel)) return cell;
    }
    self.seen_turns[v] = turns;
  }
  return nullptr;
}

// Returns false when the worker should exit.
bool Scheduler::park(Worker& self) {
  const auto seen = self.wake_seq.load(std::memory_order_acquire);
  self.parked.store(true, std::memory_order_seq_cst);
  parked_.fetch_add(1, std::memory_order_seq_cst);
  if (any_work() || stopping_.load(std::memory_order_seq_cst)) {
    if (self.parked.exchange(false, std::memory_order_seq_cst)) {
      parked_.fetch_sub(1, std::memory_order_seq_cst);
    }
    return !stopping_.load(std::memory_order_acquire);
  }
  self.wake_seq.wait(seen, std::memory_order_acquire);
  return !stopping_.load(std::memory_order_acquire);
}

void Scheduler::run(Worker& self) {
  t_current_worker = &self;
  const std::uint32_t budget = config_.budget;
  while (true) {
    detail::ActorCellBase* cell = nullptr;
    if (self.slot_streak < kMaxSlotStreak &&
        self.next_slot.load(std::memory_order_relaxed) != nullptr) {
      cell = self.next_slot.exchange(nullptr, std::memory_order_acq_rel);
      if (cell != nullptr) ++self.slot_streak;
    }
    if (cell == nullptr) {
      self.slot_streak = 0;
      cell = self.queue.pop();
      if (cell == nullptr && self.next_slot.load(std::memory_order_relaxed) != nullptr) {
        cell = self.next_slot.exchange(nullptr, std::memory_order_acq_rel);
      }
    }
    if (cell == nullptr) {
      searching_.fetch_add(1, std::memory_order_seq_cst);
      for (std::uint32_t round = 0; round < config_.spin_rounds && cell == nullptr; ++round) {
        // Slots are stolen only in the slower, yielding half of the spin, so a healthy message
        // chain (turns of ~100 ns) is never taken from its core.
        cell = search(self, round >= config_.spin_rounds / 2);
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
      searching_.fetch_sub(1, std::memory_order_seq_cst);
      if (cell == nullptr) {
        if (stopping_.load(std::memory_order_acquire)) break;
        if (!park(self)) break;
        continue;
      }
    }
    // More runnable work than this worker can take: let a parked peer steal some.
    if (self.queue.size() > 0 && parked_.load(std::memory_order_relaxed) > 0 &&
        searching_.load(std::memory_order_relaxed) == 0) {
      wake_one(nullptr);
    }
    self.turns.store(self.turns.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    switch (cell->run_turn(budget)) {
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

}  // namespace capsule::rt

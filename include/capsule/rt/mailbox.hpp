#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <capsule/rt/detail/cache_line_pad.hpp>
#include <capsule/rt/detail/mpsc_queue.hpp>
#include <capsule/rt/detail/node_fifo.hpp>

namespace capsule::rt {

// What a bounded mailbox does with a message that arrives when it is full.
enum class BackpressurePolicy : std::uint8_t {
  kBlock,       // the sender waits (up to block_timeout) for room; actors never block: see send()
  kDropNewest,  // the incoming message is dropped and counted
  kDropOldest,  // the oldest queued message is dropped to make room
  kError,       // the send fails with ErrorCode::kMailboxFull
};

[[nodiscard]] std::string_view to_string(BackpressurePolicy policy) noexcept;

struct MailboxConfig {
  std::size_t capacity = 0;  // messages; 0 = no bound on the count
  BackpressurePolicy policy = BackpressurePolicy::kError;
  std::chrono::milliseconds block_timeout{1000};
  // Bytes the queued messages may hold, as their type measures them (mailbox_bytes(), found by
  // argument-dependent lookup; a type without one weighs nothing); 0 = no bound on bytes. Full
  // by bytes is full: the same policy applies. A message heavier than the bound alone is taken
  // into an empty mailbox (the sender's payload limit bounds it).
  std::size_t max_bytes = 0;

  [[nodiscard]] static MailboxConfig unbounded() { return {}; }
  [[nodiscard]] static MailboxConfig bounded(
      std::size_t capacity, BackpressurePolicy policy,
      std::chrono::milliseconds block_timeout = std::chrono::milliseconds{1000}) {
    return {capacity, policy, block_timeout, 0};
  }
  [[nodiscard]] bool is_bounded() const noexcept { return capacity != 0 || max_bytes != 0; }
};

// Point-in-time copy of a mailbox's counters.
struct MailboxStats {
  std::uint64_t enqueued = 0;
  std::uint64_t processed = 0;
  std::uint64_t dropped = 0;
  std::uint64_t high_water_mark = 0;
  [[nodiscard]] std::uint64_t depth() const noexcept {
    return enqueued > processed + dropped ? enqueued - processed - dropped : 0;
  }
};

// Producers bump `enqueued` and `dropped` on one cache line; the consumer owns `processed` and the
// high-water mark on another (padding, not alignment: see detail::CacheLinePad), so a send and a
// receive never fight over a line. The high-water
// mark is sampled by the consumer once per turn (and exactly by bounded mailboxes on enqueue).
class MailboxMetrics {
 public:
  void on_enqueue() noexcept { enqueued_.fetch_add(1, std::memory_order_relaxed); }
  void on_drop() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }
  void on_dequeue() noexcept {
    processed_.store(processed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Consumer only.
  void sample_depth() noexcept {
    const auto in = enqueued_.load(std::memory_order_relaxed);
    const auto out =
        processed_.load(std::memory_order_relaxed) + dropped_.load(std::memory_order_relaxed);
    if (in > out) note_depth(in - out);
  }
  void note_depth(std::uint64_t depth) noexcept {
    if (depth > high_water_.load(std::memory_order_relaxed)) {
      high_water_.store(depth, std::memory_order_relaxed);
    }
  }
  [[nodiscard]] MailboxStats snapshot() const noexcept {
    return {enqueued_.load(std::memory_order_relaxed), processed_.load(std::memory_order_relaxed),
            dropped_.load(std::memory_order_relaxed), high_water_.load(std::memory_order_relaxed)};
  }

 private:
  std::atomic<std::uint64_t> enqueued_{0};
  std::atomic<std::uint64_t> dropped_{0};
  [[maybe_unused]] detail::CacheLinePad pad_{};
  std::atomic<std::uint64_t> processed_{0};
  std::atomic<std::uint64_t> high_water_{0};
};

enum class EnqueueOutcome : std::uint8_t {
  kAccepted,
  kAcceptedDroppedOldest,  // accepted, but the oldest message was discarded for it
  kDroppedNewest,          // the incoming message was discarded
  kFull,                   // rejected (kError, or kBlock that timed out)
  kWouldBlock,             // kBlock, full, and the caller may not wait: it should retry later
};

// What a message weighs against MailboxConfig::max_bytes: its mailbox_bytes() if its type has one.
template <typename Msg>
[[nodiscard]] std::size_t weigh(const Msg& msg) {
  if constexpr (requires {
                  { mailbox_bytes(msg) } -> std::convertible_to<std::size_t>;
                }) {
    return mailbox_bytes(msg);
  } else {
    return 0;
  }
}

// An actor's mailbox: unbounded (lock-free MPSC) or bounded (a mutex-guarded ring that really
// holds at most `capacity` messages and `max_bytes` bytes, whatever the policy).
template <typename Msg>
class Mailbox {
 public:
  explicit Mailbox(const MailboxConfig& config) : config_(config) {
    if (config_.is_bounded()) bounded_ = std::make_unique<Bounded>();
  }

  [[nodiscard]] const MailboxConfig& config() const noexcept { return config_; }

  // `may_block` is false on scheduler threads: a worker that waits for room could be the very
  // thread that must drain the mailbox.
  EnqueueOutcome enqueue(Msg&& msg, bool may_block) {
    if (!bounded_) {
      enqueue_unbounded(std::move(msg));
      return EnqueueOutcome::kAccepted;
    }
    const std::size_t weight = weight_of(msg);
    std::unique_lock lock(bounded_->mutex);
    auto outcome = EnqueueOutcome::kAccepted;
    if (full_for(weight)) {
      switch (config_.policy) {
        case BackpressurePolicy::kDropNewest:
          metrics_.on_drop();
          metrics_.on_enqueue();
          return EnqueueOutcome::kDroppedNewest;
        case BackpressurePolicy::kDropOldest:
          while (full_for(weight)) {  // the count is restored by the push below
            bounded_->bytes -= weight_of(bounded_->items.front());
            bounded_->items.pop_front();
            metrics_.on_drop();
          }
          outcome = EnqueueOutcome::kAcceptedDroppedOldest;
          break;
        case BackpressurePolicy::kError:
          return EnqueueOutcome::kFull;
        case BackpressurePolicy::kBlock:
          if (!may_block) return EnqueueOutcome::kWouldBlock;
          if (!bounded_->not_full.wait_for(lock, config_.block_timeout,
                                           [&] { return !full_for(weight) || bounded_->closed; })) {
            return EnqueueOutcome::kFull;
          }
          break;
      }
    }
    bounded_->bytes += weight;
    bounded_->items.push_back(std::move(msg));
    bounded_->size.store(bounded_->items.size(), std::memory_order_release);
    metrics_.on_enqueue();
    metrics_.note_depth(bounded_->items.size());
    return outcome;
  }

  // An unbounded mailbox's enqueue (is_bounded() is false), without the policy switch.
  // `from_worker`: the sender runs on a scheduler worker (see MpscQueue::push's reuse_node).
  void enqueue_unbounded(Msg&& msg, bool from_worker = false) {
    metrics_.on_enqueue();
    queue_.push(std::move(msg), !from_worker);
  }

  // The control lane: messages that answer or steer the owner (outcomes of its earlier
  // requests, exits of linked actors, upgrades) are never refused, dropped or evicted by data
  // backpressure, and are taken before data. Their number is bounded by whoever sends them
  // (e.g. a requester's pending-request quota), not by the data capacity.
  void enqueue_control(Msg&& msg) {
    metrics_.on_enqueue();
    control_.push(std::move(msg));
  }

  [[nodiscard]] bool is_bounded() const noexcept { return bounded_ != nullptr; }

  // Consumer only, once per turn.
  void sample_depth() noexcept { metrics_.sample_depth(); }

  // Consumer only.
  std::optional<Msg> try_dequeue() {
    std::optional<Msg> msg;
    if (!control_.empty()) msg = control_.try_pop();
    if (msg) {
      metrics_.on_dequeue();
      return msg;
    }
    if (!bounded_) {
      msg = queue_.try_pop();
    } else {
      std::lock_guard lock(bounded_->mutex);
      if (!bounded_->items.empty()) {
        msg.emplace(std::move(bounded_->items.front()));
        bounded_->items.pop_front();
        bounded_->bytes -= weight_of(*msg);
        bounded_->size.store(bounded_->items.size(), std::memory_order_release);
        bounded_->not_full.notify_one();
      }
    }
    if (msg) metrics_.on_dequeue();
    return msg;
  }

  // Consumer only; may report empty while a producer is mid-push (that producer reschedules).
  [[nodiscard]] bool empty() const {
    if (!control_.empty()) return false;
    if (!bounded_) return queue_.empty();
    std::lock_guard lock(bounded_->mutex);
    return bounded_->items.empty();
  }

  // Consumer only, lock-free, for polling: reads what a producer writes last when it links a
  // message (the data queue's link behind its head), not the producers' tail.
  [[nodiscard]] bool ready() const noexcept {
    if (!control_.empty()) return true;
    if (!bounded_) return !queue_.empty();
    return bounded_->size.load(std::memory_order_acquire) != 0;
  }

  // Any thread (see MpscQueue::maybe_nonempty).
  [[nodiscard]] bool maybe_nonempty() const noexcept {
    if (control_.maybe_nonempty()) return true;
    if (!bounded_) return queue_.maybe_nonempty();
    return bounded_->size.load(std::memory_order_acquire) != 0;
  }

  // Wakes blocked senders for good (the owner is terminating).
  void close() {
    if (!bounded_) return;
    std::lock_guard lock(bounded_->mutex);
    bounded_->closed = true;
    bounded_->not_full.notify_all();
  }

  [[nodiscard]] MailboxStats stats() const noexcept { return metrics_.snapshot(); }

 private:
  // A message's bytes as counted here: only weighed when there is a byte bound.
  [[nodiscard]] std::size_t weight_of(const Msg& msg) const {
    return config_.max_bytes != 0 ? weigh(msg) : 0;
  }

  // Under bounded_->mutex: would a message of `weight` bytes overflow the count or the bytes?
  [[nodiscard]] bool full_for(std::size_t weight) const {
    const auto& b = *bounded_;
    if (config_.capacity != 0 && b.items.size() >= config_.capacity) return true;
    return config_.max_bytes != 0 && !b.items.empty() && b.bytes + weight > config_.max_bytes;
  }

  struct Bounded {
    mutable std::mutex mutex;
    std::condition_variable not_full;
    detail::NodeFifo<Msg> items;  // nothing allocated while empty
    std::atomic<std::size_t> size{0};
    std::size_t bytes = 0;  // their weights, when max_bytes is set
    bool closed = false;
  };

  // Laid out so that what producers write per message (the enqueue counter, the data queue's
  // tail) and what the consumer writes per message (its counter, the data queue's head) sit on
  // different cache lines, apart from what both only read (config, bound, the control lane,
  // which is rarely used): read-only part, control lane, metrics (producer part, then consumer
  // part), data queue (consumer end, then producer end). The owner puts the mailbox last in the
  // cell, so the data queue's producer end shares a line with nothing the consumer reads.
  MailboxConfig config_;
  std::unique_ptr<Bounded> bounded_;  // only bounded mailboxes pay for a lock
  detail::MpscQueue<Msg> control_;
  MailboxMetrics metrics_;
  detail::MpscQueue<Msg> queue_;
};

}  // namespace capsule::rt

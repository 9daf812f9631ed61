#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace capsule::rt::detail {

// Unbounded multi-producer single-consumer FIFO (Vyukov's intrusive node queue). Producers pay
// one atomic exchange and never wait for each other; the consumer never takes a lock. A stub node
// lives inside the queue, so an empty queue allocates nothing: idle actors stay small.
template <typename T>
class MpscQueue {
 public:
  MpscQueue() noexcept : head_(&stub_), tail_(&stub_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    while (try_pop()) {
    }
    Node* node = free_.load(std::memory_order_acquire);
    while (node != nullptr) {
      std::unique_ptr<Node> owned(node);
      node = node->next.load(std::memory_order_relaxed);
    }
  }

  void push(T value) { push_node(acquire_node(std::move(value))); }

  // Consumer only. Returns nothing when empty, or when a producer is midway through a push (it
  // will make the actor runnable again once its link is visible).
  std::optional<T> try_pop() {
    Node* head = head_.load(std::memory_order_relaxed);
    Node* next = head->next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (next == nullptr) return std::nullopt;
      head_.store(next, std::memory_order_relaxed);
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      head_.store(next, std::memory_order_relaxed);
      return take(head);
    }
    if (head != tail_.load(std::memory_order_acquire)) return std::nullopt;
    // `head` is the last node: re-insert the stub behind it so it can be detached.
    stub_.next.store(nullptr, std::memory_order_relaxed);
    push_node(&stub_);
    next = head->next.load(std::memory_order_acquire);
    if (next == nullptr) return std::nullopt;  // a producer is linking a node behind `head`
    head_.store(next, std::memory_order_relaxed);
    return take(head);
  }

  // Consumer only. False negatives are possible during a concurrent push (see try_pop).
  [[nodiscard]] bool empty() const noexcept {
    const Node* head = head_.load(std::memory_order_relaxed);
    const Node* next = head->next.load(std::memory_order_acquire);
    return head == &stub_ && next == nullptr;
  }

  // Any thread. False only when no message is queued or being pushed; used right after the
  // consumer gave up its turn. Both ends matter: a failed try_pop can leave the stub at the tail
  // while an unconsumed node still sits at the head, waiting for a producer's link.
  [[nodiscard]] bool maybe_nonempty() const noexcept {
    return tail_.load(std::memory_order_seq_cst) != &stub_ ||
           head_.load(std::memory_order_relaxed) != &stub_;
  }

 private:
  struct Node {
    Node() = default;
    explicit Node(T v) : value(std::move(v)) {}
    std::atomic<Node*> next{nullptr};
    std::optional<T> value;
  };

  // seq_cst: together with the actor's scheduled flag this forms a Dekker pair (see
  // ActorCellBase::notify_enqueued); on x86 it is the same locked instruction as acq_rel.
  void push_node(Node* node) noexcept {
    Node* prev = tail_.exchange(node, std::memory_order_seq_cst);
    prev->next.store(node, std::memory_order_release);
  }

  std::optional<T> take(Node* node) {
    std::optional<T> value = std::move(node->value);
    node->value.reset();
    recycle(node);
    return value;
  }

  // Node recycling. A malloc on the producer and a free on the consumer thread are the most
  // expensive part of a send (glibc's cross-thread free path), so consumed nodes go to a small
  // per-queue stack instead. The consumer is its only pusher (lock-free); producers pop under a
  // tiny lock, which rules out ABA: while one pops, nobody else removes a node.
  Node* acquire_node(T&& value) {
    if (free_.load(std::memory_order_relaxed) != nullptr &&
        !free_lock_.exchange(true, std::memory_order_acquire)) {
      Node* node = free_.load(std::memory_order_acquire);
      while (node != nullptr &&
             !free_.compare_exchange_weak(node, node->next.load(std::memory_order_relaxed),
                                          std::memory_order_acquire, std::memory_order_acquire)) {
      }
      free_lock_.store(false, std::memory_order_release);
      if (node != nullptr) {
        free_count_.fetch_sub(1, std::memory_order_relaxed);
        node->next.store(nullptr, std::memory_order_relaxed);
        node->value.emplace(std::move(value));
        return node;
      }
    }
    return std::make_unique<Node>(std::move(value)).release();
  }

  void recycle(Node* node) {
    if (free_count_.load(std::memory_order_relaxed) >= kMaxCachedNodes) {
      std::unique_ptr<Node> owned(node);
      return;
    }
    free_count_.fetch_add(1, std::memory_order_relaxed);
    Node* top = free_.load(std::memory_order_relaxed);
    do {
      node->next.store(top, std::memory_order_relaxed);
    } while (!free_.compare_exchange_weak(top, node, std::memory_order_release,
                                          std::memory_order_relaxed));
  }

  // Enough to absorb bursts without malloc, bounded in bytes so a mailbox that once saw a burst
  // of large messages keeps at most ~16 KiB of spare nodes.
  static constexpr std::uint32_t kMaxCachedNodes =
      std::max<std::uint32_t>(16, static_cast<std::uint32_t>(16384 / sizeof(Node)));

  std::atomic<Node*> head_;  // written by the consumer only; atomic for maybe_nonempty()
  std::atomic<Node*> free_{nullptr};
  std::atomic<std::uint32_t> free_count_{0};
  std::atomic<bool> free_lock_{false};
  Node stub_;
  alignas(64) std::atomic<Node*> tail_;  // producer side, on its own cache line
};

}  // namespace capsule::rt::detail

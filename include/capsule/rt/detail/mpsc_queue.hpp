#pragma once

#include <atomic>
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
  }

  void push(T value) {
    auto node = std::make_unique<Node>(std::move(value));
    push_node(node.release());
  }

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
    return tail_.load(std::memory_order_acquire) != &stub_ ||
           head_.load(std::memory_order_relaxed) != &stub_;
  }

 private:
  struct Node {
    Node() = default;
    explicit Node(T v) : value(std::move(v)) {}
    std::atomic<Node*> next{nullptr};
    std::optional<T> value;
  };

  void push_node(Node* node) noexcept {
    Node* prev = tail_.exchange(node, std::memory_order_acq_rel);
    prev->next.store(node, std::memory_order_release);
  }

  static std::optional<T> take(Node* node) {
    std::unique_ptr<Node> owned(node);
    return std::move(owned->value);
  }

  std::atomic<Node*> head_;  // written by the consumer only; atomic for maybe_nonempty()
  Node stub_;
  alignas(64) std::atomic<Node*> tail_;  // producer side, on its own cache line
};

}  // namespace capsule::rt::detail

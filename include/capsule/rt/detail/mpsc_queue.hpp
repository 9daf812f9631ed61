#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <capsule/rt/detail/cache_line_pad.hpp>

namespace capsule::rt::detail {

// Unbounded multi-producer single-consumer FIFO (Vyukov's intrusive node queue). Producers pay
// one atomic exchange and never wait for each other; the consumer never takes a lock. A stub link
// lives inside the queue, so an empty queue allocates nothing: idle actors stay small. The stub is
// a bare link, not a node: a node holds room for a T (~280 bytes for a component's envelope), and
// every mailbox has two queues.
template <typename T>
class MpscQueue {
 public:
  MpscQueue() noexcept : head_(&stub_), producer_(&stub_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    while (try_pop()) {
    }
    delete_list(consumer_.recycled);
    delete_list(producer_.spare.load(std::memory_order_acquire));
    delete_list(producer_.returned.load(std::memory_order_acquire));
  }

  // `reuse_node`: take a node the consumer handed back, and hand this one back after it is
  // consumed (see acquire_node). False for a sender that is itself a consumer of other queues on
  // the same threads (a scheduler worker): malloc's per-thread cache then serves both ends from
  // memory the thread touched last, where a handed-back node is a cache miss on the other core.
  void push(T value, bool reuse_node = true) {
    push_node(acquire_node(std::move(value), reuse_node));
  }

  // Consumer only. Returns nothing when empty, or when a producer is midway through a push (it
  // will make the actor runnable again once its link is visible).
  std::optional<T> try_pop() {
    Link* head = head_.load(std::memory_order_relaxed);
    Link* next = head->next.load(std::memory_order_acquire);
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
    if (head != producer_.tail.load(std::memory_order_acquire)) return std::nullopt;
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
    const Link* head = head_.load(std::memory_order_relaxed);
    const Link* next = head->next.load(std::memory_order_acquire);
    return head == &stub_ && next == nullptr;
  }

  // Any thread. False only when no message is queued or being pushed; used right after the
  // consumer gave up its turn. Both ends matter: a failed try_pop can leave the stub at the tail
  // while an unconsumed node still sits at the head, waiting for a producer's link.
  [[nodiscard]] bool maybe_nonempty() const noexcept {
    return producer_.tail.load(std::memory_order_seq_cst) != &stub_ ||
           head_.load(std::memory_order_relaxed) != &stub_;
  }

 private:
  struct Link {
    std::atomic<Link*> next{nullptr};
  };
  // Every link but the stub is a node.
  struct Node : Link {
    Node(T v, bool reuse) : reusable(reuse), value(std::move(v)) {}
    bool reusable = true;  // handed back to the producers once consumed; else freed
    std::optional<T> value;
  };
  static Node* node_of(Link* link) noexcept { return static_cast<Node*>(link); }

  // seq_cst: together with the actor's scheduled flag this forms a Dekker pair (see
  // ActorCellBase::notify_enqueued); on x86 it is the same locked instruction as acq_rel.
  void push_node(Link* node) noexcept {
    Link* prev = producer_.tail.exchange(node, std::memory_order_seq_cst);
    prev->next.store(node, std::memory_order_release);
  }

  // `link` is not the stub.
  std::optional<T> take(Link* link) {
    Node* node = node_of(link);
    std::optional<T> value = std::move(node->value);
    node->value.reset();
    if (node->reusable) {
      recycle(node);
    } else {
      std::unique_ptr<Node> owned(node);
    }
    return value;
  }

  // Node recycling. For a sender that is not a worker (a host thread feeding an actor), a malloc
  // on the producer and a free on the consumer thread are the most expensive part of a send
  // (glibc's cross-thread free path), so consumed nodes are reused. Between workers, which send
  // and receive alike, malloc's per-thread caches are cheaper than reused nodes (measured:
  // Savina Big and Chameneos ~12% faster; the external 1 -> 1 row half as fast with malloc), so
  // their nodes are plain allocations (`reuse_node` false) and freed when consumed. Reused nodes
  // travel in batches, so that producer and consumer do not write one shared cache line per
  // message: the consumer keeps what it consumed in a private list and, once it holds kBatch
  // nodes, publishes the list in `producer_.returned` if that slot is empty (only the consumer
  // stores a non-null value there, producers only take it: no ABA). A producer takes a node from
  // `producer_.spare` under a tiny lock (producers only), refilling it from `returned` with one
  // exchange.
  Node* acquire_node(T&& value, bool reuse_node) {
    if (reuse_node &&
        (producer_.spare.load(std::memory_order_relaxed) != nullptr ||
         producer_.returned.load(std::memory_order_relaxed) != nullptr) &&
        !producer_.spare_lock.exchange(true, std::memory_order_acquire)) {
      Node* node = producer_.spare.load(std::memory_order_relaxed);
      if (node == nullptr) node = producer_.returned.exchange(nullptr, std::memory_order_acquire);
      if (node != nullptr) {
        producer_.spare.store(node_of(node->next.load(std::memory_order_relaxed)),
                              std::memory_order_relaxed);
      }
      producer_.spare_lock.store(false, std::memory_order_release);
      if (node != nullptr) {
        node->next.store(nullptr, std::memory_order_relaxed);
        node->value.emplace(std::move(value));
        return node;
      }
    }
    return std::make_unique<Node>(std::move(value), reuse_node).release();
  }

  // Consumer only.
  void recycle(Node* node) {
    if (consumer_.recycled_count >= kMaxCachedNodes && !offer_recycled()) {
      std::unique_ptr<Node> owned(node);  // nobody took the last batch: enough nodes cached
      return;
    }
    node->next.store(consumer_.recycled, std::memory_order_relaxed);
    consumer_.recycled = node;
    // Offered once per batch: a slot the producers have not emptied yet is not looked at again
    // (its cache line is theirs) until the next batch is complete.
    if (++consumer_.recycled_count % kBatch == 0) static_cast<void>(offer_recycled());
  }

  // Consumer only: hands the private list to the producers if they took the previous one.
  bool offer_recycled() noexcept {
    if (producer_.returned.load(std::memory_order_relaxed) != nullptr) return false;
    producer_.returned.store(consumer_.recycled, std::memory_order_release);
    consumer_.recycled = nullptr;
    consumer_.recycled_count = 0;
    return true;
  }

  static void delete_list(Node* node) noexcept {
    while (node != nullptr) {
      std::unique_ptr<Node> owned(node);
      node = node_of(node->next.load(std::memory_order_relaxed));
    }
  }

  static constexpr std::uint32_t kBatch = 32;
  // Per list (consumer's, published, producers' spare): enough to absorb bursts without malloc,
  // bounded in bytes so a mailbox that once saw a burst of large messages keeps at most ~3 x 8 KiB
  // of spare nodes.
  static constexpr std::uint32_t kMaxCachedNodes =
      std::max<std::uint32_t>(2 * kBatch, static_cast<std::uint32_t>(8192 / sizeof(Node)));

  // The consumer's end: written by the consumer only (the stub's link also by a producer that
  // links behind it). `head_` is atomic for maybe_nonempty().
  struct ConsumerEnd {
    Node* recycled = nullptr;
    std::uint32_t recycled_count = 0;
  };
  // The producers' end: never written by the consumer, except the stub re-insertion (tail) and a
  // published batch (returned), both rare.
  struct ProducerEnd {
    explicit ProducerEnd(Link* stub) noexcept : tail(stub) {}
    std::atomic<Link*> tail;
    std::atomic<bool> spare_lock{false};
    std::atomic<Node*> spare{nullptr};  // written under spare_lock; read outside it as a hint
    std::atomic<Node*> returned{nullptr};
  };

  std::atomic<Link*> head_;
  Link stub_;
  ConsumerEnd consumer_;
  // Keeps the two ends on different cache lines without over-aligning the queue (an over-aligned
  // actor cell costs an aligned allocation, several times a plain malloc, on every spawn): 64
  // bytes between the last consumer field and the first producer field.
  [[maybe_unused]] CacheLinePad pad_{};
  ProducerEnd producer_;
};

}  // namespace capsule::rt::detail

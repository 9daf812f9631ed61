#pragma once

#include <cstddef>
#include <memory>
#include <utility>

namespace capsule::rt::detail {

// A single-threaded FIFO of heap nodes, one per element: the storage of a bounded mailbox (its
// owner locks). Empty, it holds no memory, so an idle actor with a bounded mailbox costs three
// words here; std::deque allocates a map and a 512-byte block even when empty, and holds one
// element per block anyway for messages larger than 256 bytes (a component's envelope is ~280),
// so for those a node per element is the same one allocation per message.
template <typename T>
class NodeFifo {
 public:
  NodeFifo() = default;
  NodeFifo(const NodeFifo&) = delete;
  NodeFifo& operator=(const NodeFifo&) = delete;
  ~NodeFifo() {
    while (!empty()) pop_front();
  }

  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  void push_back(T value) {
    auto node = std::make_unique<Node>(std::move(value));
    Node* raw = node.get();
    if (tail_ != nullptr) {
      tail_->next = std::move(node);
    } else {
      head_ = std::move(node);
    }
    tail_ = raw;
    ++size_;
  }

  // Not empty.
  [[nodiscard]] T& front() noexcept { return head_->value; }
  void pop_front() noexcept {
    head_ = std::move(head_->next);  // the old head is destroyed here
    if (head_ == nullptr) tail_ = nullptr;
    --size_;
  }

 private:
  struct Node {
    explicit Node(T v) : value(std::move(v)) {}
    T value;
    std::unique_ptr<Node> next;
  };

  std::unique_ptr<Node> head_;
  Node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace capsule::rt::detail

#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace capsule::rt::testing {

// Polls until `pred` holds. The generous timeout only bounds a failing test; a passing test
// returns as soon as the behaviour happened, so no assertion depends on machine speed.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds{10000}) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds{200});
  }
  return true;
}

// Lets a test hold an actor inside its handler (to fill its mailbox) and release it later.
class Gate {
 public:
  void wait() {
    entered_.store(true);
    while (!open_.load()) std::this_thread::sleep_for(std::chrono::microseconds{100});
  }
  void open() { open_.store(true); }
  [[nodiscard]] bool entered() const { return entered_.load(); }

 private:
  std::atomic<bool> open_{false};
  std::atomic<bool> entered_{false};
};

}  // namespace capsule::rt::testing

namespace capsule::rt::testing {

// Thread-safe list of what an actor saw, for assertions from the test thread.
template <typename T>
class Collected {
 public:
  void push_back(T v) {
    std::lock_guard lock(mutex_);
    items_.push_back(std::move(v));
  }
  [[nodiscard]] std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  [[nodiscard]] std::vector<T> items() const {
    std::lock_guard lock(mutex_);
    return items_;
  }
  [[nodiscard]] T operator[](std::size_t i) const {
    std::lock_guard lock(mutex_);
    return items_[i];
  }

 private:
  mutable std::mutex mutex_;
  std::vector<T> items_;
};

}  // namespace capsule::rt::testing

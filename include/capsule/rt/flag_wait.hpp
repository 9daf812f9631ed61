#pragma once

#include <atomic>
#include <chrono>
#include <thread>

namespace capsule::rt {

// Waits, on a host thread (never a scheduler worker: it would hold the worker it waits for),
// until `flag` is true. First it yields the CPU in a loop for up to 50 us, then it sleeps on the
// flag (a futex; the setter must notify). Yielding, not a busy spin with `pause`: on a shared or
// oversubscribed machine the thread that sets the flag is often runnable on this very core, and a
// busy spin keeps it off until the spin ends. Measured on the 2-core VM at load ~8 (host ->
// component call() p50): busy spin 50 us -> 60 us, busy 2 us then yields -> 5.3 us, yields only
// -> 3.4 us. Sleeping at once costs a wake-up of this thread per reply instead (~4 us there).
inline void wait_for_flag(const std::atomic<bool>& flag) {
  const auto yield_until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  while (!flag.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < yield_until) {
    std::this_thread::yield();
  }
  while (!flag.load(std::memory_order_acquire)) flag.wait(false, std::memory_order_acquire);
}

}  // namespace capsule::rt

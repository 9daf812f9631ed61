#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include <wasmtime.hh>

namespace capsule::wasm {

// Advances the engine's epoch at a fixed period so that per-call wall-time deadlines fire while a
// guest is spinning: Wasmtime checks the epoch at loop back-edges and function entries.
class EpochTicker {
 public:
  EpochTicker(const wasmtime::Engine& engine, std::chrono::milliseconds period);
  ~EpochTicker();
  EpochTicker(const EpochTicker&) = delete;
  EpochTicker& operator=(const EpochTicker&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: starts after the members it uses exist
};

}  // namespace capsule::wasm

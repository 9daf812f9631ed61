#include "epoch_ticker.hpp"

namespace capsule::wasm {

EpochTicker::EpochTicker(const wasmtime::Engine& engine, std::chrono::milliseconds period)
    : thread_([this, &engine, period](const std::stop_token& stop) {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, stop, period, [] { return false; })) {
          if (stop.stop_requested()) return;
          engine.increment_epoch();
        }
      }) {}

EpochTicker::~EpochTicker() {
  thread_.request_stop();
  wake_.notify_all();
}

}  // namespace capsule::wasm

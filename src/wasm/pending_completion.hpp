#pragma once

// The host's side of one answer given later (a `capsule_pending_t`, third_party/wasmtime-capi
// host.rs): completed exactly once, whatever the host code that holds it does. Only
// host_bridge.cpp includes this.

#include <atomic>
#include <memory>
#include <string_view>
#include <utility>

#include <capsule/core/error.hpp>

#include "shim.hpp"
#include "wit_error.hpp"

namespace capsule::wasm::detail {

// Owns the host's reference to a pending answer. complete() publishes the answer and wakes the
// guest's call. If it is destroyed first - its holder dropped the outcome callback without calling
// it, against HostApi's contract - it answers `cancelled` and completes then: the shim's pending
// object is released (not leaked), and the guest's call ends at once instead of waiting out its
// wall time. Shared by the copies of one callback (std::function copies what it holds); the last
// one to go completes an uncompleted answer. The component runtime and the cluster bridge give
// every request an outcome, at shutdown too (component.ProxyCallAtShutdown): this is the net
// under host code that does not, and what makes a throw after the hand-over complete only once.
class PendingCompletion {
 public:
  explicit PendingCompletion(capsule_pending_t* pending) noexcept : pending_(pending) {}
  ~PendingCompletion() {
    capsule_pending_t* p = pending_.exchange(nullptr);
    if (p == nullptr) return;
    constexpr std::string_view kWhy = "the host dropped this request unanswered";
    capsule_answer_error(capsule_pending_answer(p), wit::error_tag_of(ErrorCode::kCancelled),
                         shim::bytes_of(kWhy));
    capsule_pending_complete(p);
  }
  PendingCompletion(const PendingCompletion&) = delete;
  PendingCompletion& operator=(const PendingCompletion&) = delete;
  PendingCompletion(PendingCompletion&&) = delete;
  PendingCompletion& operator=(PendingCompletion&&) = delete;

  // Where the answer is written before it is handed to host code that completes it later.
  [[nodiscard]] capsule_answer_t* answer() const noexcept {
    return capsule_pending_answer(pending_.load());
  }
  // If nobody completed it yet: `write` fills the answer (it must not throw), then the answer
  // is published. Later calls do nothing.
  template <typename Write>
  void complete(Write&& write) noexcept {
    capsule_pending_t* p = pending_.exchange(nullptr);
    if (p == nullptr) return;
    std::forward<Write>(write)(capsule_pending_answer(p));
    capsule_pending_complete(p);
  }

 private:
  std::atomic<capsule_pending_t*> pending_;
};

}  // namespace capsule::wasm::detail

#pragma once

#include <memory>

#include <capsule/rt/fwd.hpp>

namespace capsule::rt {

// Wakes an actor that ended a handler with ActorContext::await_resume(). Cheap to copy; resume()
// is thread-safe, never blocks, and coalesces: several calls before the actor runs give one
// Actor::on_resume. Resuming an actor that is gone or not waiting does nothing.
class ResumeHandle {
 public:
  ResumeHandle() = default;
  explicit ResumeHandle(std::weak_ptr<detail::ActorCellBase> cell) : cell_(std::move(cell)) {}

  void resume() const noexcept;

 private:
  std::weak_ptr<detail::ActorCellBase> cell_;
};

}  // namespace capsule::rt

#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <capsule/rt/fwd.hpp>

namespace capsule::rt {

// Untyped handle to an actor: what registries, supervisors and watchers deal in. Cheap to copy
// (one shared pointer); stays valid after the actor terminates (sends then become dead letters).
// Recover the typed ActorRef with ActorRef<Msg>::from(address).
class ActorAddress {
 public:
  ActorAddress() = default;
  explicit ActorAddress(std::shared_ptr<detail::ActorCellBase> cell) : cell_(std::move(cell)) {}

  [[nodiscard]] bool valid() const noexcept { return cell_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  [[nodiscard]] ActorId id() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;
  // False once the actor terminated for good (a suspended, restarting actor is still alive).
  [[nodiscard]] bool alive() const noexcept;
  // The supervisor, or an empty address.
  [[nodiscard]] const ActorAddress& parent() const noexcept;

  [[nodiscard]] detail::ActorCellBase* cell() const noexcept { return cell_.get(); }
  [[nodiscard]] const std::shared_ptr<detail::ActorCellBase>& shared_cell() const noexcept {
    return cell_;
  }

  friend bool operator==(const ActorAddress& a, const ActorAddress& b) noexcept {
    return a.cell_ == b.cell_;
  }

 private:
  std::shared_ptr<detail::ActorCellBase> cell_;
};

}  // namespace capsule::rt

template <>
struct std::hash<capsule::rt::ActorAddress> {
  std::size_t operator()(const capsule::rt::ActorAddress& a) const noexcept {
    return std::hash<const void*>{}(a.cell());
  }
};

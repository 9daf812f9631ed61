#pragma once

#include <memory>
#include <string>
#include <utility>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/detail/actor_cell.hpp>
#include <capsule/rt/detail/type_name.hpp>

namespace capsule::rt {

// Typed handle to an actor that accepts `Msg`. Cheap to copy, safe to use from any thread
// (actors, host threads, timers). A send never blocks a scheduler thread.
template <typename Msg>
class ActorRef {
 public:
  ActorRef() = default;
  explicit ActorRef(std::shared_ptr<detail::ActorCell<Msg>> cell) : cell_(std::move(cell)) {}

  // Checked downcast from an untyped address (e.g. a registry lookup).
  [[nodiscard]] static Result<ActorRef> from(const ActorAddress& address) {
    if (!address) return make_error(ErrorCode::kInvalidArgument, "empty actor address");
    if (address.cell()->type_tag() != detail::type_tag<Msg>()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "actor " + std::to_string(address.id()) + " accepts " +
                            std::string(address.cell()->message_type()) + ", not " +
                            std::string(detail::type_name<Msg>()));
    }
    return ActorRef(std::static_pointer_cast<detail::ActorCell<Msg>>(address.shared_cell()));
  }

  // kUnavailable if the actor is gone (the message becomes a dead letter), kMailboxFull
  // (kWouldBlock on a scheduler worker for a `block` mailbox) if a bounded mailbox refused it. Drop
  // policies report success: the drop is counted and observed.
  Status send(Msg msg) const {
    if (!cell_) return make_error(ErrorCode::kInvalidArgument, "send through an empty ActorRef");
    return cell_->enqueue(std::move(msg));
  }
  // As send(), but never waits, on any thread: a full `block` mailbox answers kWouldBlock. For
  // threads that serve many actors (a network delivery thread) and must not stall on one.
  Status send_nowait(Msg msg) const {
    if (!cell_) return make_error(ErrorCode::kInvalidArgument, "send through an empty ActorRef");
    return cell_->enqueue(std::move(msg), false);
  }
  // As send(), for a host thread that waits for the actor's answer anyway: when the actor is
  // idle, this thread runs its turn (one message) itself, so the answer is there when this
  // returns and no worker hand-off happens either way. The actor's rules hold: one turn at a
  // time, mailbox order, and the turn never waits for room (as on a worker). On a scheduler
  // worker, or with the actor busy, it is send().
  Status send_run_here(Msg msg) const {
    if (!cell_) return make_error(ErrorCode::kInvalidArgument, "send through an empty ActorRef");
    return cell_->enqueue(std::move(msg), true, true);
  }
  // send_run_here() for a host thread that must never wait either (a network reader): a full
  // `block` mailbox answers kWouldBlock at once, as send_nowait() does.
  Status send_nowait_run_here(Msg msg) const {
    if (!cell_) return make_error(ErrorCode::kInvalidArgument, "send through an empty ActorRef");
    return cell_->enqueue(std::move(msg), false, true);
  }
  // On the mailbox's control lane (Mailbox::enqueue_control): never refused for want of room,
  // taken before data. For messages the actor must not lose to a data flood: answers to its own
  // requests, exits of actors it is linked to. kUnavailable only if the actor is gone.
  Status send_control(Msg msg) const {
    if (!cell_) return make_error(ErrorCode::kInvalidArgument, "send through an empty ActorRef");
    return cell_->enqueue_control(std::move(msg));
  }
  // Fire-and-forget: the outcome is still visible through metrics, events and dead letters.
  void tell(Msg msg) const {
    if (cell_) cell_->tell(std::move(msg));
  }

  [[nodiscard]] bool valid() const noexcept { return cell_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }
  [[nodiscard]] ActorId id() const noexcept { return cell_ ? cell_->id() : 0; }
  [[nodiscard]] bool alive() const noexcept { return cell_ && !cell_->terminated(); }
  [[nodiscard]] MailboxStats mailbox_stats() const noexcept {
    return cell_ ? cell_->mailbox_stats() : MailboxStats{};
  }
  [[nodiscard]] ActorAddress address() const { return ActorAddress(cell_); }
  operator ActorAddress() const { return address(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const ActorRef& a, const ActorRef& b) noexcept {
    return a.cell_ == b.cell_;
  }

 private:
  std::shared_ptr<detail::ActorCell<Msg>> cell_;
};

}  // namespace capsule::rt

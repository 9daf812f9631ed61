#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_context.hpp>
#include <capsule/rt/detail/actor_cell_base.hpp>
#include <capsule/rt/detail/type_name.hpp>
#include <capsule/rt/mailbox.hpp>

namespace capsule::rt::detail {

template <typename Msg>
using ActorFactory = std::function<std::unique_ptr<Actor<Msg>>()>;

// The typed half of an actor: its mailbox, its factory and the current behaviour object.
template <typename Msg>
class ActorCell final : public ActorCellBase {
 public:
  ActorCell(ActorSystem& system, ActorId id, std::string name, ActorAddress parent,
            const MailboxConfig& mailbox, ActorFactory<Msg> factory)
      : ActorCellBase(system, id, std::move(name), std::move(parent)),
        factory_(std::move(factory)),
        context_(*this),
        mailbox_(mailbox) {}

  ~ActorCell() override {
    // Messages that raced with termination: still reported, never silently lost.
    drain_mailbox();
  }

  // ActorRef::tell: the common case (a live actor, an unbounded mailbox) builds no Status and
  // skips the policy switch; anything else goes through enqueue(). Not inlined into the caller:
  // GCC 12 under -fsanitize=thread then sees a message built in place and moved into a node and
  // reports the move as maybe-uninitialized (the same false positive as SystemMessage's).
  [[gnu::noinline]] void tell(Msg&& msg) {
    if (accepting() && !mailbox_.is_bounded()) [[likely]] {
      mailbox_.enqueue_unbounded(std::move(msg), on_scheduler_thread());
      notify_enqueued_lock_free();
      return;
    }
    static_cast<void>(enqueue(std::move(msg)));
  }

  // `may_wait`: false makes a full `block` mailbox answer kWouldBlock at once, on any thread.
  // `run_here`: see ActorCellBase::notify_enqueued_run_here.
  Status enqueue(Msg&& msg, bool may_wait = true, bool run_here = false) {
    if (!accepting()) {
      report_rejected(terminated() ? DeadLetterReason::kActorTerminated
                                   : DeadLetterReason::kActorStopping);
      return make_error(ErrorCode::kUnavailable, "actor " + std::to_string(id()) + " is gone");
    }
    // Only a bounded mailbox can wait: the thread check is not paid by the others.
    const bool may_block = may_wait && mailbox_.is_bounded() && !on_scheduler_thread();
    switch (mailbox_.enqueue(std::move(msg), may_block)) {
      case EnqueueOutcome::kAccepted:
        break;
      case EnqueueOutcome::kAcceptedDroppedOldest:
        report_drop(false);
        break;
      case EnqueueOutcome::kDroppedNewest:
        report_drop(true);
        return ok();
      case EnqueueOutcome::kFull:
        report_backpressure();
        return make_error(ErrorCode::kMailboxFull, full_text());
      case EnqueueOutcome::kWouldBlock:
        // A scheduler worker must not wait: the caller decides (a guest call suspends and
        // retries; see third_party/wasmtime-capi/src/host.rs).
        report_backpressure();
        return make_error(ErrorCode::kWouldBlock, full_text());
    }
    if (run_here) {
      notify_enqueued_run_here();
    } else if (mailbox_.is_bounded()) {
      notify_enqueued();
    } else {
      notify_enqueued_lock_free();
    }
    return ok();
  }

  // See Mailbox::enqueue_control: refused only when the actor is gone (a dead letter).
  Status enqueue_control(Msg&& msg) {
    if (!accepting()) {
      report_rejected(terminated() ? DeadLetterReason::kActorTerminated
                                   : DeadLetterReason::kActorStopping);
      return make_error(ErrorCode::kUnavailable, "actor " + std::to_string(id()) + " is gone");
    }
    mailbox_.enqueue_control(std::move(msg));
    notify_enqueued_lock_free();  // the control lane is a lock-free queue (seq_cst push)
    return ok();
  }

  [[nodiscard]] const void* type_tag() const noexcept override { return detail::type_tag<Msg>(); }
  [[nodiscard]] std::string_view message_type() const noexcept override { return type_name<Msg>(); }
  [[nodiscard]] MailboxStats mailbox_stats() const noexcept override { return mailbox_.stats(); }
  [[nodiscard]] ActorContext<Msg>& context() noexcept { return context_; }

  // Spawn path: builds the first behaviour and runs pre_start on the spawning thread.
  Status start() { return start_behavior(); }

 protected:
  bool mailbox_empty() const override { return mailbox_.empty(); }
  bool mailbox_maybe_nonempty() const noexcept override { return mailbox_.maybe_nonempty(); }
  bool mailbox_ready() const noexcept override { return mailbox_.ready(); }

  std::uint32_t process(std::uint32_t budget) override {
    std::uint32_t done = 0;
    mailbox_.sample_depth();
    while (done < budget && processing() && !interrupted() && !awaiting()) {
      auto msg = mailbox_.try_dequeue();
      if (!msg) break;
      ++done;
      Status status = invoke(*msg);
      // A handler that succeeded and asked for nothing needs no bookkeeping after it.
      if (status && !self_stop_pending()) [[likely]] {
        continue;
      }
      if (!after_handler(std::move(status))) break;
    }
    return done;
  }

  Status start_behavior() override {
    try {
      behavior_ = factory_();
      if (!behavior_) return make_error(ErrorCode::kInternal, "actor factory returned null");
      Status status = behavior_->pre_start(context_);
      if (!status) behavior_.reset();
      return status;
    } catch (const std::exception& e) {
      behavior_.reset();
      return make_error(ErrorCode::kInternal, std::string("pre_start threw: ") + e.what());
    }
  }

  void stop_behavior() override {
    end_wait();
    if (!behavior_) return;
    try {
      behavior_->post_stop(context_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): best effort, explained below
      // post_stop is best effort; the object is destroyed either way.
    }
    behavior_.reset();
  }

  void release_factory() override { factory_ = nullptr; }

  std::uint64_t drain_mailbox() override {
    std::uint64_t drained = 0;
    while (mailbox_.try_dequeue()) {
      ++drained;
      report_rejected(DeadLetterReason::kActorTerminated);
    }
    return drained;
  }

  void close_mailbox() override { mailbox_.close(); }

  void probe_health(HealthReply reply) override {
    if (!behavior_) return reply.send(HealthStatus::kUnhealthy);
    Status status = ok();
    try {
      status = behavior_->check_health(reply, context_);
    } catch (const std::exception& e) {
      reply.send(HealthStatus::kUnhealthy);  // ignored if the behaviour already answered
      status = make_error(ErrorCode::kInternal, std::string("check_health threw: ") + e.what());
    }
    if (!status) static_cast<void>(after_handler(std::move(status)));
  }

  void deliver_signal(const Signal& signal) override {
    if (!behavior_) return;
    Status status = ok();
    try {
      status = behavior_->on_signal(signal, context_);
    } catch (const std::exception& e) {
      status = make_error(ErrorCode::kInternal, std::string("on_signal threw: ") + e.what());
    }
    static_cast<void>(after_handler(std::move(status)));
  }

  void deliver_resume() override {
    if (!behavior_) return;
    Status status = ok();
    try {
      status = behavior_->on_resume(context_);
    } catch (const std::exception& e) {
      status = make_error(ErrorCode::kInternal, std::string("on_resume threw: ") + e.what());
    }
    static_cast<void>(after_handler(std::move(status)));
  }

  void notify_stopping() override {
    if (!behavior_) return;
    Status status = ok();
    try {
      behavior_->on_stopping(context_);
    } catch (const std::exception& e) {
      status = make_error(ErrorCode::kInternal, std::string("on_stopping threw: ") + e.what());
    }
    if (!status) static_cast<void>(after_handler(std::move(status)));
  }

  ErrorAction decide(const Error& error) override {
    if (!behavior_) return ErrorAction::kRestart;
    try {
      return behavior_->on_error(error, context_);
    } catch (...) {
      return ErrorAction::kEscalate;
    }
  }

 private:
  // Names the bound that refused: the count, the bytes, or both.
  [[nodiscard]] std::string full_text() const {
    const auto& c = mailbox_.config();
    std::string text = "mailbox of actor " + std::to_string(id()) + " is full (";
    if (c.capacity != 0) text += std::to_string(c.capacity) + " messages";
    if (c.capacity != 0 && c.max_bytes != 0) text += " or ";
    if (c.max_bytes != 0) text += std::to_string(c.max_bytes) + " bytes";
    return text + ")";
  }

  // Exceptions never cross the runtime's API: a throwing handler is a failed handler.
  Status invoke(Msg& msg) {
    try {
      return behavior_->handle(msg, context_);
    } catch (const std::exception& e) {
      return make_error(ErrorCode::kInternal, std::string("handler threw: ") + e.what());
    } catch (...) {
      return make_error(ErrorCode::kInternal, "handler threw a non-exception");
    }
  }

  ActorFactory<Msg> factory_;
  std::unique_ptr<Actor<Msg>> behavior_;
  ActorContext<Msg> context_;
  // Last: its producer end shares a cache line with nothing the consumer reads (Mailbox layout).
  Mailbox<Msg> mailbox_;
  // Nor with whatever the allocator places after the cell (another actor's reference counts and
  // scheduling flags, when actors are spawned in a row).
  [[maybe_unused]] CacheLinePad tail_pad_{};
};

}  // namespace capsule::rt::detail

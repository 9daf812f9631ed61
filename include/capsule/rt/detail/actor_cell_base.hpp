#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/resume_handle.hpp>
#include <capsule/rt/signal.hpp>

namespace capsule::rt::detail {

// Who asked an actor to stop decides what happens next: a supervised child that is stopped by
// anyone but its supervisor reports to the supervisor instead of vanishing (Erlang semantics).
enum class StopOrigin : std::uint8_t { kRequest, kSupervisor, kShutdown };

struct SystemMessage {
  enum class Kind : std::uint8_t {
    kStop,
    kKill,
    kRestart,
    kSuspend,
    kWatch,
    kUnwatch,
    kSignal,
    kHealthProbe,
    kResume,
    kLink,        // `peer` linked itself to this actor: add it to the link set
    kUnlink,      // `peer` removed its link: remove it
    kExit,        // an exit signal from the linked `signal.from` (see ActorCellBase::link)
    kLinkTo,      // (ActorSystem::link) link this actor to `peer`, as if it called ctx.link
    kUnlinkFrom,  // (ActorSystem::unlink) the same for unlink
  };
  SystemMessage() = default;
  explicit SystemMessage(Kind k) : kind(k) {}
  // A signal for the receiver's on_signal, built in place (assigning one into a default-built
  // message trips GCC 12's -Wmaybe-uninitialized under -fsanitize=thread).
  explicit SystemMessage(Signal s) : kind(Kind::kSignal), signal(std::move(s)) {}

  Kind kind = Kind::kStop;
  StopOrigin origin = StopOrigin::kRequest;
  bool graceful = true;
  ActorAddress peer;
  Signal signal;
};

// The type-erased half of an actor: scheduling state, system messages, lifecycle, watchers.
// Everything that is not a `Msg` lives here and is compiled once in src/rt.
class ActorCellBase : public std::enable_shared_from_this<ActorCellBase> {
 public:
  enum class TurnResult : std::uint8_t { kIdle, kReschedule, kTerminated };

  ActorCellBase(ActorSystem& system, ActorId id, std::string name, ActorAddress parent);
  ActorCellBase(const ActorCellBase&) = delete;
  ActorCellBase& operator=(const ActorCellBase&) = delete;
  virtual ~ActorCellBase() = default;

  [[nodiscard]] ActorId id() const noexcept { return id_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] bool terminated() const noexcept {
    return terminated_.load(std::memory_order_acquire);
  }
  [[nodiscard]] ActorSystem& system() const noexcept { return *system_; }
  [[nodiscard]] const ActorAddress& parent() const noexcept { return parent_; }
  [[nodiscard]] ActorAddress address() { return ActorAddress(shared_from_this()); }
  [[nodiscard]] virtual const void* type_tag() const noexcept = 0;
  [[nodiscard]] virtual std::string_view message_type() const noexcept = 0;
  [[nodiscard]] virtual MailboxStats mailbox_stats() const noexcept = 0;

  // Any thread. False when the actor already terminated (the message was not queued).
  bool post(SystemMessage msg);

  // Whoever claimed the cell (a scheduler worker, or a host thread in notify_enqueued_run_here):
  // runs system messages, then at most `budget` ordinary messages. With `linger_polls`, a mailbox
  // that runs dry before the budget, in a turn that found more than one message, is polled up to
  // that many times (while the worker has nothing else to run) before the turn is given up: see
  // linger().
  TurnResult run_turn(std::uint32_t budget, std::uint32_t linger_polls = 0);
  // A host thread's send that will wait for the answer anyway (ActorRef::send_run_here): if the
  // actor was idle, this thread owns it and runs one turn itself instead of handing it to a
  // worker and waiting for that worker's hand-back. Falls back to scheduling on a worker.
  void notify_enqueued_run_here();
  // Shutdown thread only, after every worker stopped.
  void force_terminate();
  // Drops the system's reference to a cell whose turn ended in termination; may destroy it.
  static void release(ActorCellBase* cell);

  // Spawn path. The cell is born "scheduled" so that messages sent during the first pre_start
  // cannot start a turn on another thread before pre_start returned.
  void finish_start();
  void abort_start();

  // Handler-side requests, honoured after the current handler returns.
  void request_self_stop() noexcept { self_stop_requested_ = true; }
  void await_resume() noexcept { awaiting_ = true; }
  [[nodiscard]] ResumeHandle resume_handle() { return ResumeHandle(weak_from_this()); }
  // Any thread: queues one kResume unless one is already queued.
  void resume() {
    if (!resume_posted_.exchange(true, std::memory_order_acq_rel)) {
      if (!post(SystemMessage{SystemMessage::Kind::kResume})) {
        resume_posted_.store(false, std::memory_order_release);
      }
    }
  }
  void watch(const ActorAddress& target);
  void unwatch(const ActorAddress& target);
  // Erlang's link, owned by the current incarnation (actor_cell_links.cpp). Worker side only:
  // from the actor's own callbacks, or through kLinkTo/kUnlinkFrom.
  void link(const ActorAddress& target);
  void unlink(const ActorAddress& target);
  void set_trap_exit(bool on) noexcept { trap_exit_ = on; }

  // Intrusive run-queue link, owned by the scheduler while the actor is queued.
  ActorCellBase* next_runnable = nullptr;

 private:
  friend class LiveTable;
  // The system's reference and the links of its LiveTable shard, under that shard's lock.
  struct LiveEntry {
    std::shared_ptr<ActorCellBase> self;
    ActorCellBase* prev = nullptr;
    ActorCellBase* next = nullptr;
  };
  LiveEntry live_entry_;

 protected:
  // kSuspending: asked to suspend for a restart, the behaviour winds down (Actor::on_stopping)
  // and takes no mailbox message; kSuspended: no behaviour, the mailbox waits for the restart.
  enum class Phase : std::uint8_t {
    kStarting,
    kRunning,
    kSuspending,
    kSuspended,
    kStopping,
    kTerminated
  };

  // After an ordinary message was queued: make the actor runnable unless it already is.
  void notify_enqueued() {
    if (!scheduled_.exchange(true, std::memory_order_seq_cst)) schedule();
  }
  // For the lock-free mailbox, whose push is a seq_cst exchange: if the flag still reads `true`
  // the owner has not released the turn yet, and its own seq_cst release-then-check is certain to
  // see this message (store-buffer/Dekker pairing). Skipping the RMW keeps the flag's cache line
  // shared while a busy actor is being fed.
  void notify_enqueued_lock_free() {
    if (scheduled_.load(std::memory_order_seq_cst)) return;
    notify_enqueued();
  }
  [[nodiscard]] bool accepting() const noexcept {
    return !terminated_.load(std::memory_order_acquire) &&
           !closing_.load(std::memory_order_acquire);
  }
  [[nodiscard]] static bool on_scheduler_thread() noexcept;
  void report_rejected(DeadLetterReason reason);
  void report_drop(bool newest);
  void report_backpressure();
  [[nodiscard]] Telemetry& telemetry() const noexcept { return *telemetry_; }

  // The typed half (ActorCell<Msg>).
  virtual bool mailbox_empty() const = 0;
  virtual bool mailbox_maybe_nonempty() const noexcept = 0;
  // Consumer only, cheap enough to poll: a message (or the start of one) is there to take.
  virtual bool mailbox_ready() const noexcept = 0;
  virtual std::uint32_t process(std::uint32_t budget) = 0;
  virtual Status start_behavior() = 0;
  virtual void stop_behavior() = 0;
  // A terminated cell never starts a behaviour again: dropping its factory lets go of what the
  // factory captured (addresses of other actors, shared state), which could otherwise keep a
  // cycle of cells alive after every one of them ended.
  virtual void release_factory() = 0;
  virtual std::uint64_t drain_mailbox() = 0;
  virtual void close_mailbox() = 0;
  // Answers through `reply`, now or later (Actor::check_health).
  virtual void probe_health(HealthReply reply) = 0;
  virtual void deliver_signal(const Signal& signal) = 0;
  virtual ErrorAction decide(const Error& error) = 0;
  virtual void deliver_resume() = 0;
  virtual void notify_stopping() = 0;

  // Called after a handler (process() skips it for one that succeeded and asked for nothing);
  // false stops the current batch.
  bool after_handler(Status status);
  [[nodiscard]] bool self_stop_pending() const noexcept { return self_stop_requested_; }
  // System messages (stop, restart, signals) overtake ordinary ones: a batch ends when one comes.
  [[nodiscard]] bool interrupted() const noexcept {
    return system_pending_.load(std::memory_order_relaxed) != 0;
  }
  [[nodiscard]] bool processing() const noexcept {
    return phase_ == Phase::kRunning || phase_ == Phase::kStopping;
  }
  // The behaviour object is alive and gets signals and resumes (not necessarily messages).
  [[nodiscard]] bool behaving() const noexcept {
    return processing() || phase_ == Phase::kSuspending;
  }
  // A handler is waiting for resume(): no mailbox message is taken meanwhile.
  [[nodiscard]] bool awaiting() const noexcept { return awaiting_; }
  // The behaviour object ends (stop, restart): so does whatever it was waiting for.
  void end_wait() noexcept { awaiting_ = false; }

 private:
  void schedule();
  std::uint32_t linger(std::uint32_t budget_left, std::uint32_t polls);
  void handle_system_message(SystemMessage& msg);
  void exit_self(ExitReason reason, std::optional<Error> error, bool escalate);
  void restart_in_place();
  void begin_stop(StopOrigin origin, bool graceful);
  void begin_suspend(ActorAddress requester);
  void finish_suspend();
  void terminate(ExitReason reason, std::optional<Error> error);
  void notify_watchers(Signal::Kind kind, ExitReason reason, const std::optional<Error>& error);
  // Links (actor_cell_links.cpp). The incarnation ended: every linked peer gets an exit signal
  // with `reason`, the link set is emptied and exits are no longer trapped.
  void break_links(ExitReason reason, const std::optional<Error>& error);
  void on_exit_signal(const Signal& signal);
  bool add_link(const ActorAddress& peer);
  bool remove_link(const ActorAddress& peer);
  // An exit signal from `from` to `to`, on `to`'s system lane (never refused for a full mailbox).
  static void send_exit(const ActorAddress& to, const ActorAddress& from, ExitReason reason,
                        const std::optional<Error>& error);

  std::atomic<bool> scheduled_{true};
  std::atomic<bool> terminated_{false};
  std::atomic<bool> closing_{false};
  std::atomic<std::uint32_t> system_pending_{0};
  Phase phase_ = Phase::kStarting;  // worker-owned
  ExitReason stop_reason_ = ExitReason::kNormal;
  bool self_stop_requested_ = false;
  bool awaiting_ = false;  // worker-owned
  std::atomic<bool> resume_posted_{false};
  ActorId id_;
  ActorSystem* system_;
  std::shared_ptr<Telemetry> telemetry_;
  std::string name_;
  ActorAddress parent_;
  std::vector<ActorAddress> watchers_;  // worker-owned
  // Linked peers, a set (worker-owned). Links belong to an incarnation: broken when it ends, so a
  // restart in place (same cell) starts with none, except those made while it was suspended.
  std::vector<ActorAddress> links_;
  bool trap_exit_ = false;          // worker-owned; reset when the incarnation ends
  ActorAddress suspend_requester_;  // worker-owned: acknowledged by finish_suspend
  std::mutex system_mutex_;
  std::vector<SystemMessage> system_queue_;
};

}  // namespace capsule::rt::detail

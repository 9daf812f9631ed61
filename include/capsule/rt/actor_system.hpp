#pragma once

#include <array>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/actor_context.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_registry.hpp>
#include <capsule/rt/dead_letters.hpp>
#include <capsule/rt/detail/actor_cell.hpp>
#include <capsule/rt/detail/live_table.hpp>
#include <capsule/rt/mailbox.hpp>
#include <capsule/rt/monitoring.hpp>
#include <capsule/rt/scheduler.hpp>
#include <capsule/rt/timer.hpp>

namespace capsule::rt {

struct SpawnOptions {
  std::string name;       // bound in the registry when non-empty
  MailboxConfig mailbox;  // unbounded by default
  ActorAddress parent;    // the supervisor; set by SupervisorNode, rarely by hand

  [[nodiscard]] static SpawnOptions named(std::string n) { return {std::move(n), {}, {}}; }
  SpawnOptions& with_mailbox(MailboxConfig m) {
    mailbox = m;
    return *this;
  }
};

struct SystemConfig {
  SchedulerConfig scheduler;
  std::shared_ptr<Observer> observer;  // null: events are not produced at all
  std::chrono::milliseconds shutdown_timeout{5000};
};

enum class StopMode : std::uint8_t { kGraceful, kImmediate };

struct ShutdownReport {
  std::size_t actors_at_start = 0;
  std::size_t actors_killed = 0;           // still alive at the deadline: stopped without draining
  std::uint64_t undelivered_messages = 0;  // dead letters produced during shutdown
  bool timed_out = false;
};

// Owns the scheduler, the Asio timer thread, the registry and every live actor. Destroying it
// shuts down gracefully with the configured timeout.
class ActorSystem {
 public:
  explicit ActorSystem(SystemConfig config = {});
  ActorSystem(const ActorSystem&) = delete;
  ActorSystem& operator=(const ActorSystem&) = delete;
  ~ActorSystem();

  // Builds A from `args` (copied and kept: a restart builds a fresh A from them), runs pre_start
  // on the calling thread and returns its error if it fails.
  template <typename A, typename... Args>
  // NOLINTNEXTLINE(performance-unnecessary-value-param): copied on purpose, kept for restarts
  Result<ActorRef<typename A::message_type>> spawn(const SpawnOptions& options, Args... args) {
    using Msg = typename A::message_type;
    return spawn_factory<Msg>(options, [args...]() -> std::unique_ptr<Actor<Msg>> {
      return std::make_unique<A>(args...);
    });
  }

  template <typename Msg>
  Result<ActorRef<Msg>> spawn_factory(const SpawnOptions& options,
                                      detail::ActorFactory<Msg> factory) {
    if (auto status = check_spawn(options); !status) return std::move(status).error();
    auto cell = std::make_shared<detail::ActorCell<Msg>>(
        *this, next_id(), options.name, options.parent, options.mailbox, std::move(factory));
    if (auto status = admit(cell, [&cell] { return cell->start(); }); !status) {
      return std::move(status).error();
    }
    return ActorRef<Msg>(std::move(cell));
  }

  // Graceful: queued messages are processed, new ones refused, then post_stop; after `timeout`
  // the actor is stopped immediately. A supervised child reports to its supervisor instead.
  void stop(const ActorAddress& target, StopMode mode = StopMode::kGraceful,
            std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});
  // Ends the actor now, in whatever phase it is (draining, suspended, restarting), without
  // asking its supervisor: for an owner that must be sure its actors are gone (an embedding
  // shutting down past its grace period). Its watchers get a Down with kKilled.
  void kill(const ActorAddress& target);
  // Links `a` to `b` as if `a` had called ctx.link(b) (for code outside actors): kNotFound when
  // `a` has terminated. `b` gone already: `a` gets an exit signal with kNoProc.
  Status link(const ActorAddress& a, const ActorAddress& b);
  void unlink(const ActorAddress& a, const ActorAddress& b);
  // Link set entries held by live actors (each link between two live actors counts twice).
  [[nodiscard]] std::int64_t link_entries() const noexcept;

  template <typename Msg>
  TimerHandle send_after(ActorRef<Msg> target, std::chrono::steady_clock::duration delay, Msg msg) {
    auto state = std::make_shared<detail::TimerState>(io_);
    state->timer.expires_after(delay);
    state->timer.async_wait([state, target = std::move(target),
                             msg = std::move(msg)](const asio::error_code& ec) mutable {
      if (!ec && !state->cancelled.load(std::memory_order_acquire)) target.tell(std::move(msg));
    });
    return TimerHandle(state);
  }
  // Runs `action` on the timer thread after `delay` (keep it short: post work to an actor).
  TimerHandle run_after(std::chrono::steady_clock::duration delay, std::function<void()> action);
  // Runs `action` every `period` until cancelled or the system shuts down.
  TimerHandle run_periodic(std::chrono::steady_clock::duration period,
                           std::function<void()> action);

  [[nodiscard]] ActorRegistry& registry() noexcept { return registry_; }
  [[nodiscard]] Scheduler& scheduler() noexcept { return *scheduler_; }
  // The Asio context the timer thread runs: use it directly for timers and I/O.
  [[nodiscard]] asio::io_context& io_context() noexcept { return io_; }

  void subscribe_dead_letters(std::function<void(const DeadLetter&)> sink);
  [[nodiscard]] std::uint64_t dead_letter_count() const noexcept;
  [[nodiscard]] std::size_t actor_count() const noexcept;
  [[nodiscard]] bool shutting_down() const noexcept {
    return shutting_down_.load(std::memory_order_acquire);
  }

  // Stops every actor (gracefully, then immediately at the deadline), the scheduler and the timer
  // thread. Idempotent; later calls return the first report.
  ShutdownReport shutdown(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Runtime internals used by actor cells.
  [[nodiscard]] const std::shared_ptr<detail::Telemetry>& telemetry() const noexcept {
    return telemetry_;
  }
  // Drops the system's reference to a terminated cell (may destroy it).
  void forget(detail::ActorCellBase& cell);

 private:
  Status check_spawn(const SpawnOptions& options) const;
  Status admit(const std::shared_ptr<detail::ActorCellBase>& cell,
               const std::function<Status()>& start);
  ActorId next_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  std::vector<std::shared_ptr<detail::ActorCellBase>> live_cells() const;

  SystemConfig config_;
  std::shared_ptr<detail::Telemetry> telemetry_;
  ActorRegistry registry_;
  detail::LiveTable live_table_;
  std::atomic<std::size_t> live_{0};
  std::atomic<ActorId> next_id_{1};
  std::atomic<bool> shutting_down_{false};
  std::mutex shutdown_mutex_;
  std::condition_variable all_stopped_;
  std::optional<ShutdownReport> report_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> io_work_;
  std::thread io_thread_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace capsule::rt

#include <capsule/rt/detail/actor_context_impl.hpp>

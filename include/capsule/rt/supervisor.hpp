#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>
#include <vector>

#include <capsule/core/result.hpp>
#include <capsule/rt/actor.hpp>
#include <capsule/rt/actor_address.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/timer.hpp>

namespace capsule::rt {

enum class RestartStrategy : std::uint8_t {
  kOneForOne,   // restart only the child that failed
  kOneForAll,   // restart every child
  kRestForOne,  // restart the failed child and the children started after it
};

enum class RestartPolicy : std::uint8_t {
  kPermanent,  // always restarted, even after a normal stop
  kTransient,  // restarted only after a failure
  kTemporary,  // never restarted
};

struct ShutdownPolicy {
  enum class Kind : std::uint8_t { kGraceful, kImmediate };
  Kind kind = Kind::kGraceful;
  std::chrono::milliseconds timeout{5000};  // graceful only: then stopped immediately

  [[nodiscard]] static ShutdownPolicy graceful(std::chrono::milliseconds t) {
    return {Kind::kGraceful, t};
  }
  [[nodiscard]] static ShutdownPolicy immediate() { return {Kind::kImmediate, {}}; }
};

// delay(n) = min(max, initial * multiplier^(n-1)) * (1 +- jitter), n = the child's restarts
// within the intensity window. A zero `initial` restarts at once.
struct BackoffPolicy {
  std::chrono::milliseconds initial{10};
  std::chrono::milliseconds max{1000};
  double multiplier = 2.0;
  double jitter = 0.2;
  [[nodiscard]] static BackoffPolicy none() { return {std::chrono::milliseconds{0}, {}, 1, 0}; }
};

struct SupervisorConfig {
  RestartStrategy strategy = RestartStrategy::kOneForOne;
  // Restart intensity: more than `max_restarts` within `window` makes the supervisor give up:
  // it stops its children (reverse start order, each waited for), then fails with
  // ExitReason::kFailed and an error naming the child, the intensity and the last failure, so
  // that its own supervisor decides (escalation). The observer gets kRestartLimitExceeded.
  std::uint32_t max_restarts = 3;
  std::chrono::milliseconds window{5000};
  BackoffPolicy backoff;
  std::chrono::milliseconds health_interval{0};  // 0: no health checks
};

struct ChildSpec {
  std::string id;  // unique among the supervisor's children
  // Spawns the child with the given options (their parent is the supervisor). Run once: a restart
  // re-runs the child's factory in place, so address, name and queued messages survive.
  std::function<Result<ActorAddress>(ActorSystem&, const SpawnOptions&)> start;
  RestartPolicy restart = RestartPolicy::kPermanent;
  ShutdownPolicy shutdown;
  bool health_checks = false;
  SpawnOptions options;

  template <typename A, typename... Args>
  // NOLINTNEXTLINE(performance-unnecessary-value-param): copied on purpose, kept for restarts
  [[nodiscard]] static ChildSpec of(std::string id, SpawnOptions options, Args... args) {
    ChildSpec spec;
    spec.id = std::move(id);
    spec.options = std::move(options);
    spec.start = [args...](ActorSystem& system, const SpawnOptions& opts) -> Result<ActorAddress> {
      auto ref = system.spawn<A>(opts, args...);
      if (!ref) return std::move(ref).error();
      return ref->address();
    };
    return spec;
  }
  // A nested supervisor as a child: trees of any depth.
  [[nodiscard]] static ChildSpec supervisor(std::string id, SupervisorConfig config,
                                            std::vector<ChildSpec> children,
                                            SpawnOptions options = {});

  ChildSpec& with_restart(RestartPolicy policy) {
    restart = policy;
    return *this;
  }
  ChildSpec& with_shutdown(ShutdownPolicy policy) {
    shutdown = policy;
    return *this;
  }
  ChildSpec& with_health_checks(bool on = true) {
    health_checks = on;
    return *this;
  }
};

enum class ChildState : std::uint8_t {
  kRunning,
  kRestarting,  // decided: its old incarnation ends (or ended), then it starts again
  kStopping,    // its supervisor stops it and waits for its Down
};

struct ChildInfo {
  std::string id;
  ActorAddress address;
  ChildState state = ChildState::kRunning;
  std::uint32_t restarts = 0;  // total, since the supervisor (re)started
};

// Commands a SupervisorNode accepts (through SupervisorRef).
struct SupervisorCommand {
  struct StartChild {
    ChildSpec spec;
    std::function<void(Result<ActorAddress>)> done;
  };
  struct TerminateChild {
    std::string id;
  };
  struct RestartDue {
    std::uint64_t round = 0;  // the restart decision whose backoff ended
  };
  struct HealthTick {};
  struct ListChildren {
    std::function<void(std::vector<ChildInfo>)> reply;
  };
  std::variant<StartChild, TerminateChild, RestartDue, HealthTick, ListChildren> command;
};

// Handle to a running supervisor.
class SupervisorRef {
 public:
  SupervisorRef() = default;
  explicit SupervisorRef(ActorRef<SupervisorCommand> ref) : ref_(std::move(ref)) {}

  // `done` runs on the supervisor's thread with the child's address or the start error.
  Status start_child(ChildSpec spec, std::function<void(Result<ActorAddress>)> done = {}) const;
  Status terminate_child(std::string id) const;
  Status list_children(std::function<void(std::vector<ChildInfo>)> reply) const;
  // Blocking convenience for host threads and tests (never call it from an actor).
  [[nodiscard]] Result<std::vector<ChildInfo>> children(
      std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) const;

  [[nodiscard]] const ActorRef<SupervisorCommand>& ref() const noexcept { return ref_; }
  [[nodiscard]] ActorAddress address() const { return ref_.address(); }

 private:
  ActorRef<SupervisorCommand> ref_;
};

// An actor that starts, watches and restarts its children, with OTP's ordering:
// * children start in order in pre_start (a failing child fails the supervisor's start);
// * a stop (graceful, or its parent suspending it) stops them in reverse start order, each with
//   its shutdown policy, and waits for each one's Down before the next; only then does the
//   supervisor itself end. A kill or immediate stop of the supervisor stops the rest at once;
// * a restart waits until every old incarnation it covers ended (siblings are suspended one
//   by one, in reverse start order), then restarts them in start order;
// * giving up (intensity, escalation) stops all children the same way, then fails.
class SupervisorNode final : public Actor<SupervisorCommand> {
 public:
  SupervisorNode(SupervisorConfig config, std::vector<ChildSpec> specs);
  // The specs every incarnation of this supervisor starts its children from (its factory holds
  // them): each child refers to its spec there instead of copying it (100,000 children are
  // 100,000 specs with their ids and start functions).
  SupervisorNode(SupervisorConfig config, std::shared_ptr<const std::vector<ChildSpec>> specs);

  [[nodiscard]] static Result<SupervisorRef> start(ActorSystem& system, SupervisorConfig config,
                                                   std::vector<ChildSpec> children,
                                                   const SpawnOptions& options = {});

  Status pre_start(ActorContext<SupervisorCommand>& ctx) override;
  Status handle(SupervisorCommand& msg, ActorContext<SupervisorCommand>& ctx) override;
  Status on_signal(const Signal& signal, ActorContext<SupervisorCommand>& ctx) override;
  void on_stopping(ActorContext<SupervisorCommand>& ctx) override;
  void post_stop(ActorContext<SupervisorCommand>& ctx) override;
  ErrorAction on_error(const Error& error, ActorContext<SupervisorCommand>& ctx) override;

 private:
  using Ctx = ActorContext<SupervisorCommand>;

  enum class Mode : std::uint8_t {
    kSupervising,  // restarts children per the strategy
    kGivingUp,     // stops every child, then fails with give_up_
    kStopping,     // stops every child, then ends (its stop or suspension completes)
  };
  // Where a child's current incarnation is.
  enum class Life : std::uint8_t {
    kLive,
    kSuspending,  // asked to suspend for a restart; its acknowledgement is awaited
    kSuspended,   // no incarnation (failed, exited or acknowledged): waits for its restart
    kStopping,    // asked to stop; its Down is awaited
  };
  struct Child {
    // An initial child's points into initial_specs_; one started later owns its own.
    std::shared_ptr<const ChildSpec> spec;
    ActorAddress address;
    Life life = Life::kLive;
    std::uint64_t round = 0;  // the restart decision it belongs to; 0: none
    std::uint32_t restarts = 0;
    // Restarts within the window, oldest first; at most max_restarts + 1 (the supervisor gives
    // up beyond that). A vector: an empty std::deque allocates ~600 bytes, for every child.
    std::vector<std::chrono::steady_clock::time_point> recent;
    bool probe_outstanding = false;
    TimerHandle kill_timer;  // graceful stop: the kill at the end of its shutdown timeout
  };
  // One restart decision: its children are restarted together once all their old
  // incarnations ended and the backoff passed.
  struct Round {
    std::uint64_t id = 0;
    std::chrono::milliseconds delay{0};
    // Its children are contiguous in children_; those at or above this index are done with.
    std::size_t scan_from = 0;
    bool scheduled = false;  // every old incarnation ended; the restart is due (or backing off)
    TimerHandle timer;
  };

  Status start_child(std::shared_ptr<const ChildSpec> spec, Ctx& ctx);
  Status on_child_exit(std::size_t index, const Signal& signal, Ctx& ctx);
  Status on_child_down(std::size_t index, Ctx& ctx);
  Status restart(std::size_t index, const std::string& why, Ctx& ctx);
  Status advance(std::uint64_t round, Ctx& ctx);
  void restart_round(std::uint64_t round, Ctx& ctx);
  Status give_up(Error reason, Ctx& ctx);
  Status stop_next(Ctx& ctx);
  void wind_down();
  void stop_child(Child& child, ActorSystem& system) const;
  Status health_tick(Ctx& ctx);
  [[nodiscard]] ChildState state_of(const Child& child) const;
  [[nodiscard]] Round* find_round(std::uint64_t id);
  [[nodiscard]] std::string intensity_text() const;
  [[nodiscard]] std::chrono::milliseconds backoff_delay(std::size_t restarts_in_window);
  [[nodiscard]] std::ptrdiff_t index_of(const ActorAddress& address) const;
  [[nodiscard]] std::ptrdiff_t index_of(std::string_view id) const;
  // Removes children_[index] (and its id) and hands it back.
  Child forget_child(std::size_t index);
  void emit(EventKind kind, const Child& child, Ctx& ctx, std::optional<Error> error,
            std::string detail) const;

  SupervisorConfig config_;
  std::shared_ptr<const std::vector<ChildSpec>> initial_specs_;
  std::vector<Child> children_;
  // The ids of children_, so that adding one of 100k children is not a scan of the others. Views
  // of their specs' ids: a spec outlives its entry (forget_child erases it first).
  std::unordered_set<std::string_view> child_ids_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;  // all restarts within the window
  std::vector<Round> rounds_;
  std::uint64_t next_round_;
  Mode mode_ = Mode::kSupervising;
  std::optional<Error> give_up_;
  TimerHandle health_timer_;
  std::minstd_rand jitter_rng_;
};

}  // namespace capsule::rt

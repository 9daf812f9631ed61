#include <algorithm>
#include <unordered_set>
#include <utility>

#include <capsule/rt/actor_system.hpp>

namespace capsule::rt {

namespace {
// How often a shutdown looks for actors that lost their parent without being stopped by it.
constexpr std::chrono::milliseconds kOrphanRescan{50};
}  // namespace

ActorSystem::ActorSystem(SystemConfig config)
    : config_(std::move(config)),
      telemetry_(std::make_shared<detail::Telemetry>(config_.observer)),
      io_work_(asio::make_work_guard(io_)) {
  io_thread_ = std::thread([this] { io_.run(); });
  scheduler_ = std::make_unique<Scheduler>(config_.scheduler);
}

ActorSystem::~ActorSystem() {
  static_cast<void>(shutdown());
}

Status ActorSystem::check_spawn(const SpawnOptions& options) const {
  if (shutting_down()) {
    return make_error(ErrorCode::kUnavailable, "actor system is shutting down");
  }
  if (options.mailbox.is_bounded() && options.mailbox.policy == BackpressurePolicy::kBlock &&
      options.mailbox.block_timeout.count() < 0) {
    return make_error(ErrorCode::kInvalidArgument, "negative block timeout");
  }
  return ok();
}

Status ActorSystem::admit(const std::shared_ptr<detail::ActorCellBase>& cell,
                          const std::function<Status()>& start) {
  if (!cell->name().empty()) {
    if (auto bound = registry_.bind(cell->name(), ActorAddress(cell)); !bound) {
      cell->abort_start();
      return bound;
    }
  }
  if (auto started = start(); !started) {
    if (!cell->name().empty()) registry_.unbind(cell->name(), cell->id());
    cell->abort_start();
    return started;
  }
  live_table_.insert(cell);
  live_.fetch_add(1, std::memory_order_relaxed);
  cell->finish_start();
  return ok();
}

void ActorSystem::forget(detail::ActorCellBase& cell) {
  // Destroyed (if this was the last reference) outside the table's lock, at the end of this call.
  const auto doomed = live_table_.remove(cell);
  if (!doomed) return;
  // A worker that gave the cell up may still be reading its mailbox (Scheduler::begin_hand_back).
  scheduler_->wait_unread(&cell);
  if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1 && shutting_down()) {
    std::lock_guard lock(shutdown_mutex_);
    all_stopped_.notify_all();
  }
}

std::vector<std::shared_ptr<detail::ActorCellBase>> ActorSystem::live_cells() const {
  return live_table_.snapshot(live_.load(std::memory_order_relaxed));
}

void ActorSystem::stop(const ActorAddress& target, StopMode mode,
                       std::chrono::milliseconds timeout) {
  if (!target) return;
  detail::SystemMessage msg{detail::SystemMessage::Kind::kStop};
  msg.graceful = mode == StopMode::kGraceful;
  if (!target.cell()->post(std::move(msg)) || mode == StopMode::kImmediate) return;
  if (target.parent()) return;  // a supervised child's fate is its supervisor's call
  const auto& cell = target.shared_cell();
  static_cast<void>(run_after(
      timeout, [cell] { cell->post(detail::SystemMessage{detail::SystemMessage::Kind::kKill}); }));
}

void ActorSystem::kill(const ActorAddress& target) {
  if (!target) return;
  static_cast<void>(target.cell()->post(detail::SystemMessage{detail::SystemMessage::Kind::kKill}));
}

TimerHandle ActorSystem::run_after(std::chrono::steady_clock::duration delay,
                                   std::function<void()> action) {
  auto state = std::make_shared<detail::TimerState>(io_);
  state->timer.expires_after(delay);
  state->timer.async_wait([state, action = std::move(action)](const asio::error_code& ec) {
    if (!ec && !state->cancelled.load(std::memory_order_acquire)) action();
  });
  return TimerHandle(state);
}

namespace {
void arm_periodic(const std::shared_ptr<detail::TimerState>& state,
                  std::chrono::steady_clock::duration period,
                  const std::shared_ptr<std::function<void()>>& action) {
  state->timer.expires_after(period);
  state->timer.async_wait([state, period, action](const asio::error_code& ec) {
    if (ec || state->cancelled.load(std::memory_order_acquire)) return;
    (*action)();
    arm_periodic(state, period, action);
  });
}
}  // namespace

TimerHandle ActorSystem::run_periodic(std::chrono::steady_clock::duration period,
                                      std::function<void()> action) {
  auto state = std::make_shared<detail::TimerState>(io_);
  auto shared_action = std::make_shared<std::function<void()>>(std::move(action));
  // Arming happens on the Asio thread: the timer object is only ever touched there afterwards.
  asio::post(io_, [state, period, shared_action] { arm_periodic(state, period, shared_action); });
  return TimerHandle(state);
}

void ActorSystem::subscribe_dead_letters(std::function<void(const DeadLetter&)> sink) {
  telemetry_->subscribe_dead_letters(std::move(sink));
}

std::uint64_t ActorSystem::dead_letter_count() const noexcept {
  return telemetry_->dead_letter_count();
}

std::size_t ActorSystem::actor_count() const noexcept {
  return live_.load(std::memory_order_acquire);
}

ShutdownReport ActorSystem::shutdown(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(shutdown_mutex_);
  if (report_) return *report_;
  shutting_down_.store(true, std::memory_order_release);
  ShutdownReport report;
  const auto dead_before = telemetry_->dead_letter_count();
  report.actors_at_start = live_.load(std::memory_order_acquire);
  const auto deadline =
      std::chrono::steady_clock::now() + timeout.value_or(config_.shutdown_timeout);

  lock.unlock();
  // Only the roots are stopped here: a supervisor stops its own children in reverse start
  // order, each waited for, as OTP does. Actors whose parent is gone (a hand-set parent that
  // did not stop them) are picked up by the rescans below.
  std::unordered_set<ActorId> asked;
  const auto stop_roots = [this, &asked] {
    for (const auto& cell : live_cells()) {
      if (cell->parent().alive() || !asked.insert(cell->id()).second) continue;
      detail::SystemMessage msg{detail::SystemMessage::Kind::kStop};
      msg.origin = detail::StopOrigin::kShutdown;
      cell->post(std::move(msg));
    }
  };
  stop_roots();
  lock.lock();
  // forget() may have raced ahead of the wait; the predicate covers it.
  const auto all_gone = [this] { return live_.load(std::memory_order_acquire) == 0; };
  while (!all_gone()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (all_stopped_.wait_until(lock, std::min(deadline, now + kOrphanRescan), all_gone)) break;
    lock.unlock();
    stop_roots();
    lock.lock();
  }
  report.timed_out = !all_gone();
  lock.unlock();

  scheduler_->stop();
  // Whatever is left did not finish in time (or lost its turn to the stop): terminate it here,
  // on this thread, now that no worker runs.
  auto leftovers = live_cells();
  report.actors_killed = leftovers.size();
  for (const auto& cell : leftovers) {
    cell->force_terminate();
    forget(*cell);
  }
  leftovers.clear();
  io_work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();

  report.undelivered_messages = telemetry_->dead_letter_count() - dead_before;
  lock.lock();
  report_ = report;
  return report;
}

}  // namespace capsule::rt

#include "activation_directory.hpp"

#include <algorithm>
#include <thread>
#include <utility>

#include <capsule/rt/actor_system.hpp>

#include "component_actor.hpp"
#include "stop_actors.hpp"

namespace capsule::component {
namespace {

// A name is idle after this many sweeps without a delivery; sweeps run every idle_timeout / 4,
// so an idle activation retires between 1 and 1.25 idle_timeouts after its last message.
constexpr std::uint64_t kIdleTicks = 5;
constexpr std::uint64_t kSweepsPerTimeout = kIdleTicks - 1;

Error full(const ComponentId& id, std::string_view why) {
  return make_error(ErrorCode::kMailboxFull, "mailbox of " + id.to_string() + " is full (" +
                                                 std::string(why) + "); the message was refused");
}

}  // namespace

ActivationDirectory::ActivationDirectory(ComponentRuntime& runtime, ComponentSpec spec)
    : runtime_(runtime), spec_(std::move(spec)) {
  const OnDemandActivation policy = spec_.on_demand.value_or(OnDemandActivation{});
  spec_.on_demand = policy;
  // Held messages are refused rather than dropped or waited for: a drop policy would lose them
  // and a `block` one would hold the sender's thread (a worker, for a guest sender).
  mailbox_ = spec_.mailbox.value_or(default_component_mailbox());
  mailbox_.policy = rt::BackpressurePolicy::kError;
  held_limit_ = mailbox_.capacity != 0 ? mailbox_.capacity : 4096;
  waiting_limit_ = std::max<std::size_t>(1024, policy.max_active);
  idle_ticks_ = kIdleTicks;
  const auto period = std::max(std::chrono::milliseconds{1},
                               policy.idle_timeout / static_cast<int>(kSweepsPerTimeout));
  sweep_timer_ = runtime_.system().run_periodic(period, [this] { sweep(); });
}

ActivationDirectory::~ActivationDirectory() {
  close();
}

ComponentId ActivationDirectory::id_of(const std::string& name) const {
  return ComponentId{spec_.ns, spec_.name, name};
}

Status ActivationDirectory::deliver(const ComponentId& to, ComponentEnvelope envelope) {
  if (!is_valid_id_segment(to.instance)) {
    return make_error(ErrorCode::kInvalidArgument, "invalid instance name '" + to.instance +
                                                       "' (allowed: letters, digits, . _ -)");
  }
  const std::size_t bytes = mailbox_bytes(envelope);
  std::string start;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return make_error(ErrorCode::kUnavailable,
                        "component " + to.to_string() + " is not running (stopped)");
    }
    auto [it, inserted] = entries_.try_emplace(to.instance);
    Entry& e = it->second;
    e.last_used = tick_;
    e.referenced = true;
    if (!inserted && e.state == State::kActive && e.ref.alive()) {
      Status s = e.ref.send_nowait(std::move(envelope));
      if (!s && s.error().code == ErrorCode::kMailboxFull) return full(to, s.error().message);
      return s;
    }
    if (!inserted && e.state == State::kActive) {
      // Its actor ended without retiring (a rebuild after a failure could not instantiate):
      // a fresh activation takes this message, in the same slot.
      e.state = State::kActivating;
      e.ref = {};
      static_cast<void>(hold_locked(to, e, std::move(envelope), bytes));  // the first: fits
      ++spawning_;
      start = to.instance;
    } else if (!inserted) {
      return hold_locked(to, e, std::move(envelope), bytes);
    } else if (Status s = admit_new_locked(to, e, std::move(envelope), bytes, start); !s) {
      entries_.erase(it);
      return s;
    }
  }
  if (!start.empty()) activate(std::move(start));
  return ok();
}

Status ActivationDirectory::admit_new_locked(const ComponentId& to, Entry& e,
                                             ComponentEnvelope envelope, std::size_t bytes,
                                             std::string& start) {
  const std::uint32_t max_active = spec_.on_demand->max_active;
  if (occupied_ >= max_active && waiting_.size() >= waiting_limit_) {
    return full(to, std::to_string(waiting_.size()) + " names already wait for one of the " +
                        std::to_string(max_active) + " activation slots (max_active)");
  }
  static_cast<void>(hold_locked(to, e, std::move(envelope), bytes));  // the first: fits
  if (occupied_ < max_active) {
    e.state = State::kActivating;
    ++occupied_;
    ++spawning_;
    start = to.instance;
  } else {
    e.state = State::kWaiting;
    waiting_.push_back(to.instance);
    make_room_locked();
  }
  return ok();
}

Status ActivationDirectory::hold_locked(const ComponentId& to, Entry& e, ComponentEnvelope envelope,
                                        std::size_t bytes) const {
  if (!e.held.empty() && (e.held.size() >= held_limit_ ||
                          (mailbox_.max_bytes != 0 && e.held_bytes + bytes > mailbox_.max_bytes))) {
    return full(to, "its messages wait for the activation, at the mailbox's bound");
  }
  e.held.push_back(std::move(envelope));
  e.held_bytes += bytes;
  return ok();
}

std::string ActivationDirectory::spawn_activation(const std::string& name,
                                                  std::uint64_t name_token) {
  auto plan = std::make_shared<InstancePlan>();
  plan->id = id_of(name);
  plan->component.store(spec_.component);
  plan->config = spec_.config;
  plan->limits = spec_.limits;
  plan->activation = this;
  plan->name_token = name_token;
  // In a cluster the activation serves only while this host holds the lease its claims rest on.
  if (NameClaimer* claimer = runtime_.name_claimer(); claimer != nullptr) {
    plan->serving = claimer->window();
  }
  rt::SpawnOptions options;
  options.mailbox = mailbox_;
  // Instantiates here (no guest code: init runs on the activation's first turn).
  auto ref = runtime_.system().spawn<ComponentActor>(options, &runtime_, plan);
  Refusals refused;
  std::optional<Error> why;
  std::string next;
  bool unclaim = false;
  {
    std::lock_guard lock(mu_);
    --spawning_;
    auto it = entries_.find(name);
    Entry& e = it->second;
    if (!ref) {
      ++totals_.failed_activations;
      why = std::move(ref).error();
      for (auto& env : e.held) refused.push_back({name, std::move(env)});
      unclaim = e.claimed;
      entries_.erase(it);
      --occupied_;
      next = admit_waiting_locked();
    } else {
      e.ref = *ref;
      e.state = State::kActive;
      e.serial = ++serial_;
      ++totals_.activations;
      if (!closed_) {
        // The new mailbox is empty and held messages fit its bounds (checked on the way in).
        for (auto& env : e.held) static_cast<void>(e.ref.send_nowait(std::move(env)));
        e.held.clear();
        e.held_bytes = 0;
        clock_.emplace_back(name, e.serial);
        // Victims are picked among active names only: the names waiting while every slot was
        // still activating need one now.
        make_room_locked();
      }
    }
  }
  if (why) {
    if (unclaim) release_claim(name);
    runtime_.log(ComponentId{spec_.ns, spec_.name, "*"}, wasm::LogLevel::kError,
                 "activation failed: " + why->describe(), {{"instance", name}});
    refuse(std::move(refused), *why);
  }
  return next;
}

std::string ActivationDirectory::admit_waiting_locked() {
  while (!waiting_.empty() && !closed_) {
    std::string name = std::move(waiting_.front());
    waiting_.pop_front();
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.state != State::kWaiting) continue;
    it->second.state = State::kActivating;
    ++occupied_;
    ++spawning_;
    return name;
  }
  return {};
}

bool ActivationDirectory::retire_locked(Entry& entry) {
  if (!entry.ref.send_nowait(ComponentEnvelope{ComponentEnvelope::Retire{}})) return false;
  entry.state = State::kRetiring;
  return true;
}

void ActivationDirectory::make_room_locked() {
  while (evicting_ < waiting_.size()) {
    bool found = false;
    // Two passes at most: the first clears every referenced bit it meets.
    for (std::size_t scanned = 0, limit = 2 * clock_.size() + 1; scanned < limit && !clock_.empty();
         ++scanned) {
      auto [name, serial] = std::move(clock_.front());
      clock_.pop_front();
      auto it = entries_.find(name);
      if (it == entries_.end() || it->second.serial != serial ||
          it->second.state != State::kActive) {
        continue;  // stale: that activation retired since
      }
      Entry& e = it->second;
      if (e.referenced) {
        e.referenced = false;
        clock_.emplace_back(std::move(name), serial);
        continue;
      }
      if (!retire_locked(e)) {  // its mailbox is full: busy, not a victim now
        clock_.emplace_back(std::move(name), serial);
        continue;
      }
      e.evicted = true;
      ++evicting_;
      ++totals_.evictions;
      found = true;
      break;
    }
    if (!found) return;
  }
}

void ActivationDirectory::retired(const std::string& name) {
  std::string start;
  Refusals refused;
  Refusals moved;
  bool unclaim = false;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    ++totals_.deactivations;
    if (e.evicted) --evicting_;
    e.evicted = false;
    e.failed = false;
    // Every way out below but a re-activation in place leaves the name without an activation
    // here: its claim goes (a re-activation claims it again, which keeps it).
    unclaim = e.claimed;
    e.claimed = false;
    if (closed_) {
      for (auto& env : e.held) refused.push_back({name, std::move(env)});
      entries_.erase(it);
      --occupied_;
    } else if (!e.held.empty() && moved_locked(name)) {
      // Another host serves the name now: what was held here is refused, not activated here.
      for (auto& env : e.held) moved.push_back({name, std::move(env)});
      entries_.erase(it);
      --occupied_;
      start = admit_waiting_locked();
    } else if (!e.held.empty() && waiting_.empty()) {
      // Messages came while it retired: a fresh activation takes them, in order, in this slot.
      e.state = State::kActivating;
      e.ref = {};
      ++spawning_;
      start = name;
      unclaim = false;
    } else if (!e.held.empty()) {
      // Names wait for room: this one queues behind them with its messages, first come first
      // served, and the slot goes to the first of them.
      e.state = State::kWaiting;
      e.ref = {};
      waiting_.push_back(name);
      --occupied_;
      start = admit_waiting_locked();
      make_room_locked();
    } else {
      entries_.erase(it);
      --occupied_;
      start = admit_waiting_locked();
    }
  }
  if (!refused.empty()) {
    refuse(std::move(refused),
           make_error(ErrorCode::kUnavailable, "component " + spec_.ns + "/" + spec_.name +
                                                   " stopped before the message was handled"));
  }
  if (!moved.empty()) refuse(std::move(moved), moved_error());
  if (unclaim) release_claim(name);
  if (!start.empty()) activate(std::move(start));
}

void ActivationDirectory::activation_failed(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  ++totals_.failed_activations;
  it->second.failed = true;  // retired now, or by the next sweep if its mailbox is full
  if (it->second.state == State::kActive) static_cast<void>(retire_locked(it->second));
}

void ActivationDirectory::sweep() {
  std::vector<std::string> starts;
  std::vector<std::string> unclaimed;
  Refusals moved;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    sweep_locked(starts, unclaimed);
    release_moved_locked(moved);
  }
  refuse(std::move(moved), moved_error());
  for (const auto& name : unclaimed) release_claim(name);
  for (auto& name : starts) activate(std::move(name));
}

void ActivationDirectory::sweep_locked(std::vector<std::string>& starts,
                                       std::vector<std::string>& unclaimed) {
  ++tick_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.state != State::kActive) {
      ++it;
      continue;
    }
    if (!e.ref.alive()) {
      // Its actor ended without retiring (a rebuild after a failure could not instantiate) and
      // no message came since: its slot goes to a waiting name, as a retirement's would.
      ++totals_.deactivations;
      if (e.evicted) --evicting_;
      if (e.claimed) unclaimed.push_back(it->first);
      it = entries_.erase(it);
      --occupied_;
      if (std::string next = admit_waiting_locked(); !next.empty()) {
        starts.push_back(std::move(next));
      }
      continue;
    }
    const bool idle = tick_ - e.last_used >= idle_ticks_;
    if ((idle || e.failed) && retire_locked(e) && idle) ++totals_.idle_retirements;
    ++it;
  }
  // Names whose activation retired stay in the clock until a scan meets them; without eviction
  // pressure nothing scans, so drop them here once they outnumber the live ones.
  if (clock_.size() > 2 * occupied_ + 64) {
    std::erase_if(clock_, [this](const auto& slot) {
      auto it = entries_.find(slot.first);
      return it == entries_.end() || it->second.serial != slot.second ||
             it->second.state != State::kActive;
    });
  }
}

void ActivationDirectory::refuse(Refusals refused, const Error& why) const {
  for (auto& r : refused) {
    auto* d = std::get_if<ComponentEnvelope::Deliver>(&r.envelope.body);
    if (d == nullptr) continue;
    if (d->message.correlation) {
      runtime_.complete_request(*d->message.correlation, id_of(r.name), why);
    } else {
      runtime_.count_failed_message();
      runtime_.log(ComponentId{spec_.ns, spec_.name, "*"}, wasm::LogLevel::kWarn,
                   "message not handled: " + why.describe(),
                   {{"instance", r.name}, {"sender", d->message.sender.to_string()}});
    }
  }
}

void ActivationDirectory::close(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (closed_ && entries_.empty()) return;
    closed_ = true;
  }
  sweep_timer_.cancel();
  // An activation being spawned finishes first (it saw closed_ and routed nothing to it).
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (spawning_ == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<rt::ActorAddress> addresses;
  std::vector<std::string> unclaimed;
  Refusals refused;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, e] : entries_) {
      for (auto& env : e.held) refused.push_back({name, std::move(env)});
      e.held.clear();
      if (e.ref) addresses.push_back(e.ref.address());
      if (e.claimed) unclaimed.push_back(name);
      e.claimed = false;
    }
    waiting_.clear();
  }
  refuse(std::move(refused),
         make_error(ErrorCode::kUnavailable, "component " + spec_.ns + "/" + spec_.name +
                                                 " stopped before the message was handled"));
  // The actors hold a pointer to this directory: it outlives every one of them.
  stop_and_reap(runtime_.system(), addresses, addresses, grace);
  // Stopped (the guests' shutdown ran): another host may take these names at once.
  for (const auto& name : unclaimed) release_claim(name);
  std::lock_guard lock(mu_);
  entries_.clear();
  clock_.clear();
  occupied_ = 0;
  evicting_ = 0;
}

std::size_t ActivationDirectory::occupied() const {
  std::lock_guard lock(mu_);
  return occupied_;
}

ActivationDirectory::Stats ActivationDirectory::stats() const {
  std::lock_guard lock(mu_);
  Stats s = totals_;
  s.component = spec_.ns + "/" + spec_.name;
  s.active = occupied_;
  s.waiting = waiting_.size();
  return s;
}

std::vector<ComponentInfo> ActivationDirectory::list() const {
  std::vector<ComponentInfo> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : entries_) {
      if (e.state != State::kActive && e.state != State::kRetiring) continue;
      out.push_back(ComponentInfo{id_of(name), spec_.component->name(), e.ref.alive(),
                                  e.ref.mailbox_stats(), metadata_});
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

void ActivationDirectory::set_metadata(ComponentMetadata metadata) {
  std::lock_guard lock(mu_);
  metadata_ = std::move(metadata);
  has_metadata_.store(true, std::memory_order_release);
}

}  // namespace capsule::component

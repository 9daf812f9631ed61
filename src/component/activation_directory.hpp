#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <capsule/component/component_runtime.hpp>
#include <capsule/component/component_spec.hpp>
#include <capsule/component/envelope.hpp>
#include <capsule/rt/actor_ref.hpp>
#include <capsule/rt/timer.hpp>

namespace capsule::component {

// The activations of one on-demand component (ComponentSpec::on_demand): instance name -> the
// actor serving it now, if any. Every message to the component passes through deliver(), which
// activates the name when nothing serves it.
//
// Order and loss. An activation is deactivated by a Retire envelope on its data lane: it is
// handled after every message routed to it before, and from the moment it is sent this directory
// holds the name's new messages instead of routing them. When the old actor is gone (retired()),
// held messages go, in order, to a fresh activation. So a name's messages are handled in the order
// deliver() saw them, by one activation at a time, across any number of cycles.
//
// Across a cluster (RuntimeConfig::name_claimer), a name is claimed before it is activated and
// its claim released once it has no activation: another host's claim refuses the activation
// with kUnavailable, and while the claimer's window is closed every name counts as moved. The
// claim's token fences the name's storage (RuntimeConfig::fence_names): a write of an activation
// under an older claim is refused, and that activation retires (fenced_out).
//
// Capacity. At most `max_active` names hold an activation (activating, active or retiring). A new
// name past that waits (its messages held) while the least recently used active name is retired:
// second-chance (clock) order over activation order, the referenced bit set by each delivery.
// Idle ones are retired by a sweep every idle_timeout / 4.
//
// No guest code runs under the lock, nor on the sender's thread: an activation instantiates in
// the sender's call (spawn) but runs init on its own first turn (an Activate envelope).
class ActivationDirectory {
 public:
  using Stats = ActivationStats;

  ActivationDirectory(ComponentRuntime& runtime, ComponentSpec spec);
  ~ActivationDirectory();  // close()s
  ActivationDirectory(const ActivationDirectory&) = delete;
  ActivationDirectory& operator=(const ActivationDirectory&) = delete;

  // Into the mailbox of `to`'s activation, activating it first if needed. Never waits: a full
  // activation mailbox, or a name with a full backlog, refuses with kMailboxFull.
  Status deliver(const ComponentId& to, ComponentEnvelope envelope);
  // Called by an activation that handled its Retire, from its post_stop (after the guest's
  // shutdown): its held messages go to a fresh activation, or its room to a waiting name.
  void retired(const std::string& name);
  // Called by an activation whose init failed: it refuses what it has queued, then retires.
  void activation_failed(const std::string& name);
  // Called when a storage write of `name`'s activation was refused by the name's fence (another
  // host claimed the name since): logged and counted, and the activation retires.
  void fenced_out(const std::string& name, const Error& why);
  // In a cluster: the names this host no longer serves (ComponentRuntime::serves_here, after a
  // membership change). Their activations retire behind what their mailboxes hold; messages held
  // for such a name (waiting for room, or for its retirement) are refused with kUnavailable
  // rather than activated here. Every sweep does it too, so a change it missed is caught there.
  void release_moved();
  // Stops every activation (gracefully, then killed past `grace`) and refuses what is held.
  // Afterwards deliver() refuses everything. Idempotent.
  void close(std::chrono::milliseconds grace = std::chrono::milliseconds{5000});

  [[nodiscard]] const ComponentSpec& spec() const { return spec_; }
  [[nodiscard]] Stats stats() const;
  // Names holding an activation now (activating, active or retiring): stats().active, without
  // the copy.
  [[nodiscard]] std::size_t occupied() const;
  [[nodiscard]] std::vector<ComponentInfo> list() const;  // active names, sorted
  // What the component reported at an activation's start (the same for every name).
  void set_metadata(ComponentMetadata metadata);
  [[nodiscard]] bool has_metadata() const { return has_metadata_.load(std::memory_order_acquire); }

 private:
  enum class State : std::uint8_t { kWaiting, kActivating, kActive, kRetiring };
  struct Entry {
    State state = State::kWaiting;
    rt::ActorRef<ComponentEnvelope> ref;  // kActive, kRetiring
    std::deque<ComponentEnvelope> held;   // kWaiting, kActivating, kRetiring
    std::size_t held_bytes = 0;
    std::uint64_t last_used = 0;  // sweep tick of the last delivery
    std::uint64_t serial = 0;     // of the current activation: tells stale clock slots apart
    bool referenced = true;       // second-chance bit
    bool evicted = false;         // retiring to make room (counts against waiters)
    bool failed = false;          // its init failed: retire it even if not idle
    bool claimed = false;         // in a cluster: this host holds the name's claim
  };
  // Envelopes refused together, outside the lock (completing a request runs its callback).
  struct Refusal {
    std::string name;
    ComponentEnvelope envelope;
  };
  using Refusals = std::vector<Refusal>;

  // Activates `name` (its entry is kActivating, counted in spawning_), then each waiting name a
  // failed activation hands its slot to. In a cluster with a NameClaimer the name is claimed
  // first and claimed() goes on once the claim is answered.
  void activate(std::string name);
  // The claim's outcome: its fencing token, or why not.
  void claimed(const std::string& name, const Result<std::uint64_t>& claim);
  // Moves the name's storage fence to `token` (RuntimeConfig::fence_names; a no-op for backends
  // that need no fence).
  [[nodiscard]] Status fence_storage(const std::string& name, std::uint64_t token) const;
  // Spawns the activation of `name`, its storage writes carrying `name_token` (0: none); returns
  // the waiting name its slot goes to if it failed.
  std::string spawn_activation(const std::string& name, std::uint64_t name_token);
  // Gives up the claim of a name with no activation any more (when there is a claimer).
  void release_claim(const std::string& name) const;
  void sweep();  // retire idle names (timer thread)
  // A name seen for the first time: activating now (`start` set) or waiting for room. Caller
  // holds mu_; on error the caller erases the entry.
  Status admit_new_locked(const ComponentId& to, Entry& entry, ComponentEnvelope envelope,
                          std::size_t bytes, std::string& start);
  // Holds a message for `entry` until its activation takes it: refused (mailbox-full) past the
  // mailbox's bounds, as a mailbox would; a first message always fits, as into an empty one.
  // Caller holds mu_.
  Status hold_locked(const ComponentId& to, Entry& entry, ComponentEnvelope envelope,
                     std::size_t bytes) const;
  // One sweep: idle and failed activations retire; dead ones give their slot back (the names it
  // admits are appended to `starts`, to activate once mu_ is released). Caller holds mu_.
  void sweep_locked(std::vector<std::string>& starts, std::vector<std::string>& unclaimed);
  // Picks a victim for each waiting name not yet covered by a retirement. Caller holds mu_.
  void make_room_locked();
  bool retire_locked(Entry& entry);  // false: its mailbox is full now
  // The next waiting name, now kActivating, or empty. Caller holds mu_.
  std::string admit_waiting_locked();
  // release_moved()'s work; the refused ones are appended to `refused`. Caller holds mu_.
  void release_moved_locked(Refusals& refused);
  [[nodiscard]] bool moved_locked(const std::string& name) const;
  [[nodiscard]] Error moved_error() const;
  void refuse(Refusals envelopes, const Error& why) const;
  [[nodiscard]] ComponentId id_of(const std::string& name) const;

  ComponentRuntime& runtime_;
  ComponentSpec spec_;
  rt::MailboxConfig mailbox_;
  std::size_t held_limit_;     // per name: the mailbox's capacity
  std::size_t waiting_limit_;  // names waiting for room
  std::uint64_t idle_ticks_;   // sweeps without a delivery before a name is idle
  rt::TimerHandle sweep_timer_;

  mutable std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<std::string, std::uint64_t>> clock_;  // (name, serial), activation order
  std::deque<std::string> waiting_;                          // FIFO
  std::size_t occupied_ = 0;                                 // kActivating + kActive + kRetiring
  std::size_t evicting_ = 0;                                 // retirements under way to make room
  std::size_t spawning_ = 0;  // activate() calls under way: close() waits for them
  std::uint64_t tick_ = 0;
  std::uint64_t serial_ = 0;
  Stats totals_;
  std::optional<ComponentMetadata> metadata_;
  std::atomic<bool> has_metadata_{false};
};

}  // namespace capsule::component

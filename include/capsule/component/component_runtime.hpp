#pragma once

#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <capsule/component/component_registry.hpp>
#include <capsule/component/component_spec.hpp>
#include <capsule/component/correlation_tracker.hpp>
#include <capsule/component/envelope.hpp>
#include <capsule/component/name_claimer.hpp>
#include <capsule/component/remote_router.hpp>
#include <capsule/component/timeout_handler.hpp>
#include <capsule/rt/actor_system.hpp>
#include <capsule/rt/message_broker.hpp>
#include <capsule/rt/supervisor.hpp>
#include <capsule/security/access_guard.hpp>
#include <capsule/storage/kv_backend.hpp>
#include <capsule/wasm/engine.hpp>

namespace capsule::host {
class GuestQuotaGate;
}

namespace capsule::component {

class ActivationDirectory;
class RepeatFilter;
struct RepeatFilterSummary;

// The activations of one on-demand component (ComponentSpec::on_demand), counted since it started.
struct ActivationStats {
  std::string component;                 // "ns/name"
  std::uint64_t activations = 0;         // actors started: first activations and re-activations
  std::uint64_t deactivations = 0;       // activations that retired
  std::uint64_t idle_retirements = 0;    // retired after idle_timeout without a message
  std::uint64_t evictions = 0;           // retired to make room (max_active reached)
  std::uint64_t failed_activations = 0;  // instantiate, init or metadata failed
  std::uint64_t refused_claims = 0;      // in a cluster: another host had the name (NameClaimer)
  // In a cluster: storage writes refused because another host claimed the name since this
  // activation's claim (its fence holds a newer token); each deactivated the activation.
  std::uint64_t fenced_writes = 0;
  std::size_t active = 0;   // names holding an activation now (<= max_active)
  std::size_t waiting = 0;  // names waiting for room
};

// A component instance's mailbox unless its spec or the host says otherwise: 4096 messages and
// 64 MiB of payloads (a 4 MiB payload limit alone would let 4096 queued messages hold 16 GiB).
[[nodiscard]] inline rt::MailboxConfig default_component_mailbox() {
  auto m = rt::MailboxConfig::bounded(4096, rt::BackpressurePolicy::kError);
  m.max_bytes = 64ULL << 20;
  return m;
}

struct RuntimeConfig {
  rt::MailboxConfig default_mailbox = default_component_mailbox();
  // Where guest log lines go; default: stderr, one line each, tagged with the component id.
  std::function<void(const ComponentId&, wasm::LogLevel, const std::string&,
                     const wasm::KeyValues&)>
      log_sink;
  // Capability checks. Null turns them off (a trusted embedding: tools, and tests of other
  // layers); set, every component may do only what it declared and was granted, see
  // docs/security.md. The CLI host always sets one.
  std::shared_ptr<security::PolicyEngine> policy;
  // Where denials (and with audit_allowed every check) are recorded. Null: not recorded.
  std::shared_ptr<security::AuditSink> audit;
  bool audit_allowed = false;
  // Component storage, one space per ns/name. Null: storage calls answer not-implemented.
  std::shared_ptr<storage::KvBackend> storage;
  // Other hosts of a cluster: targets not found on this host go there, publishes go there too.
  // Null (the default): a single host, unknown targets are errors.
  std::shared_ptr<RemoteRouter> remote;
  // In a cluster: names of on-demand components are claimed through it before they are activated
  // here (one activation per name across the hosts). Null: names are placed by the remote
  // router's view alone.
  std::shared_ptr<NameClaimer> name_claimer;
  // With a name claimer: the host that wins a name's claim fences the name's storage with the
  // claim's token before the activation's init reads it, and every storage write of the
  // activation carries that token (KvBackend::fence, WritePermit; docs/cluster.md, "Name claims").
  // Off: an activation's writes are checked by this host's lease window alone.
  bool fence_names = true;
  // Largest payload a component (unless its limits say otherwise) or the host itself may send:
  // messages, requests, replies, publishes, broadcasts and storage values. Larger ones are
  // refused with invalid-argument naming the size and the limit.
  std::uint64_t max_payload_bytes = 4ULL << 20;
  // Per-instance quotas for components whose limits leave a field zero.
  GuestQuotas quotas = kDefaultGuestQuotas;
  // Threads that run storage calls (SQLite, a remote store) off the scheduler workers.
  unsigned io_threads = 2;
  // Identical log lines within this window are written once, then summarised with a count.
  std::chrono::seconds log_repeat_window{10};
};

// Where a caller id comes from. A local caller is a component of this host (its id is taken
// from its own instance, never from what it says) or host code; a peer caller was delivered by
// the cluster bridge from another host, which checked that component's grants itself.
enum class Origin : std::uint8_t { kLocal, kPeer };

struct ComponentInfo {
  ComponentId id;
  std::string component;  // file name of the .wasm
  bool alive = false;
  rt::MailboxStats mailbox;
  std::optional<ComponentMetadata> metadata;
};

// Keeps a host-side topic subscription alive; unsubscribes when destroyed.
class HostSubscription {
 public:
  HostSubscription() = default;
  HostSubscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}  // NOLINT
  HostSubscription(HostSubscription&&) noexcept = default;
  HostSubscription& operator=(HostSubscription&&) noexcept = default;
  HostSubscription(const HostSubscription&) = delete;
  HostSubscription& operator=(const HostSubscription&) = delete;
  ~HostSubscription() {
    if (cancel_) cancel_();
  }

 private:
  std::function<void()> cancel_;
};

// The component layer: runs supervised component instances as actors on an rt::ActorSystem and
// routes messages between them and the host. Guests reach it through their HostApi; host code
// calls the same functions, with the same semantics, as the privileged caller: the
// pseudo-component `host/host/0`, which no check applies to (privileged_caller()).
class ComponentRuntime {
 public:
  ComponentRuntime(rt::ActorSystem& system, std::shared_ptr<wasm::WasmEngine> engine,
                   RuntimeConfig config = {});
  ~ComponentRuntime();  // stops every component this runtime started
  ComponentRuntime(const ComponentRuntime&) = delete;
  ComponentRuntime& operator=(const ComponentRuntime&) = delete;

  // The id host code calls as (`host/host/0`; on the wire too): no capability check applies to it,
  // and no component may be started in its namespace, so no guest can wear it.
  static const ComponentId& privileged_caller();

  // Starts `spec.instances` instances under one SupervisorNode; returns their ids. Fails (and
  // starts nothing) if any instance fails to instantiate or init. A component stopped out of a
  // supervision group that is still running goes back into that group. An on-demand component
  // (spec.on_demand) starts no instance: it returns no id and serves ns/name/<any name> from then
  // on, activating names as messages come (see ActivationDirectory).
  Result<std::vector<ComponentId>> start(const ComponentSpec& spec);
  // Starts every member's instances under one SupervisorNode (see SupervisionGroupSpec); returns
  // all their ids. Fails, starting nothing, if a member is already running or any instance fails.
  Result<std::vector<ComponentId>> start_group(const SupervisionGroupSpec& group);
  // Stops every instance of ns/name and forgets them. In a group with other running members,
  // only this member's instances leave the group; the others keep running.
  Status stop(std::string_view ns, std::string_view name);
  // -- links (component_links.cpp; docs/operations.md "Links") ------------------------------
  // Links instance `a` with instance `b` on the runtime's link primitive (rt ActorContext::link):
  // when either incarnation fails (trap, limit, kill), the other fails too and its supervisor
  // restarts it; a restart ends the links of the incarnation that made them. kNotFound when
  // either id names no instance of this host (Erlang's badarg for an unknown name). `b`'s
  // instance has ended (its supervisor gave up): `a` gets an exit with noproc at once and fails.
  Status link(const ComponentId& a, const ComponentId& b);
  Status unlink(const ComponentId& a, const ComponentId& b);
  // The live instances `id` links with at each (re)start: every instance of each component its
  // spec's `links` names or whose spec names it (ComponentSpec::links), running on this host.
  [[nodiscard]] std::vector<rt::ActorAddress> declared_peers(const ComponentId& id) const;
  // "ns/name/instance" of the instance at `address`, or the actor's number if it is none.
  [[nodiscard]] std::string describe(const rt::ActorAddress& address) const;
  // Called when the supervisor of a group ended with a failure (it gave up): applies the group's
  // GroupEscalation (group_escalation.cpp).
  void group_gave_up(const rt::ActorAddress& supervisor, const std::optional<Error>& why);
  // The supervision group ns/name belongs to (its own name when it was started alone).
  [[nodiscard]] std::optional<std::string> group_of(std::string_view ns,
                                                    std::string_view name) const;
  // Every running instance, and every active name of on-demand components.
  [[nodiscard]] std::vector<ComponentInfo> list() const;
  // One entry per on-demand component running.
  [[nodiscard]] std::vector<ActivationStats> activation_stats() const;
  // Whether any name of any on-demand component holds an activation (activating, active or
  // retiring) now. A host that lost its lease on its names takes a new one only once this is
  // false (cluster::NameLeases).
  [[nodiscard]] bool has_activations() const;
  // -- on-demand names across a cluster (docs/cluster.md, "Virtual actors across hosts") -----
  // Whether this host loads on-demand component ns/name (so any of its names may be sent here).
  [[nodiscard]] bool loads_on_demand(std::string_view ns, std::string_view name) const;
  // Whether this host serves name `id` of an on-demand component now: always without a cluster;
  // in one, when the remote router places the name here.
  [[nodiscard]] bool serves_here(const ComponentId& id) const {
    return !config_.remote || config_.remote->serves_here(id);
  }
  // The cluster's membership changed: activations of names another host serves now retire (after
  // what their mailboxes hold). Returns at once; the work runs on an I/O thread.
  void placement_changed();

  // -- instances that are no actors: a wasi:http/proxy route's pool (docs/http.md) ---------------
  // Registers what ns/name declared and was granted, as start() does for a component (replacing
  // what was registered under that name). Refuses an invalid name and the host's namespace.
  Status register_detached(std::string_view ns, std::string_view name,
                           const security::ComponentPermissions& permissions);
  // The host functions of one such instance `id`, bound to it as an actor's are: the same checks
  // against ns/name's registration, log quotas, storage space "ns/name" and quota, and `config`
  // for wasi:config. It has no mailbox: it sends, publishes and calls (messaging.call, whose reply
  // goes straight to the waiting guest call), but request and subscribe, whose outcomes would
  // come to a mailbox, are refused naming what to use; a message to it finds no component, and the
  // refusal says it is a route.
  [[nodiscard]] std::shared_ptr<wasm::HostApi> detached_host(const ComponentId& id,
                                                             const ResourceLimits& limits,
                                                             wasm::KeyValues config);

  // -- messaging: the semantics of wit/messaging.wit -------------------------------------------
  // send(), answered later through `done` (exactly once, on any thread): for a target on another
  // host the acknowledgement is matched when it arrives and no thread waits for it.
  // `in_turn`: `from` is a guest whose call runs on this thread now; a message for another host
  // may then be held until its turn ends (RemoteRouter::send_in_turn, end_turn below).
  void send_later(const ComponentId& from, const ComponentId& to, Payload payload,
                  std::function<void(Status)> done, bool in_turn = false);
  // A guest's turn ended or paused on this thread: what its sends left held goes out now.
  void end_turn() {
    if (config_.remote) config_.remote->end_turn();
  }
  Status send(const ComponentId& from, const ComponentId& to, Payload payload);
  // Many sends from `from` with one outcome each (capsule:core 0.1.2 send-batch, and the host's
  // way to keep many confirmed sends in flight): each message passes send()'s checks and goes
  // where send() would send it; local ones are in their mailbox (or refused) before this returns,
  // those for other hosts all leave at once and are confirmed together (one round trip per host
  // for the batch). No message waits for room: a full `block` mailbox refuses it as full.
  // Messages to one target keep their order. `done` runs exactly once, on any thread, when every
  // outcome is known; more than kMaxSendBatch messages is an error for the whole batch.
  void send_batch(const ComponentId& from, std::vector<OutgoingMessage> messages, BatchDone done);
  // Exactly one of reply / timeout / cancellation / failure is passed to `deliver`.
  // `in_turn`: made by a guest's call running on this thread; a request for another host may
  // then be held until its turn ends (RemoteRouter::request_in_turn, end_turn).
  Result<CorrelationId> request(const ComponentId& from, const ComponentId& to, Payload payload,
                                std::chrono::milliseconds timeout,
                                std::function<void(CallbackResponse)> deliver,
                                bool in_turn = false);
  // Host convenience: the reply payload, or the error (timeout, failure of the responder...).
  std::future<Result<Payload>> ask(const ComponentId& to, Payload payload,
                                   std::chrono::milliseconds timeout);
  // The same, waiting on this (non-worker) thread: no future, no shared state beyond one
  // allocation. A local target that is idle handles the request on this thread (its actor's turn,
  // with the actor's rules: rt::ActorRef::send_run_here), so no worker is woken and no reply is
  // handed back; a busy one gets it in its mailbox as from ask(), and this thread waits
  // (rt::wait_for_flag). Never call it from a scheduler worker (it would hold the worker it
  // waits for).
  Result<Payload> call(const ComponentId& to, Payload payload, std::chrono::milliseconds timeout);
  // Runs `task` on the runtime's I/O threads (storage, and other work that may block), never on a
  // scheduler worker. Tasks still queued when the runtime is destroyed run before it is gone.
  void run_io(std::function<void()> task);
  // The payload limit of a component with these limits (its own, else the host default).
  [[nodiscard]] std::uint64_t max_payload_bytes(const ResourceLimits& limits) const {
    return limits.max_payload_bytes != 0 ? limits.max_payload_bytes : config_.max_payload_bytes;
  }
  // The quotas of a component with these limits (its own fields, else the host's).
  [[nodiscard]] GuestQuotas quotas(const ResourceLimits& limits) const {
    return merged(limits.quotas, config_.quotas);
  }
  // The quota state of `id`'s component, shared by all its instances and kept across their
  // restarts until the component is stopped.
  std::shared_ptr<host::GuestQuotaGate> quota_gate(const ComponentId& id,
                                                   const ResourceLimits& limits);
  Status cancel(CorrelationId correlation, const ComponentId& requester);
  Result<std::uint32_t> broadcast(const ComponentId& from, const std::vector<ComponentId>& to,
                                  const Payload& payload);
  Result<std::uint32_t> publish(const ComponentId& from, std::string_view topic,
                                const Payload& payload);
  // -- the same for callers on other hosts (the cluster bridge) ------------------------------
  // Only this host's components are targets (nothing is forwarded on) and only the operator's
  // policy rules apply to the peer caller: its own host checked its grants.
  Status send_from_peer(const ComponentId& from, const ComponentId& to, Payload payload);
  // `run_here`: the calling thread (the bridge's network reader, which must not wait) runs an
  // idle target's turn itself instead of waking a scheduler worker for it: a lone request from
  // another host is then answered with no thread hand-off on this host. The turn is one message
  // and the guest yields at its first epoch tick (the rest of a long call goes on on a worker),
  // so the thread is held for at most about one tick; a busy target's mailbox gets it as usual.
  Result<CorrelationId> request_from_peer(const ComponentId& from, const ComponentId& to,
                                          Payload payload, std::chrono::milliseconds timeout,
                                          std::function<void(CallbackResponse)> deliver,
                                          bool run_here = false);
  // Delivers to this host's subscribers only.
  Result<std::uint32_t> publish_from_peer(const ComponentId& from, std::string_view topic,
                                          const Payload& payload);
  Status subscribe(std::string_view topic, const ComponentId& subscriber);
  Status unsubscribe(std::string_view topic, const ComponentId& subscriber);
  // `handler` runs on a runtime thread for every message published to `topic`.
  Result<HostSubscription> subscribe_host(std::string_view topic,
                                          std::function<void(const ComponentMessage&)> handler);

  // Hands a request's outcome to the requesting component, on its mailbox's control lane: no
  // backpressure policy refuses, drops or evicts it, however full the data lane is.
  void deliver_callback(const rt::ActorRef<ComponentEnvelope>& to, CallbackResponse response);
  // Called by a component actor when a request it was handling ended. False when the request had
  // already ended (timed out, cancelled): the outcome was dropped and counted as late.
  bool complete_request(CorrelationId correlation, const ComponentId& responder,
                        Result<std::optional<Payload>> outcome);
  // The host's lines about a component. Identical lines (same component, level and text)
  // repeated within RuntimeConfig::log_repeat_window are written once, then summarised with
  // their count (see RepeatFilter).
  void log(const ComponentId& who, wasm::LogLevel level, const std::string& message,
           const wasm::KeyValues& fields) const;
  // A guest's own line, already held to its log quota: written as it is.
  void guest_log(const ComponentId& who, wasm::LogLevel level, const std::string& message,
                 const wasm::KeyValues& fields) const {
    write_log(who, level, message, fields);
  }

  // ok if `who` may do `action` on `target` (the host itself always may); otherwise the
  // audited permission-denied error. Every host function calls this before acting. A local
  // caller is checked against its grants whether or not it is registered right now (its first
  // init and its shutdown run while it is not).
  Status authorize(const ComponentId& who, security::Action action, std::string_view target,
                   Origin origin = Origin::kLocal) const;
  [[nodiscard]] const security::AccessGuard& guard() const { return guard_; }
  [[nodiscard]] storage::KvBackend* storage() const { return config_.storage.get(); }
  [[nodiscard]] bool has_remote() const { return config_.remote != nullptr; }
  [[nodiscard]] NameClaimer* name_claimer() const { return config_.name_claimer.get(); }
  [[nodiscard]] bool fences_names() const { return config_.fence_names; }
  // A storage write of activation `id` was refused by its name's fence (another host claimed the
  // name since): logged, counted (ActivationStats::fenced_writes), the activation deactivated.
  void name_fenced(const ComponentId& id, const Error& why);
  // Whether a send for another host may wait for its outcome (RemoteRouter::sends_wait).
  [[nodiscard]] bool remote_sends_wait() const {
    return config_.remote != nullptr && config_.remote->sends_wait();
  }

  [[nodiscard]] CorrelationStats correlation_stats() const { return tracker_.stats(); }
  // Whether request `id` still waits for its outcome.
  [[nodiscard]] bool request_pending(CorrelationId id) const { return tracker_.is_pending(id); }
  [[nodiscard]] LatencyHistogram request_latency() const { return tracker_.latency(); }
  [[nodiscard]] ComponentRegistry& registry() { return registry_; }
  [[nodiscard]] wasm::WasmEngine& engine() { return *engine_; }
  [[nodiscard]] rt::ActorSystem& system() { return system_; }
  [[nodiscard]] std::uint64_t failed_messages() const { return failed_messages_.load(); }
  void count_failed_message() { failed_messages_.fetch_add(1, std::memory_order_relaxed); }

 private:
  Status authorize_to(const ComponentId& who, security::Action action, const ComponentId& target,
                      Origin origin = Origin::kLocal) const;
  // send() without the capability check: for broadcast, which checks its own action.
  Status route(const ComponentId& from, const ComponentId& to, Payload payload);
  // request() past its checks. A local caller's target may be on another host; a peer's
  // request never waits for room in a full `block` mailbox.
  // `run_here`: a caller that waits for the outcome anyway (call()) runs an idle local target's
  // turn on its own thread (rt::ActorRef::send_run_here) instead of waking a worker; so does a
  // peer's request from the bridge's reader (request_from_peer), never waiting for room.
  Result<CorrelationId> begin_request(const ComponentId& from, const ComponentId& to,
                                      Payload payload, std::chrono::milliseconds timeout,
                                      std::function<void(CallbackResponse)> deliver, Origin origin,
                                      bool run_here = false, bool in_turn = false);
  // request() with begin_request's `run_here`.
  Result<CorrelationId> checked_request(const ComponentId& from, const ComponentId& to,
                                        Payload payload, std::chrono::milliseconds timeout,
                                        std::function<void(CallbackResponse)> deliver,
                                        bool run_here, bool in_turn = false);
  // What send() and send_later() check before a message goes anywhere: size and grants.
  [[nodiscard]] Status admit_send(const ComponentId& from, const ComponentId& to,
                                  const Payload& payload) const;
  // Into `target`'s mailbox (`to` names it); a peer's message never waits for room.
  // kInvalidArgument when a peer's payload is larger than `to` accepts (its max_payload).
  [[nodiscard]] Status peer_payload_fits(const ComponentId& from, const ComponentId& to,
                                         const Payload& payload) const;
  Status enqueue(const rt::ActorRef<ComponentEnvelope>& target, const ComponentId& to,
                 ComponentEnvelope envelope, Origin origin);
  Result<std::uint32_t> publish_here(const ComponentId& from, std::string_view topic,
                                     const Payload& payload);
  // The on-demand component `id` belongs to, or null.
  [[nodiscard]] std::shared_ptr<ActivationDirectory> directory_for(const ComponentId& id) const;
  Result<std::vector<ComponentId>> start_on_demand(const ComponentSpec& spec);
  [[nodiscard]] bool is_running(std::string_view ns, std::string_view name) const;

  rt::ActorSystem& system_;
  std::shared_ptr<wasm::WasmEngine> engine_;
  RuntimeConfig config_;
  // Joined in the destructor, after every actor stopped and before anything a task may touch.
  asio::thread_pool io_pool_;
  security::AccessGuard guard_;
  ComponentRegistry registry_;
  CorrelationTracker tracker_;
  TimeoutHandler timeouts_;
  rt::MessageBroker<ComponentEnvelope> broker_;
  std::atomic<std::uint64_t> failed_messages_{0};
  std::unique_ptr<RepeatFilter> repeats_;  // of log lines
  rt::TimerHandle repeats_timer_;          // reports repeats that stopped
  // Writes the summary of a RepeatFilter window (its repeats, counted).
  void log_repeats(const RepeatFilterSummary& summary) const;
  void write_log(const ComponentId& who, wasm::LogLevel level, const std::string& message,
                 const wasm::KeyValues& fields) const;
  // On-demand components: few, so a scan; the flag spares every send the lock when there are none.
  mutable std::shared_mutex directories_mutex_;
  std::vector<std::shared_ptr<ActivationDirectory>> directories_;
  std::atomic<bool> has_directories_{false};
  mutable std::mutex groups_mutex_;
  struct Member {
    ComponentSpec spec;
    std::vector<ComponentId> ids;
    bool running = true;
  };
  struct Group {
    std::string name;
    rt::SupervisorRef supervisor;
    std::vector<Member> members;
    GroupEscalation escalation;
    rt::ActorAddress watch;  // kRestartGroup: the actor that learns of the supervisor's end
    rt::SupervisorConfig supervision;
  };
  std::vector<Group> groups_;
  // Escalation (group_escalation.cpp). Give-ups of each group name (kRestartGroup), for its
  // intensity; restarts in progress on the I/O threads, which the destructor waits for.
  std::unordered_map<std::string, std::vector<std::chrono::steady_clock::time_point>> give_ups_;
  std::size_t escalating_ = 0;  // under groups_mutex_
  bool closing_ = false;        // under groups_mutex_: the destructor began
  std::condition_variable escalated_;
  // Starts the actor that tells group_gave_up when `supervisor` ends with a failure.
  Result<rt::ActorAddress> watch_group(const rt::SupervisorRef& supervisor);
  std::mutex quota_mutex_;
  std::unordered_map<std::string, std::shared_ptr<host::GuestQuotaGate>> quota_gates_;
  // "ns/name" -> the "ns/name"s its spec's `links` names, for every started component; taken
  // back when it stops. Read by every instance's (re)start (declared_peers).
  mutable std::mutex links_mutex_;
  std::unordered_map<std::string, std::vector<std::string>> declared_links_;
  void declare_links(const ComponentSpec& spec);
  void forget_links(std::string_view ns, std::string_view name);
  // Registers the member's permissions and builds its children; `ids` receives their ids.
  Result<std::vector<rt::ChildSpec>> children_of(const ComponentSpec& spec,
                                                 std::vector<ComponentId>& ids);
  // Starts `spec`'s instances as new children of a running group's supervisor (all or none).
  Result<std::vector<ComponentId>> rejoin_group(const rt::SupervisorRef& supervisor,
                                                const std::string& group,
                                                const ComponentSpec& spec);
};

}  // namespace capsule::component

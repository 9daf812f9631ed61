#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <capsule/cluster/host_directory.hpp>
#include <capsule/cluster/tls_files.hpp>
#include <capsule/component/component_runtime.hpp>
#include <capsule/component/remote_router.hpp>

namespace capsule::cluster {

struct BridgeConfig {
  std::string url = "nats://127.0.0.1:4222";
  std::string cluster = "default";  // hosts of one cluster share its subjects
  std::string host;                 // unique in the cluster; required
  // Credentials on a server that requires them (see cluster_auth.hpp); empty: none.
  std::string user;
  std::string password;
  TlsFiles tls;                     // TLS to the server (tls_files.hpp); not enabled: plain TCP
  std::vector<std::string> groups;  // host groups it belongs to, announced in its heartbeats
  std::chrono::milliseconds heartbeat_interval{1000};
  int missed_heartbeats = 3;  // silent for this many intervals: the host is dead
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{200};  // between reconnect attempts (unbounded count)
  // How much longer the responder's host keeps a forwarded request open than the requester's
  // timeout, so that the requester's own timer, not the responder's, decides a timeout.
  std::chrono::milliseconds responder_grace{1000};
  // true: every publish is written to the socket at once (a round trip of ~0.1 ms instead of
  // ~2 ms). false: cnats batches writes in its flusher thread (more messages/s, more latency).
  bool send_asap = true;
  // true: send() returns ok only once the target's host confirms the message is in the mailbox,
  // and the sender gets that host's refusal (mailbox full, not found) otherwise - one round trip
  // per send. false: ok once handed to the NATS client (faster; a remote refusal is only logged
  // and counted there).
  bool confirm_sends = true;
  std::chrono::milliseconds confirm_timeout{2000};
  // Threads that deliver inbound messages, shared by all subscriptions (cnats' global delivery
  // pool, per process): a host with 10,000 instances has 10,000 subscriptions but this many
  // delivery threads, not one each. Per-subscription order is kept. 0: one thread per
  // subscription (cnats' default). Inbound handlers never wait (a peer's message to a full `block`
  // mailbox is refused as full), so one slow component cannot stall the pool or the heartbeats in
  // it.
  int delivery_threads = 2;
  // true: component messages, replies and acknowledgements are handled on the connection's reader
  // thread as they are parsed, without the hand-off to a delivery thread (one thread wake-up less
  // per message on each host); heartbeats and topics stay on the delivery threads. Needs libnats'
  // reader hook (src/cluster/nats_bridge_reader.hpp); without it, or false, everything goes
  // through the delivery threads. Handlers never wait either way.
  bool deliver_on_reader = true;
};

struct BridgeStats {
  std::uint64_t sent = 0;      // send / request / publish / reply messages put on NATS
  std::uint64_t received = 0;  // messages taken from NATS
  std::uint64_t replies = 0;   // replies handed to this host's tracker (late ones included)
  std::uint64_t failed_by_host_loss = 0;  // pending requests failed because their host died
  std::uint64_t inbound_dropped = 0;      // inbound sends the local target could not take
  std::uint64_t malformed = 0;            // undecodable messages, ignored
  std::uint64_t reconnects = 0;           // to the NATS server, after a lost connection
  // Replies dropped before the tracker: the id is a pending local request's (not one this host
  // sent across), or the responder is not the request's target (a forged or misrouted reply).
  std::uint64_t unmatched_replies = 0;
  std::uint64_t mismatched_replies = 0;
  // Messages dropped because they claim an origin other than the host whose name they were
  // published under, or a sender component that host does not run.
  std::uint64_t forged = 0;
  // Hosts this one declared dead for missing heartbeats (never while it was itself cut off).
  std::uint64_t hosts_declared_dead = 0;
  // Publishes not sent to other hosts because the payload cannot fit in a NATS message (sends,
  // requests and replies that cannot fit are refused to their sender instead).
  std::uint64_t oversized = 0;
  // Unconfirmed sends that left in coalesced envelopes (`sent` counts the envelopes), and those
  // the NATS client refused to take (connection closed meanwhile; logged, like a lost send).
  std::uint64_t coalesced = 0;
  std::uint64_t coalesced_lost = 0;
  // Messages handled on the NATS connection's reader thread (BridgeConfig::deliver_on_reader).
  std::uint64_t handled_on_reader = 0;
  // Requests from other hosts answered on the reader thread itself: a lone request to an idle
  // component whose turn ran there, its reply published from there (no scheduler worker woken).
  std::uint64_t answered_on_reader = 0;
};

class NatsBridge;

// While alive, the bridge serves one ComponentRuntime; destroy it before the runtime.
class Attachment {
 public:
  Attachment() = default;
  explicit Attachment(std::shared_ptr<NatsBridge> bridge) : bridge_(std::move(bridge)) {}
  Attachment(Attachment&&) noexcept = default;
  Attachment& operator=(Attachment&&) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();

 private:
  std::shared_ptr<NatsBridge> bridge_;
};

// One host's link to the cluster: a NATS connection that carries messages for components on
// other hosts (RemoteRouter), delivers theirs to this host's runtime, and keeps the host list.
//
// Subjects (cluster `c`, see wire.hpp): capsule.c.c.<ns>.<name>.<inst> for each local instance,
// capsule.c.h.<host>.<boot>.reply for replies to this life of this host (boot: random per start),
// capsule.c.t.<topic> for publishes,
// capsule.c.hosts for heartbeats (which also list each host's components).
class NatsBridge final : public component::RemoteRouter,
                         public std::enable_shared_from_this<NatsBridge> {
 public:
  // Connects (kUnavailable if no server answers within connect_timeout). After that, lost
  // connections are retried forever; subscriptions come back by themselves.
  static Result<std::shared_ptr<NatsBridge>> connect(BridgeConfig config);
  ~NatsBridge() override;

  // Starts serving `runtime`: subscribes, heartbeats, delivers inbound messages into it.
  Result<Attachment> attach(component::ComponentRuntime& runtime);
  // How detach() leaves: kAnnounce says goodbye (other hosts fail their requests to this host at
  // once); kSilent just goes quiet, as a crashed or cut-off host would (they notice when its
  // heartbeats stop).
  enum class Farewell : std::uint8_t { kAnnounce, kSilent };
  // Stops heartbeats and inbound delivery. Idempotent; Attachment calls it.
  void detach(Farewell farewell = Farewell::kAnnounce);
  // Publishes this host's heartbeat (with its current components) now instead of at the next
  // tick: call it after starting components so other hosts can address them at once.
  Status announce();

  Status send(const ComponentId& from, const ComponentId& to, const Payload& payload) override;
  // A confirmed send whose acknowledgement is matched when it arrives (on this host's ack
  // inbox): any number in flight, no thread waiting for one.
  void send_later(const ComponentId& from, const ComponentId& to, const Payload& payload,
                  std::function<void(Status)> done) override;
  // Unconfirmed (confirm_sends false) to a host that takes coalesced envelopes: held with the
  // turn's other sends to that host and published as one envelope when the turn ends (or at 256
  // sends / 64 KiB); ok means held for the wire. Otherwise as send_later.
  void send_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                    std::function<void(Status)> done) override;
  void end_turn() override;
  // Unconfirmed sends (confirm_sends false) know their outcome at once.
  [[nodiscard]] bool sends_wait() const override;
  // Confirmed sends pipelined: the messages for each host leave back to back as one batch
  // message (several if they exceed the server's max_payload), acknowledged by one message with
  // an outcome per send. Each outcome is what send() would have returned for that message.
  void send_batch_later(const ComponentId& from, std::vector<OutgoingMessage> messages,
                        std::function<void(std::vector<Status>)> done) override;
  Status request(const ComponentId& from, const ComponentId& to, const Payload& payload,
                 CorrelationId correlation, std::chrono::milliseconds timeout) override;
  // A guest's request to a host that takes them coalesced (kWireCoalescedRequests): held with the
  // turn's other messages for that host and published in one envelope when the turn ends (or at
  // 256 messages / 64 KiB). Otherwise as request().
  Status request_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                         CorrelationId correlation, std::chrono::milliseconds timeout) override;
  void publish(const ComponentId& from, std::string_view topic, const Payload& payload) override;
  // On-demand components (virtual actors): a name is served by one host, the rendezvous choice
  // (name_placement.hpp) among the live hosts that load its component, this one included. The
  // other hosts send its messages there; the owner activates it.
  void on_demand_loaded(const std::string& key, bool loaded) override;
  [[nodiscard]] bool serves_here(const ComponentId& id) const override;
  // The host that serves name `id` of an on-demand component in this host's view now; empty if
  // no live host loads its component.
  [[nodiscard]] std::string name_owner(const ComponentId& id) const;

  [[nodiscard]] const std::string& host() const;
  // This life's random id (16 hex digits), part of every reply subject of this host.
  [[nodiscard]] const std::string& boot() const;
  [[nodiscard]] std::vector<HostInfo> hosts() const;  // the other live hosts
  // The other live hosts with the instances each announced.
  [[nodiscard]] std::vector<HostRecord> host_records() const;
  // Called when the cluster changes: a host joins or leaves, or changes its components or groups.
  // It runs on a NATS delivery thread or the heartbeat thread, so it must return quickly (hand
  // the work to a thread of its own). Set it before attach(); no call happens after detach().
  void on_cluster_change(std::function<void()> listener);
  [[nodiscard]] BridgeStats stats() const;
  [[nodiscard]] bool connected() const;
  // Whether component messages, replies and acks are handled on the connection's reader thread
  // (BridgeConfig::deliver_on_reader and a libnats that has the hook).
  [[nodiscard]] bool delivers_on_reader() const;

  struct Impl;
  explicit NatsBridge(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace capsule::cluster

#pragma once
// NatsBridge's state, shared by the files that implement it: nats_bridge.cpp (the connection,
// attach and detach, stats), nats_bridge_outbound.cpp (what this host puts on the wire),
// nats_bridge_inbound.cpp (what it takes off the wire) and nats_bridge_membership.cpp
// (heartbeats, the host directory, deaths, on-demand names).
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include <capsule/cluster/nats_bridge.hpp>

#include "boot_id.hpp"
#include "confirmations.hpp"
#include "nats_handles.hpp"
#include "send_coalescer.hpp"

namespace capsule::cluster {

using Clock = std::chrono::steady_clock;

// Room under the server's max_payload for the envelope around a payload (ids, topic, codec,
// correlation, boot id): ids and topics are far smaller than this.
inline constexpr std::size_t kEnvelopeRoom = 4096;

// When held unconfirmed sends for one host leave without waiting for the end of the turn: enough
// to amortise a NATS message over many sends, small enough that the other host starts on the
// first ones while the sender is still making the next.
inline constexpr std::size_t kCoalesceSends = 256;
inline constexpr std::size_t kCoalesceBytes = std::size_t{64} * 1024;

inline std::span<const std::uint8_t> data_of(natsMsg* m) {
  return {reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
          static_cast<std::size_t>(natsMsg_GetDataLength(m))};
}

// A request this host sent to another host, kept so that the loss of that host can end it now.
struct Outbound {
  std::string host;
  ComponentId target;
  Clock::time_point deadline;
};

struct NatsBridge::Impl {
  explicit Impl(BridgeConfig c)
      : config(std::move(c)),
        subjects{config.cluster},
        directory(config.heartbeat_interval * config.missed_heartbeats),
        // Starts at the wall clock so that a restarted host's heartbeats are newer than the
        // ones its previous incarnation sent.
        sequence(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count())) {}

  // Closes the connection and waits for cnats' closed callback: callbacks of one connection run
  // in order on one library thread, so after it none of them can touch this object any more.
  ~Impl() {
    if (!connection) return;
    natsConnection_Close(connection.get());
    std::unique_lock lock(closed_mutex);
    closed_changed.wait_for(lock, std::chrono::seconds(5), [&] { return closed; });
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  BridgeConfig config;
  Subjects subjects;
  nats::Connection connection;
  std::mutex closed_mutex;
  std::condition_variable closed_changed;
  bool closed = false;
  // When the connection last came back (steady clock ns; 0: never lost). A host is only trusted
  // as a destination once heard from after that: its heartbeat proves its subscriptions are
  // back on the server, so a message sent to it is not dropped for want of a subscriber.
  std::atomic<std::int64_t> reconnected_at{0};
  Clock::time_point last_check{};  // the ticker's last check_deaths (ticker thread only)
  HostDirectory directory;
  std::atomic<std::uint64_t> sequence;
  std::weak_ptr<NatsBridge> self;
  std::atomic<std::uint64_t> sent{0}, received{0}, replies{0}, failed_by_host_loss{0},
      inbound_dropped{0}, malformed{0}, unmatched_replies{0}, mismatched_replies{0}, forged{0},
      hosts_declared_dead{0}, oversized{0}, coalesced{0}, coalesced_lost{0}, handled_on_reader{0},
      answered_on_reader{0};
  bool reader_hooked = false;  // on_read installed on the connection (set once, in connect)
  const std::string boot = random_boot_id();
  // Acks of this host life's confirmed sends: `<ack_prefix><number>`, one subscription.
  const std::string ack_prefix = "_INBOX.capsule." + boot + ".";
  PendingConfirmations confirmations;
  SendCoalescer coalescer{kCoalesceSends, kCoalesceBytes,
                          [this](const std::string& host, std::vector<WireMessage> sends) {
                            publish_coalesced(host, std::move(sends));
                          }};

  // The runtime inbound messages go to; null when detached. Callbacks hold it shared.
  mutable std::shared_mutex runtime_mutex;
  component::ComponentRuntime* runtime = nullptr;

  std::mutex subs_mutex;
  std::vector<nats::Subscription> fixed_subs;  // replies, topics, hosts
  // Subscription delivery threads that have not finished yet (see on_complete): cnats runs a
  // callback on a detached thread, so this object may only go away once the count is zero.
  std::mutex live_mutex;
  std::condition_variable live_changed;
  int live_threads = 0;

  mutable std::mutex pending_mutex;
  std::unordered_map<CorrelationId, Outbound> pending;

  std::function<void()> change_listener;  // set before attach, read by callbacks
  std::atomic<std::uint64_t> notified_generation{0};
  void notify_if_changed();

  // -- on-demand names (virtual actors) ------------------------------------------------------
  mutable std::mutex on_demand_mutex;
  std::vector<std::string> on_demand_here;  // "ns/name" this host loads
  [[nodiscard]] bool loads_here(const std::string& key) const {
    std::lock_guard lock(on_demand_mutex);
    return std::find(on_demand_here.begin(), on_demand_here.end(), key) != on_demand_here.end();
  }
  std::optional<HostInfo> name_owner(const ComponentId& id, bool& here) const;

  std::mutex announce_mutex;  // one heartbeat at a time, in sequence order
  std::mutex tick_mutex;
  std::condition_variable tick_wake;
  bool stopping = false;
  bool announce_soon = false;
  std::thread ticker;

  // -- NATS plumbing (nats_bridge.cpp, nats_bridge_outbound.cpp) -------------------------
  // The cluster's wire limit is the NATS server's max_payload (1 MiB by default): a payload that
  // cannot fit is refused by size, before it is copied into an envelope, naming both numbers.
  // `what` (naming the message) is only called to say why it does not fit: this runs per send.
  template <typename What>
  [[nodiscard]] Status wire_fits(std::size_t payload, const What& what) const {
    const std::int64_t max = natsConnection_GetMaxPayload(connection.get());
    if (max <= 0 || payload + kEnvelopeRoom <= static_cast<std::size_t>(max)) return ok();
    return make_error(ErrorCode::kInvalidArgument,
                      what() + ": a payload of " + std::to_string(payload) +
                          " bytes does not fit in a cluster message (the NATS server at " +
                          config.url + " carries " + std::to_string(max) +
                          " bytes per message, max_payload, less " + std::to_string(kEnvelopeRoom) +
                          " for the envelope): raise max_payload in its configuration");
  }

  // A send on the wire: the host that runs `to`, its subject there, the encoded envelope.
  struct PreparedSend {
    std::string host;
    std::string subject;
    std::vector<std::uint8_t> bytes;
  };
  Result<PreparedSend> prepare_send(const ComponentId& from, const ComponentId& to,
                                    const Payload& payload) const;
  Status publish_raw(const std::string& subject, const std::vector<std::uint8_t>& bytes);
  Result<nats::Subscription> subscribe(const std::string& subject, natsMsgHandler handler,
                                       const char* queue_group = nullptr);
  static void on_closed(natsConnection* /*nc*/, void* closure);
  static void on_reconnected(natsConnection* /*nc*/, void* closure);
  Result<std::string> destination(const ComponentId& to) const;
  Result<HostInfo> destination_host(const ComponentId& to) const;
  void publish_coalesced(const std::string& host, std::vector<WireMessage> sends);
  Result<WireMessage> pending_request(const ComponentId& from, const ComponentId& to,
                                      Payload payload, CorrelationId correlation,
                                      std::chrono::milliseconds timeout, const std::string& host);
  void fail_unsent_requests(const std::vector<WireMessage>& entries, const std::string& host);
  void deliver_coalesced(const char* subject, WireMessage& envelope,
                         component::ComponentRuntime& rt);
  static void on_complete(void* closure);
  void wait_for_delivery_threads();

  // -- inbound (nats_bridge_inbound.cpp) ----------------------------------------------------
  // The reader-thread hook (BridgeConfig::deliver_on_reader): takes component messages, replies
  // and acks on to on_wire / on_ack at once, leaves heartbeats and topics to the delivery pool.
  static void on_read(natsConnection* nc, natsMsg** message, void* closure);
  static void on_wire(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                      void* closure);
  static void on_ack(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                     void* closure);
  static void on_heartbeat(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                           void* closure);
  bool authentic(const char* subject, const WireMessage& m, component::ComponentRuntime& rt) const;
  bool sender_known(const WireMessage& m, component::ComponentRuntime& rt) const;
  void handle(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to);
  Status deliver_one(const WireMessage& m, const ComponentId& target, Payload payload,
                     component::ComponentRuntime& rt, bool confirmed);
  void deliver_batch(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to);
  void deliver_send(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to);
  // `alone`: the request came in a NATS message of its own (not in a coalesced envelope).
  void deliver_request(WireMessage& m, component::ComponentRuntime& rt, bool alone);
  // Whether this thread is this bridge's reader, inside on_read (where nothing may wait).
  [[nodiscard]] bool on_reader() const;
  void reply(const std::string& host, const std::string& host_boot, CorrelationId correlation,
             const ComponentId& responder, Result<Payload> outcome);

  // -- membership (nats_bridge_membership.cpp) ----------------------------------------------
  void fail_pending_of(const std::string& host, const std::string& reason);
  std::vector<ComponentId> local_components() const;
  Status announce(bool leaving);
  void log_membership(wasm::LogLevel level, const std::string& text);
  [[nodiscard]] bool can_judge_deaths(Clock::time_point now) const;
  void check_deaths();
  void run_ticker();
};

}  // namespace capsule::cluster

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <utility>

#include <capsule/cluster/name_placement.hpp>
#include <capsule/cluster/nats_bridge.hpp>

#include "boot_id.hpp"
#include "confirmations.hpp"
#include "nats_handles.hpp"
#include "send_coalescer.hpp"

namespace capsule::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// Room under the server's max_payload for the envelope around a payload (ids, topic, codec,
// correlation, boot id): ids and topics are far smaller than this.
constexpr std::size_t kEnvelopeRoom = 4096;

// When held unconfirmed sends for one host leave without waiting for the end of the turn: enough
// to amortise a NATS message over many sends, small enough that the other host starts on the
// first ones while the sender is still making the next.
constexpr std::size_t kCoalesceSends = 256;
constexpr std::size_t kCoalesceBytes = std::size_t{64} * 1024;

std::span<const std::uint8_t> data_of(natsMsg* m) {
  return {reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(m)),
          static_cast<std::size_t>(natsMsg_GetDataLength(m))};
}

// A request this host sent to another host, kept so that the loss of that host can end it now.
struct Outbound {
  std::string host;
  ComponentId target;
  Clock::time_point deadline;
};

}  // namespace

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
      hosts_declared_dead{0}, oversized{0}, coalesced{0}, coalesced_lost{0};
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
  void notify_if_changed() {
    const auto generation = directory.generation();
    if (notified_generation.exchange(generation) == generation) return;
    if (change_listener) change_listener();
    // Names of on-demand components may have moved: the runtime retires the ones it lost.
    std::shared_lock lock(runtime_mutex);
    if (runtime != nullptr) runtime->placement_changed();
  }

  // -- on-demand names (virtual actors) ------------------------------------------------------
  mutable std::mutex on_demand_mutex;
  std::vector<std::string> on_demand_here;  // "ns/name" this host loads
  [[nodiscard]] bool loads_here(const std::string& key) const {
    std::lock_guard lock(on_demand_mutex);
    return std::find(on_demand_here.begin(), on_demand_here.end(), key) != on_demand_here.end();
  }
  // The owner of name `id` in this host's view: `here` set when it is this host, else the live
  // host, if any loads the component.
  std::optional<HostInfo> name_owner(const ComponentId& id, bool& here) const {
    const std::string key = id.ns + "/" + id.name;
    std::vector<HostInfo> loading = directory.loading(key);
    std::vector<std::string> candidates;
    candidates.reserve(loading.size() + 1);
    for (const auto& h : loading) candidates.push_back(h.name);
    if (loads_here(key)) candidates.push_back(config.host);
    const std::string owner = choose_owner(candidates, id);
    here = !owner.empty() && owner == config.host;
    for (auto& h : loading) {
      if (h.name == owner) return std::move(h);
    }
    return std::nullopt;
  }

  std::mutex announce_mutex;  // one heartbeat at a time, in sequence order
  std::mutex tick_mutex;
  std::condition_variable tick_wake;
  bool stopping = false;
  bool announce_soon = false;
  std::thread ticker;

  // -- NATS plumbing -----------------------------------------------------------------------
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
                                    const Payload& payload) const {
    auto host = destination(to);
    if (!host) return std::move(host).error();
    if (Status s = wire_fits(payload.bytes.size(), [&] { return "send to " + to.to_string(); });
        !s) {
      return std::move(s).error();
    }
    WireMessage m;
    m.kind = WireMessage::Kind::kSend;
    m.origin_host = config.host;
    m.sender = from;
    m.target = to;
    m.payload = payload;
    std::string subject = subjects.component(to, config.host, *host);
    return PreparedSend{std::move(*host), std::move(subject), encode(m)};
  }

  Status publish_raw(const std::string& subject, const std::vector<std::uint8_t>& bytes) {
    Status s = nats::check(natsConnection_Publish(connection.get(), subject.c_str(), bytes.data(),
                                                  static_cast<int>(bytes.size())),
                           "publish to " + subject);
    if (s) sent.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  // With a queue group, NATS hands each message to one member only: should two hosts ever run
  // an instance of the same id, a message is still delivered once, not once per host.
  Result<nats::Subscription> subscribe(const std::string& subject, natsMsgHandler handler,
                                       const char* queue_group = nullptr) {
    natsSubscription* raw = nullptr;
    const natsStatus status =
        queue_group != nullptr
            ? natsConnection_QueueSubscribe(&raw, connection.get(), subject.c_str(), queue_group,
                                            handler, this)
            : natsConnection_Subscribe(&raw, connection.get(), subject.c_str(), handler, this);
    if (Status s = nats::check(status, "subscribe to " + subject); !s) {
      return std::move(s).error();
    }
    nats::Subscription sub(raw);
    std::lock_guard lock(live_mutex);
    if (natsSubscription_SetOnCompleteCB(raw, &Impl::on_complete, this) == NATS_OK) {
      ++live_threads;
    }
    return sub;
  }

  static void on_closed(natsConnection* /*nc*/, void* closure) {
    auto* impl = static_cast<Impl*>(closure);
    std::lock_guard lock(impl->closed_mutex);
    impl->closed = true;
    impl->closed_changed.notify_all();
  }

  static void on_reconnected(natsConnection* /*nc*/, void* closure) {
    auto* impl = static_cast<Impl*>(closure);
    impl->reconnected_at.store(Clock::now().time_since_epoch().count());
    std::lock_guard lock(impl->tick_mutex);
    impl->announce_soon = true;  // tell the others at once that this host is back
    impl->tick_wake.notify_all();
  }

  // The host that runs `to`, if a message sent to it now would be received.
  Result<std::string> destination(const ComponentId& to) const {
    auto host = destination_host(to);
    if (!host) return std::move(host).error();
    return std::move(host->name);
  }
  Result<HostInfo> destination_host(const ComponentId& to) const {
    auto owner = directory.owner_of(to);
    bool here = false;
    if (!owner) owner = name_owner(to, here);  // a name of an on-demand component
    if (here) {
      // The runtime found another owner a moment ago: the view changed in between.
      return make_error(ErrorCode::kUnavailable,
                        "the owner of " + to.to_string() +
                            " changed while the message was being sent (membership changed): "
                            "try again");
    }
    if (!owner) {
      return make_error(ErrorCode::kNotFound, "no component " + to.to_string() +
                                                  " on this host or any host of cluster " +
                                                  config.cluster);
    }
    if (natsConnection_Status(connection.get()) != NATS_CONN_STATUS_CONNECTED) {
      return make_error(ErrorCode::kUnavailable, "cannot reach " + to.to_string() + " on host " +
                                                     owner->name +
                                                     ": the NATS connection is down, reconnecting");
    }
    if (owner->last_seen.time_since_epoch().count() < reconnected_at.load()) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot reach " + to.to_string() + ": host " + owner->name +
                            " not heard from since this host reconnected to NATS");
    }
    return std::move(*owner);
  }

  // Held unconfirmed sends for `host`, in order: one envelope, or several when they exceed the
  // server's max_payload together (each fits alone: wire_fits checked it when it was held).
  void publish_coalesced(const std::string& host, std::vector<WireMessage> sends) {
    const std::int64_t max_payload = natsConnection_GetMaxPayload(connection.get());
    const std::size_t budget = max_payload > static_cast<std::int64_t>(kEnvelopeRoom)
                                   ? static_cast<std::size_t>(max_payload) - kEnvelopeRoom
                                   : SIZE_MAX;
    const std::string subject = subjects.coalesced(config.host, host);
    WireMessage envelope;
    envelope.kind = WireMessage::Kind::kCoalesced;
    envelope.origin_host = config.host;
    std::size_t bytes = 0;
    const auto publish = [&] {
      if (envelope.entries.empty()) return;
      const std::size_t n = envelope.entries.size();
      if (publish_raw(subject, encode(envelope))) {
        coalesced.fetch_add(n, std::memory_order_relaxed);
      } else {
        coalesced_lost.fetch_add(n, std::memory_order_relaxed);
      }
      envelope.entries.clear();
      bytes = 0;
    };
    for (auto& send : sends) {
      const std::size_t size = send.payload.bytes.size() + 128;
      if (bytes + size > budget || envelope.entries.size() == kMaxCoalesced) publish();
      bytes += size;
      envelope.entries.push_back(std::move(send));
    }
    publish();
  }

  // Each send of a coalesced envelope is checked and delivered as if it had come alone: its
  // sender against the host the envelope was published under, then the sender's grants and the
  // target's mailbox (send_from_peer). Refusals are counted and logged one by one.
  void deliver_coalesced(const char* subject, WireMessage& envelope,
                         component::ComponentRuntime& rt) {
    if (subject == nullptr || !subjects.published_by(subject, envelope.origin_host)) {
      forged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    for (auto& send : envelope.entries) {
      if (!authentic(subject, send, rt)) {
        forged.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      static_cast<void>(deliver_one(send, send.target, std::move(send.payload), rt, false));
    }
  }

  static void on_complete(void* closure) {
    auto* impl = static_cast<Impl*>(closure);
    std::lock_guard lock(impl->live_mutex);
    --impl->live_threads;
    impl->live_changed.notify_all();  // under the lock: after it, this thread never touches impl
  }

  void wait_for_delivery_threads() {
    std::unique_lock lock(live_mutex);
    live_changed.wait_for(lock, std::chrono::seconds(10), [&] { return live_threads <= 0; });
  }

  // -- inbound -------------------------------------------------------------------------------
  static void on_wire(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                      void* closure) {
    const nats::Message message(raw);
    auto* impl = static_cast<Impl*>(closure);
    impl->received.fetch_add(1, std::memory_order_relaxed);
    auto decoded = decode_message(data_of(raw));
    if (!decoded) {
      impl->malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const char* reply_to = natsMsg_GetReply(raw);
    std::shared_lock lock(impl->runtime_mutex);
    if (impl->runtime == nullptr) return;
    if (decoded->kind == WireMessage::Kind::kCoalesced) {
      return impl->deliver_coalesced(natsMsg_GetSubject(raw), *decoded, *impl->runtime);
    }
    if (!impl->authentic(natsMsg_GetSubject(raw), *decoded, *impl->runtime)) {
      impl->forged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    impl->handle(*decoded, *impl->runtime, reply_to != nullptr ? reply_to : "");
  }

  // The acknowledgement of a confirmed send (send_later): the other host's answer, or the
  // server's "no responders" when nothing is subscribed for the target.
  static void on_ack(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                     void* closure) {
    const nats::Message message(raw);
    auto* impl = static_cast<Impl*>(closure);
    const std::string_view subject = natsMsg_GetSubject(raw);
    std::uint64_t id = 0;
    const std::string_view number =
        subject.substr(std::min(subject.size(), impl->ack_prefix.size()));
    if (std::from_chars(number.data(), number.data() + number.size(), id).ec != std::errc{}) return;
    if (natsMsg_IsNoResponders(raw)) {
      impl->confirmations.fail(id, make_error(ErrorCode::kUnavailable,
                                              "cannot reach the target's host: nothing is "
                                              "subscribed for it any more"));
      return;
    }
    auto ack = decode_message(data_of(raw));
    if (!ack) {
      impl->malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // A batch's ack has one outcome per message; a single send's has its error or nothing.
    std::vector<Status> outcomes;
    if (ack->outcomes.empty()) {
      outcomes.push_back(ack->error ? Status(std::move(*ack->error)) : ok());
    } else {
      outcomes.reserve(ack->outcomes.size());
      for (auto& o : ack->outcomes) outcomes.push_back(o ? Status(std::move(*o)) : ok());
    }
    if (!impl->confirmations.acknowledge(id, ack->origin_host, std::move(outcomes))) {
      impl->forged.fetch_add(1, std::memory_order_relaxed);  // not from the host it went to
    }
  }

  static void on_heartbeat(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                           void* closure) {
    const nats::Message message(raw);
    auto* impl = static_cast<Impl*>(closure);
    auto heartbeat = decode_heartbeat(data_of(raw));
    if (!heartbeat) {
      impl->malformed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (heartbeat->host == impl->config.host) return;
    // A heartbeat speaks for the host whose name it was published under, and only for it.
    if (!impl->subjects.published_by(natsMsg_GetSubject(raw), heartbeat->host)) {
      impl->forged.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const bool joined = impl->directory.observe(*heartbeat, Clock::now());
    if (heartbeat->leaving) {
      impl->log_membership(wasm::LogLevel::kInfo,
                           "cluster: host " + heartbeat->host + " left (goodbye)");
      impl->fail_pending_of(heartbeat->host, "host " + heartbeat->host + " left the cluster");
    } else if (joined) {
      impl->log_membership(wasm::LogLevel::kInfo, "cluster: host " + heartbeat->host + " joined");
      // A newcomer learns this host's components now rather than at the next tick.
      std::lock_guard lock(impl->tick_mutex);
      impl->announce_soon = true;
      impl->tick_wake.notify_all();
    }
    impl->notify_if_changed();
  }

  // The host a message names as its origin is the one it was published under (which the
  // server's permissions tie to that host's credentials); its sender is that host's own code, a
  // component that host announced it runs, or one no host announced yet (a component started a
  // moment ago: its host's heartbeat may arrive after its first message). A sender another host,
  // or this one, runs is refused. A reply is checked against its request in handle() (kReply):
  // it must come from the host the request went to and name the request's target.
  bool authentic(const char* subject, const WireMessage& m, component::ComponentRuntime& rt) const {
    if (subject == nullptr || !subjects.published_by(subject, m.origin_host)) return false;
    if (m.kind == WireMessage::Kind::kReply) return true;  // checked with its request: kReply
    if (m.sender == component::ComponentRuntime::privileged_caller()) return true;
    if (directory.runs(m.origin_host, m.sender)) return true;
    // A name of an on-demand component: from a host that loads it (activations are not
    // announced one by one). An origin not heard from yet is let through, as below.
    const auto loading = directory.loading(m.sender.ns + "/" + m.sender.name);
    if (!loading.empty() || rt.loads_on_demand(m.sender.ns, m.sender.name)) {
      const auto known = directory.hosts();
      const auto named = [&](const HostInfo& h) { return h.name == m.origin_host; };
      return std::any_of(loading.begin(), loading.end(), named) ||
             std::none_of(known.begin(), known.end(), named);
    }
    // Not announced by its origin: only an id that runs nowhere else, this host included.
    return !directory.locate(m.sender) && !rt.registry().lookup(m.sender);
  }

  void handle(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to) {
    switch (m.kind) {
      case WireMessage::Kind::kSend:
        deliver_send(m, rt, reply_to);
        break;
      case WireMessage::Kind::kSendBatch:
        deliver_batch(m, rt, reply_to);
        break;
      case WireMessage::Kind::kRequest:
        deliver_request(m, rt);
        break;
      case WireMessage::Kind::kReply: {
        {
          // Only a reply from the request's own target completes it: another responder (a
          // forgery, a misrouted reply) is dropped and the request keeps waiting. An id this
          // host never sent across, but that is pending in the tracker, is a local request's:
          // dropped too. Any other id belongs to a request that ended: the tracker counts it
          // as late.
          std::lock_guard lock(pending_mutex);
          auto it = pending.find(m.correlation);
          if (it == pending.end()) {
            if (rt.request_pending(m.correlation)) {
              unmatched_replies.fetch_add(1, std::memory_order_relaxed);
              break;
            }
          } else if (it->second.host != m.origin_host) {
            forged.fetch_add(1, std::memory_order_relaxed);  // not from the host it went to
            break;
          } else if (!(it->second.target == m.target)) {
            mismatched_replies.fetch_add(1, std::memory_order_relaxed);
            break;
          } else {
            pending.erase(it);
          }
        }
        replies.fetch_add(1, std::memory_order_relaxed);
        // The tracker decides: a reply for an ended request is dropped and counted as late.
        if (m.error) {
          rt.complete_request(m.correlation, m.target, std::move(*m.error));
        } else {
          rt.complete_request(m.correlation, m.target,
                              std::optional<Payload>(std::move(m.payload)));
        }
        break;
      }
      case WireMessage::Kind::kPublish:
        static_cast<void>(rt.publish_from_peer(m.sender, m.topic, m.payload));
        break;
      case WireMessage::Kind::kCoalesced:  // delivered by deliver_coalesced, before this
        break;
    }
  }

  // One inbound send into its target's mailbox, or the reason it is not there (counted; logged
  // when nobody waits for a confirmation, `confirmed` false).
  Status deliver_one(const WireMessage& m, const ComponentId& target, Payload payload,
                     component::ComponentRuntime& rt, bool confirmed) {
    // Only local targets: forwarding on from here could bounce a message between hosts.
    Status s = rt.registry().lookup(target) || rt.loads_on_demand(target.ns, target.name)
                   ? rt.send_from_peer(m.sender, target, std::move(payload))
                   : Status(make_error(ErrorCode::kNotFound, "no component " + target.to_string() +
                                                                 " on host " + config.host));
    if (!s) inbound_dropped.fetch_add(1, std::memory_order_relaxed);
    // A confirmed send's refusal goes back to its sender; only an unconfirmed one is lost here,
    // and says so.
    if (!s && !confirmed) {
      rt.log(component::ComponentRuntime::privileged_caller(), wasm::LogLevel::kWarn,
             "cluster: message from " + m.sender.to_string() + " (host " + m.origin_host +
                 ") dropped: " + s.error().describe(),
             {});
    }
    return s;
  }

  // A batch from one sender: each message in order, as deliver_send would deliver it alone, and
  // one acknowledgement with every outcome.
  void deliver_batch(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to) {
    WireMessage ack;
    ack.kind = WireMessage::Kind::kReply;
    ack.origin_host = config.host;
    ack.outcomes.reserve(m.batch.size());
    for (auto& e : m.batch) {
      Status s = deliver_one(m, e.to, std::move(e.payload), rt, !reply_to.empty());
      ack.outcomes.push_back(s ? std::nullopt : std::optional<Error>(std::move(s).error()));
    }
    if (!reply_to.empty()) static_cast<void>(publish_raw(std::string(reply_to), encode(ack)));
  }

  // `reply_to` set: the sender waits for a confirmation that the message is in the mailbox (or
  // for the reason it is not), so an ok send is never lost for want of room on this side.
  void deliver_send(WireMessage& m, component::ComponentRuntime& rt, std::string_view reply_to) {
    const Status s = deliver_one(m, m.target, std::move(m.payload), rt, !reply_to.empty());
    if (!reply_to.empty()) {
      WireMessage ack;
      ack.kind = WireMessage::Kind::kReply;
      ack.origin_host = config.host;
      ack.target = m.target;
      if (!s) ack.error = s.error();
      static_cast<void>(publish_raw(std::string(reply_to), encode(ack)));
    }
  }

  void deliver_request(WireMessage& m, component::ComponentRuntime& rt) {
    if (!rt.registry().lookup(m.target) && !rt.loads_on_demand(m.target.ns, m.target.name)) {
      reply(m.origin_host, m.origin_boot, m.correlation, m.target,
            make_error(ErrorCode::kNotFound,
                       "no component " + m.target.to_string() + " on host " + config.host));
      return;
    }
    // A local request on the requester's behalf; its outcome goes back to the requester's host.
    // Its timeout is longer than the requester's, so the requester's timer decides a timeout.
    const auto timeout = std::chrono::milliseconds(m.timeout_ms) + config.responder_grace;
    auto r = rt.request_from_peer(
        m.sender, m.target, std::move(m.payload), timeout,
        [weak = self, origin = m.origin_host, boot = m.origin_boot, correlation = m.correlation,
         target = m.target](CallbackResponse response) {
          auto bridge = weak.lock();
          if (!bridge) return;
          if (response.reply) {
            bridge->impl_->reply(origin, boot, correlation, target, std::move(*response.reply));
          } else {
            bridge->impl_->reply(origin, boot, correlation, target,
                                 response.error.value_or(
                                     Error{ErrorCode::kInternal, "request ended without outcome"}));
          }
        });
    if (!r) reply(m.origin_host, m.origin_boot, m.correlation, m.target, std::move(r).error());
  }

  void reply(const std::string& host, const std::string& host_boot, CorrelationId correlation,
             const ComponentId& responder, Result<Payload> outcome) {
    WireMessage m;
    m.kind = WireMessage::Kind::kReply;
    m.origin_host = config.host;
    m.target = responder;
    m.correlation = correlation;
    if (outcome) {
      if (Status s =
              wire_fits(outcome->bytes.size(), [&] { return "reply of " + responder.to_string(); });
          !s) {
        outcome = std::move(s).error();  // the requester learns why instead of timing out
      }
    }
    if (outcome) {
      m.payload = std::move(*outcome);
    } else {
      m.error = std::move(outcome).error();
    }
    // If this fails the requester's timeout ends the request: never an outcome lost silently.
    static_cast<void>(publish_raw(subjects.reply(host, host_boot, config.host), encode(m)));
  }

  // -- membership ----------------------------------------------------------------------------
  void fail_pending_of(const std::string& host, const std::string& reason) {
    confirmations.fail_host(host, reason);
    std::vector<std::pair<CorrelationId, ComponentId>> lost;
    {
      std::lock_guard lock(pending_mutex);
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.host == host) {
          lost.emplace_back(it->first, it->second.target);
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (lost.empty()) return;
    std::shared_lock lock(runtime_mutex);
    if (runtime == nullptr) return;
    for (auto& [correlation, target] : lost) {
      failed_by_host_loss.fetch_add(1, std::memory_order_relaxed);
      runtime->complete_request(
          correlation, target,
          make_error(ErrorCode::kUnavailable,
                     reason + ": request to " + target.to_string() + " cannot be answered"));
    }
  }

  // The runtime's instances: all reachable through this host's one inbox subscription.
  std::vector<ComponentId> local_components() const {
    std::vector<ComponentId> local;
    std::shared_lock lock(runtime_mutex);
    if (runtime == nullptr) return local;
    for (const auto& record : runtime->registry().records()) local.push_back(record.id);
    return local;
  }

  Status announce(bool leaving) {
    std::lock_guard lock(announce_mutex);
    Heartbeat h;
    h.host = config.host;
    h.sequence = sequence.fetch_add(1);
    h.interval_ms = static_cast<std::uint32_t>(config.heartbeat_interval.count());
    h.leaving = leaving;
    h.wire = kWireCoalesced;
    h.groups = config.groups;
    {
      std::lock_guard od(on_demand_mutex);
      h.on_demand = on_demand_here;
    }
    if (!leaving) h.components = local_components();
    return publish_raw(subjects.hosts(config.host), encode(h));
  }

  // Dead hosts are looked for four times per heartbeat interval, so a death is noticed at most
  // a quarter interval after the deadline rather than up to a whole one.
  void log_membership(wasm::LogLevel level, const std::string& text) {
    std::shared_lock lock(runtime_mutex);
    if (runtime != nullptr)
      runtime->log(component::ComponentRuntime::privileged_caller(), level, text, {});
  }

  // A host that cannot hear the others does not declare them dead: not while its own connection
  // is down, nor for one death timeout plus one reconnect wait after it came back (the others
  // reconnect on their own schedule, then need a heartbeat interval to be heard again). Otherwise a
  // host cut off from NATS would fail every pending request and adopt every failover component
  // while the others are alive.
  [[nodiscard]] bool can_judge_deaths(Clock::time_point now) const {
    if (natsConnection_Status(connection.get()) != NATS_CONN_STATUS_CONNECTED) return false;
    const Clock::time_point back{Clock::duration{reconnected_at.load()}};
    return now - back >=
           config.heartbeat_interval * config.missed_heartbeats + config.reconnect_wait;
  }

  void check_deaths() {
    const auto now = Clock::now();
    // The ticker runs every quarter interval; a gap of a whole interval means this process did
    // not run (SIGSTOP, a frozen VM): the others' silence is ours. Judge nobody until they had
    // the time to be heard again, as after a reconnect.
    if (last_check != Clock::time_point{} && now - last_check > config.heartbeat_interval) {
      reconnected_at.store(now.time_since_epoch().count());
      log_membership(
          wasm::LogLevel::kWarn,
          "cluster: this host did not run for " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - last_check).count()) +
              " ms (paused?): declaring nobody dead until the others are heard again");
    }
    last_check = now;
    const std::vector<std::string> dead =
        can_judge_deaths(now) ? directory.expire(now) : std::vector<std::string>{};
    hosts_declared_dead.fetch_add(dead.size(), std::memory_order_relaxed);
    for (const auto& host : dead) {
      log_membership(
          wasm::LogLevel::kWarn,
          "cluster: host " + host + " is dead (no heartbeat for " +
              std::to_string(config.heartbeat_interval.count() * config.missed_heartbeats) +
              " ms)");
      fail_pending_of(
          host, "host " + host + " left the cluster (no heartbeat for " +
                    std::to_string(config.heartbeat_interval.count() * config.missed_heartbeats) +
                    " ms)");
    }
    notify_if_changed();
    // Requests the requester's own timer has ended: nothing left to fail.
    std::lock_guard lock(pending_mutex);
    std::erase_if(pending, [&](const auto& entry) { return entry.second.deadline < now; });
  }

  void run_ticker() {
    const auto step =
        std::max<Clock::duration>(config.heartbeat_interval / 4, std::chrono::milliseconds(5));
    auto next_announce = Clock::now();
    std::unique_lock lock(tick_mutex);
    while (!stopping) {
      const bool announce_now = announce_soon || Clock::now() >= next_announce;
      announce_soon = false;
      lock.unlock();
      if (announce_now) {
        static_cast<void>(announce(false));
        next_announce = Clock::now() + config.heartbeat_interval;
      }
      check_deaths();
      confirmations.expire(Clock::now());
      lock.lock();
      tick_wake.wait_for(lock, std::min<Clock::duration>(step, next_announce - Clock::now()),
                         [&] { return stopping || announce_soon; });
    }
  }
};

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    if (bridge_) bridge_->detach();
    bridge_ = std::move(other.bridge_);
  }
  return *this;
}

Attachment::~Attachment() {
  if (bridge_) bridge_->detach();
}

NatsBridge::NatsBridge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::shared_ptr<NatsBridge>> NatsBridge::connect(BridgeConfig config) {
  if (!is_valid_id_segment(config.host)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster host name '" + config.host + "' must be [A-Za-z0-9._-]+");
  }
  if (config.heartbeat_interval.count() <= 0 || config.missed_heartbeats < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "heartbeat interval and missed heartbeats must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  const BridgeConfig& cfg = impl->config;
  auto options =
      nats::client_options(cfg.url, "capsule-" + cfg.host, cfg.connect_timeout, cfg.reconnect_wait,
                           cfg.send_asap, cfg.user, cfg.password, cfg.tls);
  if (!options) return std::move(options).error();
  natsOptions* raw_options = options->get();
  for (const auto& [status, what] : std::initializer_list<std::pair<natsStatus, const char*>>{
           // This host's own publishes never come back to it: local delivery is the runtime's.
           {natsOptions_SetNoEcho(raw_options, true), "no-echo"},
           {natsOptions_SetReconnectedCB(raw_options, &Impl::on_reconnected, impl.get()),
            "reconnected callback"},
           {natsOptions_SetClosedCB(raw_options, &Impl::on_closed, impl.get()), "closed callback"},
           {natsOptions_UseGlobalMessageDelivery(raw_options, cfg.delivery_threads > 0),
            "global message delivery"},
       }) {
    if (Status s = nats::check(status, std::string("nats option ") + what); !s) {
      return std::move(s).error();
    }
  }
  if (cfg.delivery_threads > 0) {
    // The pool is the library's, shared by every connection of the process; it only grows.
    if (Status s = nats::check(nats_SetMessageDeliveryPoolSize(cfg.delivery_threads),
                               "nats delivery pool size");
        !s) {
      return std::move(s).error();
    }
  }
  natsConnection* raw_connection = nullptr;
  if (Status s = nats::check(natsConnection_Connect(&raw_connection, raw_options),
                             "connecting to " + cfg.url);
      !s) {
    return std::move(s).error();
  }
  impl->connection.reset(raw_connection);
  auto bridge = std::make_shared<NatsBridge>(std::move(impl));
  bridge->impl_->self = bridge;
  return bridge;
}

NatsBridge::~NatsBridge() {
  detach();
  impl_->wait_for_delivery_threads();
}

Result<Attachment> NatsBridge::attach(component::ComponentRuntime& runtime) {
  {
    std::unique_lock lock(impl_->runtime_mutex);
    if (impl_->runtime != nullptr) {
      return make_error(ErrorCode::kAlreadyExists,
                        "cluster bridge of " + impl_->config.host + " already serves a runtime");
    }
    impl_->runtime = &runtime;
  }
  {
    std::lock_guard lock(impl_->subs_mutex);
    const auto& s = impl_->subjects;
    for (const auto& [subject, handler] :
         std::initializer_list<std::pair<std::string, natsMsgHandler>>{
             {s.host_inbox(impl_->config.host), &Impl::on_wire},
             {s.reply_inbox(impl_->config.host, impl_->boot), &Impl::on_wire},
             {impl_->ack_prefix + "*", &Impl::on_ack},
             {s.all_topics(), &Impl::on_wire},
             {s.all_hosts(), &Impl::on_heartbeat}}) {
      auto sub = impl_->subscribe(subject, handler);
      if (!sub) {
        impl_->fixed_subs.clear();
        std::unique_lock rt_lock(impl_->runtime_mutex);
        impl_->runtime = nullptr;
        return std::move(sub).error();
      }
      impl_->fixed_subs.push_back(std::move(*sub));
    }
  }
  {
    std::lock_guard lock(impl_->tick_mutex);
    impl_->stopping = false;
  }
  impl_->ticker = std::thread([impl = impl_.get()] { impl->run_ticker(); });
  return Attachment(shared_from_this());
}

void NatsBridge::detach(Farewell farewell) {
  {
    std::lock_guard lock(impl_->tick_mutex);
    impl_->stopping = true;
    impl_->tick_wake.notify_all();
  }
  if (!impl_->ticker.joinable()) return;
  impl_->ticker.join();
  impl_->coalescer.flush_all();  // held sends leave before the goodbye
  impl_->confirmations.fail_all("host " + impl_->config.host + " left the cluster");
  // Goodbye: the other hosts fail requests to this host's components now, not after a timeout.
  if (farewell == Farewell::kAnnounce && impl_->announce(true)) {
    static_cast<void>(natsConnection_FlushTimeout(impl_->connection.get(), 500));
  }
  std::vector<nats::Subscription> subs;
  {
    std::lock_guard lock(impl_->subs_mutex);
    subs = std::move(impl_->fixed_subs);
    impl_->fixed_subs.clear();
  }
  subs.clear();  // unsubscribes; running callbacks finish on their threads
  impl_->wait_for_delivery_threads();
  std::unique_lock lock(impl_->runtime_mutex);
  impl_->runtime = nullptr;
}

Status NatsBridge::announce() {
  return impl_->announce(false);
}

Status NatsBridge::send(const ComponentId& from, const ComponentId& to, const Payload& payload) {
  // Refused rather than buffered while the way to `to` is not known to work: a send that returns
  // ok has been handed to a connected client for a host whose subscriptions are in place.
  if (!impl_->config.confirm_sends) {
    auto prepared = impl_->prepare_send(from, to, payload);
    if (!prepared) return std::move(prepared).error();
    Status s = ok();
    impl_->coalescer.in_order(prepared->host,
                              [&] { s = impl_->publish_raw(prepared->subject, prepared->bytes); });
    return s;
  }
  // The confirmed send, waited for here (host code; a guest's call suspends instead).
  auto outcome = std::make_shared<std::promise<Status>>();
  auto confirmed = outcome->get_future();
  send_later(from, to, payload, [outcome](Status s) { outcome->set_value(std::move(s)); });
  return confirmed.get();
}

void NatsBridge::send_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                              std::function<void(Status)> done) {
  if (impl_->config.confirm_sends) return send_later(from, to, payload, std::move(done));
  auto host = impl_->destination_host(to);
  if (!host) return done(std::move(host).error());
  if (host->wire < kWireCoalesced) return done(send(from, to, payload));  // an older host
  if (Status s =
          impl_->wire_fits(payload.bytes.size(), [&] { return "send to " + to.to_string(); });
      !s) {
    return done(std::move(s));
  }
  WireMessage m;
  m.kind = WireMessage::Kind::kSend;
  m.sender = from;
  m.target = to;
  m.payload = std::move(payload);
  impl_->coalescer.hold(host->name, std::move(m));
  done(ok());
}

bool NatsBridge::sends_wait() const {
  return impl_->config.confirm_sends;
}

void NatsBridge::end_turn() {
  impl_->coalescer.flush_all();
}

void NatsBridge::send_later(const ComponentId& from, const ComponentId& to, const Payload& payload,
                            std::function<void(Status)> done) {
  if (!impl_->config.confirm_sends) return done(send(from, to, payload));
  auto prepared = impl_->prepare_send(from, to, payload);
  if (!prepared) return done(std::move(prepared).error());
  const auto& [host, subject, bytes] = *prepared;
  const std::uint64_t id = impl_->confirmations.add(
      host, to, Clock::now() + impl_->config.confirm_timeout, std::move(done));
  const std::string reply = impl_->ack_prefix + std::to_string(id);
  Status s = nats::check(
      natsConnection_PublishRequest(impl_->connection.get(), subject.c_str(), reply.c_str(),
                                    bytes.data(), static_cast<int>(bytes.size())),
      "send to " + to.to_string());
  if (!s) return impl_->confirmations.fail(id, s);
  impl_->sent.fetch_add(1, std::memory_order_relaxed);
}

namespace {

// The outcomes of one batch, gathered from its parts (one per destination host, or more when a
// host's share exceeds a NATS message) as they end, in any order and on any thread.
struct BatchGather {
  std::vector<Status> outcomes;
  std::atomic<std::size_t> left{0};
  std::function<void(std::vector<Status>)> done;

  void settle(std::size_t index, Status s) {
    outcomes[index] = std::move(s);
    settled(1);
  }
  void settled(std::size_t n) {
    if (left.fetch_sub(n, std::memory_order_acq_rel) == n) done(std::move(outcomes));
  }
};

// The messages of a batch for one host that go in one NATS message.
struct BatchPart {
  std::string host;
  std::vector<std::size_t> indices;  // in the batch
  std::vector<OutgoingMessage> messages;
  std::size_t bytes = 0;  // payloads and ids, against the server's max_payload
};

}  // namespace

void NatsBridge::send_batch_later(const ComponentId& from, std::vector<OutgoingMessage> messages,
                                  std::function<void(std::vector<Status>)> done) {
  if (messages.empty()) return done({});
  auto gather = std::make_shared<BatchGather>();
  gather->outcomes.resize(messages.size());
  gather->left = messages.size();
  gather->done = std::move(done);
  // Split by destination host, keeping the batch's order within each host (and so per target).
  const std::int64_t max_payload = natsConnection_GetMaxPayload(impl_->connection.get());
  const std::size_t budget = max_payload > static_cast<std::int64_t>(kEnvelopeRoom)
                                 ? static_cast<std::size_t>(max_payload) - kEnvelopeRoom
                                 : SIZE_MAX;
  std::vector<BatchPart> parts;
  std::vector<std::pair<std::size_t, Status>> refused;  // settled after every part is counted
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& m = messages[i];
    auto host = impl_->destination(m.to);
    if (!host) {
      refused.emplace_back(i, std::move(host).error());
      continue;
    }
    if (Status s =
            impl_->wire_fits(m.payload.bytes.size(), [&] { return "send to " + m.to.to_string(); });
        !s) {
      refused.emplace_back(i, std::move(s));
      continue;
    }
    const std::size_t size =
        m.payload.bytes.size() + m.to.ns.size() + m.to.name.size() + m.to.instance.size() + 32;
    // The host's latest part, unless this message would make it too big for one NATS message.
    auto part = std::find_if(parts.rbegin(), parts.rend(),
                             [&](const BatchPart& p) { return p.host == *host; });
    if (part == parts.rend() || part->bytes + size > budget) {
      parts.push_back(BatchPart{std::move(*host), {}, {}, 0});
      part = parts.rbegin();
    }
    part->indices.push_back(i);
    part->bytes += size;
    part->messages.push_back(std::move(m));
  }
  for (auto& [index, s] : refused) gather->settle(index, std::move(s));
  for (auto& part : parts) {
    WireMessage wire;
    wire.kind = WireMessage::Kind::kSendBatch;
    wire.origin_host = impl_->config.host;
    wire.sender = from;
    std::vector<ComponentId> targets;
    targets.reserve(part.messages.size());
    for (const auto& m : part.messages) targets.push_back(m.to);
    wire.batch = std::move(part.messages);
    const std::vector<std::uint8_t> bytes = encode(wire);
    const std::string subject = impl_->subjects.batch(impl_->config.host, part.host);
    if (!impl_->config.confirm_sends) {
      // As an unconfirmed send: ok once handed to the connected client.
      Status s = ok();
      impl_->coalescer.in_order(part.host, [&] { s = impl_->publish_raw(subject, bytes); });
      for (const std::size_t index : part.indices) gather->settle(index, s);
      continue;
    }
    const std::uint64_t id = impl_->confirmations.add_batch(
        part.host, std::move(targets), Clock::now() + impl_->config.confirm_timeout,
        [gather, indices = std::move(part.indices)](std::vector<Status> outcomes) {
          for (std::size_t k = 0; k < indices.size(); ++k) {
            gather->outcomes[indices[k]] = std::move(outcomes[k]);
          }
          gather->settled(indices.size());
        });
    const std::string reply = impl_->ack_prefix + std::to_string(id);
    Status s = nats::check(
        natsConnection_PublishRequest(impl_->connection.get(), subject.c_str(), reply.c_str(),
                                      bytes.data(), static_cast<int>(bytes.size())),
        "send batch to host " + part.host);
    if (!s) {
      impl_->confirmations.fail(id, s);
      continue;
    }
    impl_->sent.fetch_add(1, std::memory_order_relaxed);
  }
}

Status NatsBridge::request(const ComponentId& from, const ComponentId& to, const Payload& payload,
                           CorrelationId correlation, std::chrono::milliseconds timeout) {
  auto host = impl_->destination(to);
  if (!host) return std::move(host).error();
  if (Status s =
          impl_->wire_fits(payload.bytes.size(), [&] { return "request to " + to.to_string(); });
      !s) {
    return s;
  }
  WireMessage m;
  m.kind = WireMessage::Kind::kRequest;
  m.origin_host = impl_->config.host;
  m.origin_boot = impl_->boot;
  m.sender = from;
  m.target = to;
  m.payload = payload;
  m.correlation = correlation;
  m.timeout_ms = static_cast<std::uint32_t>(timeout.count());
  {
    std::lock_guard lock(impl_->pending_mutex);
    impl_->pending[correlation] = Outbound{*host, to, Clock::now() + timeout};
  }
  Status s = ok();
  impl_->coalescer.in_order(*host, [&] {
    s = impl_->publish_raw(impl_->subjects.component(to, impl_->config.host, *host), encode(m));
  });
  if (!s) {
    std::lock_guard lock(impl_->pending_mutex);
    impl_->pending.erase(correlation);
  }
  return s;
}

void NatsBridge::publish(const ComponentId& from, std::string_view topic, const Payload& payload) {
  // Local subscribers got it; other hosts cannot (publish is best effort across hosts).
  if (!impl_->wire_fits(payload.bytes.size(), [] { return std::string("publish"); })) {
    impl_->oversized.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  WireMessage m;
  m.kind = WireMessage::Kind::kPublish;
  m.origin_host = impl_->config.host;
  m.sender = from;
  m.topic = std::string(topic);
  m.payload = payload;
  static_cast<void>(
      impl_->publish_raw(impl_->subjects.topic(topic, impl_->config.host), encode(m)));
}

void NatsBridge::on_demand_loaded(const std::string& key, bool loaded) {
  {
    std::lock_guard lock(impl_->on_demand_mutex);
    auto& here = impl_->on_demand_here;
    const auto it = std::find(here.begin(), here.end(), key);
    if (loaded && it == here.end()) here.push_back(key);
    if (!loaded && it != here.end()) here.erase(it);
  }
  // The others learn it now rather than at the next tick.
  std::lock_guard lock(impl_->tick_mutex);
  impl_->announce_soon = true;
  impl_->tick_wake.notify_all();
}

bool NatsBridge::serves_here(const ComponentId& id) const {
  bool here = false;
  static_cast<void>(impl_->name_owner(id, here));
  return here;
}

std::string NatsBridge::name_owner(const ComponentId& id) const {
  bool here = false;
  auto owner = impl_->name_owner(id, here);
  if (here) return impl_->config.host;
  return owner ? owner->name : std::string{};
}

const std::string& NatsBridge::host() const {
  return impl_->config.host;
}

const std::string& NatsBridge::boot() const {
  return impl_->boot;
}

std::vector<HostInfo> NatsBridge::hosts() const {
  return impl_->directory.hosts();
}

std::vector<HostRecord> NatsBridge::host_records() const {
  return impl_->directory.records();
}

void NatsBridge::on_cluster_change(std::function<void()> listener) {
  impl_->change_listener = std::move(listener);
}

BridgeStats NatsBridge::stats() const {
  BridgeStats s;
  s.sent = impl_->sent.load();
  s.received = impl_->received.load();
  s.replies = impl_->replies.load();
  s.failed_by_host_loss = impl_->failed_by_host_loss.load();
  s.inbound_dropped = impl_->inbound_dropped.load();
  s.malformed = impl_->malformed.load();
  s.unmatched_replies = impl_->unmatched_replies.load();
  s.mismatched_replies = impl_->mismatched_replies.load();
  s.forged = impl_->forged.load();
  s.hosts_declared_dead = impl_->hosts_declared_dead.load();
  s.oversized = impl_->oversized.load();
  s.coalesced = impl_->coalesced.load();
  s.coalesced_lost = impl_->coalesced_lost.load();
  natsStatistics* raw = nullptr;
  if (natsStatistics_Create(&raw) == NATS_OK) {
    if (natsConnection_GetStats(impl_->connection.get(), raw) == NATS_OK) {
      static_cast<void>(
          natsStatistics_GetCounts(raw, nullptr, nullptr, nullptr, nullptr, &s.reconnects));
    }
    natsStatistics_Destroy(raw);
  }
  return s;
}

bool NatsBridge::connected() const {
  return natsConnection_Status(impl_->connection.get()) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace capsule::cluster

// NatsBridge, inbound: messages from other hosts, checked against their authenticated origin and
// delivered into the runtime; replies and acknowledgements matched to what this host sent.
#include <charconv>
#include <utility>

#include "nats_bridge_impl.hpp"

namespace capsule::cluster {

namespace {
// The bridge whose reader hook runs on this thread now (on_read), else null.
thread_local const NatsBridge::Impl* t_reading = nullptr;

// Marks this thread as `impl`'s reader for the scope.
class ReadingScope {
 public:
  explicit ReadingScope(const NatsBridge::Impl* impl) : previous_(t_reading) { t_reading = impl; }
  ~ReadingScope() { t_reading = previous_; }
  ReadingScope(const ReadingScope&) = delete;
  ReadingScope& operator=(const ReadingScope&) = delete;

 private:
  const NatsBridge::Impl* previous_;
};
}  // namespace

bool NatsBridge::Impl::on_reader() const {
  return t_reading == this;
}

// Each send or request of a coalesced envelope is checked and delivered as if it had come alone:
// its sender against the host the envelope was published under, then the sender's grants and
// the target's mailbox (send_from_peer, deliver_request). Refusals are counted and logged (a
// request's goes back to its requester) one by one.
void NatsBridge::Impl::deliver_coalesced(const char* subject, WireMessage& envelope,
                                         component::ComponentRuntime& rt) {
  if (subject == nullptr || !subjects.published_by(subject, envelope.origin_host)) {
    forged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (auto& send : envelope.entries) {
    // Each entry's origin is the envelope's, whose subject was checked above.
    if (!sender_known(send, rt)) {
      forged.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (send.kind == WireMessage::Kind::kRequest) {
      deliver_request(send, rt, false);
      continue;
    }
    static_cast<void>(deliver_one(send, send.target, std::move(send.payload), rt, false));
  }
}

// On the reader thread, as each message is parsed: what is addressed to this host's components,
// its replies and its acks are handled here, where a delivery thread would have been woken for
// each (nothing on these paths waits: mailboxes are offered with send_nowait, replies and acks
// complete trackers and publish). Heartbeats and topics go on to the pool as before: a change
// listener or a topic's many subscribers may take longer. Each subscription's messages take one
// path only, so each keeps its order.
void NatsBridge::Impl::on_read(natsConnection* nc, natsMsg** message, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  natsMsg* raw = *message;
  const std::string_view subject = natsMsg_GetSubject(raw);
  const bool ack = subject.starts_with(impl->ack_prefix);
  if (!ack) {
    const auto section = impl->subjects.section_of(subject);
    if (section != Subjects::Section::kComponents && section != Subjects::Section::kReply) return;
  }
  *message = nullptr;  // taken: on_wire / on_ack own it now
  impl->handled_on_reader.fetch_add(1, std::memory_order_relaxed);
  const ReadingScope reading(impl);
  if (!ack) return on_wire(nc, nullptr, raw, closure);  // holds the runtime while it delivers
  // detach() waits for the delivery threads, not for this one: holding the runtime makes it wait
  // for an ack being matched here, whose `done` may still resume a guest of that runtime.
  std::shared_lock lock(impl->runtime_mutex);
  if (impl->runtime == nullptr) return natsMsg_Destroy(raw);
  on_ack(nc, nullptr, raw, closure);
}

void NatsBridge::Impl::on_wire(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
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
void NatsBridge::Impl::on_ack(natsConnection* /*nc*/, natsSubscription* /*sub*/, natsMsg* raw,
                              void* closure) {
  const nats::Message message(raw);
  auto* impl = static_cast<Impl*>(closure);
  const std::string_view subject = natsMsg_GetSubject(raw);
  std::uint64_t id = 0;
  const std::string_view number = subject.substr(std::min(subject.size(), impl->ack_prefix.size()));
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

// The host a message names as its origin is the one it was published under (which the
// server's permissions tie to that host's credentials); its sender is that host's own code, a
// component that host announced it runs, or one no host announced yet (a component started a
// moment ago: its host's heartbeat may arrive after its first message). A sender another host,
// or this one, runs is refused. A reply is checked against its request in handle() (kReply):
// it must come from the host the request went to and name the request's target.
bool NatsBridge::Impl::authentic(const char* subject, const WireMessage& m,
                                 component::ComponentRuntime& rt) const {
  if (subject == nullptr || !subjects.published_by(subject, m.origin_host)) return false;
  return sender_known(m, rt);
}

// authentic() past the subject: the sender against the origin host (which the caller checked).
bool NatsBridge::Impl::sender_known(const WireMessage& m, component::ComponentRuntime& rt) const {
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
  return !directory.locate(m.sender) && !rt.registry().contains(m.sender);
}

void NatsBridge::Impl::handle(WireMessage& m, component::ComponentRuntime& rt,
                              std::string_view reply_to) {
  switch (m.kind) {
    case WireMessage::Kind::kSend:
      deliver_send(m, rt, reply_to);
      break;
    case WireMessage::Kind::kSendBatch:
      deliver_batch(m, rt, reply_to);
      break;
    case WireMessage::Kind::kRequest:
      deliver_request(m, rt, true);
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
        rt.complete_request(m.correlation, m.target, std::optional<Payload>(std::move(m.payload)));
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
Status NatsBridge::Impl::deliver_one(const WireMessage& m, const ComponentId& target,
                                     Payload payload, component::ComponentRuntime& rt,
                                     bool confirmed) {
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
void NatsBridge::Impl::deliver_batch(WireMessage& m, component::ComponentRuntime& rt,
                                     std::string_view reply_to) {
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
void NatsBridge::Impl::deliver_send(WireMessage& m, component::ComponentRuntime& rt,
                                    std::string_view reply_to) {
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

// A lone request handled on the reader runs an idle target's turn right here (request_from_peer's
// run_here): the reply leaves from this thread with no hand-off to a scheduler worker, whose
// wake-up was the largest part of a cross-host round trip (docs/cluster.md, "Answered on the
// reader"). Requests of a coalesced envelope go to the workers as before: many of them at once
// are work to spread, and the reader has the rest of the envelope to deliver.
void NatsBridge::Impl::deliver_request(WireMessage& m, component::ComponentRuntime& rt,
                                       bool alone) {
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
        if (bridge->impl_->on_reader()) {
          bridge->impl_->answered_on_reader.fetch_add(1, std::memory_order_relaxed);
        }
        if (response.reply) {
          bridge->impl_->reply(origin, boot, correlation, target, std::move(*response.reply));
        } else {
          bridge->impl_->reply(origin, boot, correlation, target,
                               response.error.value_or(
                                   Error{ErrorCode::kInternal, "request ended without outcome"}));
        }
      },
      alone && on_reader());
  if (!r) reply(m.origin_host, m.origin_boot, m.correlation, m.target, std::move(r).error());
}

void NatsBridge::Impl::reply(const std::string& host, const std::string& host_boot,
                             CorrelationId correlation, const ComponentId& responder,
                             Result<Payload> outcome) {
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

}  // namespace capsule::cluster

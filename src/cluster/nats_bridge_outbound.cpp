// NatsBridge, outbound: sends (confirmed, unconfirmed, coalesced, batched), requests and
// publishes for components on other hosts.
#include <future>
#include <utility>

#include "nats_bridge_impl.hpp"

namespace capsule::cluster {

Result<NatsBridge::Impl::PreparedSend> NatsBridge::Impl::prepare_send(
    const ComponentId& from, const ComponentId& to, const Payload& payload) const {
  auto host = destination(to);
  if (!host) return std::move(host).error();
  if (Status s = wire_fits(payload.bytes.size(), [&] { return "send to " + to.to_string(); }); !s) {
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

Status NatsBridge::Impl::publish_raw(const std::string& subject,
                                     const std::vector<std::uint8_t>& bytes) {
  Status s = nats::check(natsConnection_Publish(connection.get(), subject.c_str(), bytes.data(),
                                                static_cast<int>(bytes.size())),
                         "publish to " + subject);
  if (s) sent.fetch_add(1, std::memory_order_relaxed);
  return s;
}

// The host that runs `to`, if a message sent to it now would be received.
Result<std::string> NatsBridge::Impl::destination(const ComponentId& to) const {
  auto host = destination_host(to);
  if (!host) return std::move(host).error();
  return std::move(host->name);
}

Result<HostInfo> NatsBridge::Impl::destination_host(const ComponentId& to) const {
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

// Requests of an envelope the NATS client refused (its connection closed meanwhile): they end now,
// as a request published alone would have been refused at once, not at their timeout.
void NatsBridge::Impl::fail_unsent_requests(const std::vector<WireMessage>& entries,
                                            const std::string& host) {
  std::vector<std::pair<CorrelationId, ComponentId>> unsent;
  {
    std::lock_guard lock(pending_mutex);
    for (const auto& e : entries) {
      if (e.kind == WireMessage::Kind::kRequest && pending.erase(e.correlation) > 0) {
        unsent.emplace_back(e.correlation, e.target);
      }
    }
  }
  if (unsent.empty()) return;
  std::shared_lock lock(runtime_mutex);
  if (runtime == nullptr) return;
  for (const auto& [correlation, target] : unsent) {
    runtime->complete_request(correlation, target,
                              make_error(ErrorCode::kUnavailable,
                                         "request to " + target.to_string() + " on host " + host +
                                             " not sent: the NATS connection refused it"));
  }
}

// Held unconfirmed sends for `host`, in order: one envelope, or several when they exceed the
// server's max_payload together (each fits alone: wire_fits checked it when it was held).
void NatsBridge::Impl::publish_coalesced(const std::string& host, std::vector<WireMessage> sends) {
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
      fail_unsent_requests(envelope.entries, host);
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

Status NatsBridge::send(const ComponentId& from, const ComponentId& to, const Payload& payload) {
  // Refused rather than buffered while the way to `to` is not known to work: a send that returns
  // ok has been handed to a connected client for a host whose subscriptions are in place.
  // On the reader, which is what would deliver the acknowledgement, nothing may wait: a guest's
  // turn that runs there (a lone request answered on the reader) and broadcasts to another host
  // sends unconfirmed, so a refusal is logged and counted on the receiving host.
  if (!impl_->config.confirm_sends || impl_->on_reader()) {
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

// A request for a component of `host`, if its payload fits, registered as pending on that host
// (whose loss then ends it at once).
Result<WireMessage> NatsBridge::Impl::pending_request(const ComponentId& from,
                                                      const ComponentId& to, Payload payload,
                                                      CorrelationId correlation,
                                                      std::chrono::milliseconds timeout,
                                                      const std::string& host) {
  if (Status s = wire_fits(payload.bytes.size(), [&] { return "request to " + to.to_string(); });
      !s) {
    return std::move(s).error();
  }
  WireMessage m;
  m.kind = WireMessage::Kind::kRequest;
  m.origin_host = config.host;
  m.origin_boot = boot;
  m.sender = from;
  m.target = to;
  m.payload = std::move(payload);
  m.correlation = correlation;
  m.timeout_ms = static_cast<std::uint32_t>(timeout.count());
  std::lock_guard lock(pending_mutex);
  pending[correlation] = Outbound{host, to, Clock::now() + timeout};
  return m;
}

Status NatsBridge::request(const ComponentId& from, const ComponentId& to, const Payload& payload,
                           CorrelationId correlation, std::chrono::milliseconds timeout) {
  auto host = impl_->destination(to);
  if (!host) return std::move(host).error();
  auto m = impl_->pending_request(from, to, payload, correlation, timeout, *host);
  if (!m) return std::move(m).error();
  Status s = ok();
  impl_->coalescer.in_order(*host, [&] {
    s = impl_->publish_raw(impl_->subjects.component(to, impl_->config.host, *host), encode(*m));
  });
  if (!s) {
    std::lock_guard lock(impl_->pending_mutex);
    impl_->pending.erase(correlation);
  }
  return s;
}

Status NatsBridge::request_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                                   CorrelationId correlation, std::chrono::milliseconds timeout) {
  auto host = impl_->destination_host(to);
  if (!host) return std::move(host).error();
  if (host->wire < kWireCoalescedRequests) {
    return request(from, to, payload, correlation, timeout);  // an older host
  }
  auto m = impl_->pending_request(from, to, std::move(payload), correlation, timeout, host->name);
  if (!m) return std::move(m).error();
  // Held with the turn's other messages for that host; one the wire then refuses is failed by
  // publish_coalesced rather than left to time out.
  impl_->coalescer.hold(host->name, std::move(*m));
  return ok();
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

}  // namespace capsule::cluster

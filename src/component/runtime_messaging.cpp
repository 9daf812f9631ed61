// ComponentRuntime's messages between components and from peers: send, batches, requests, with
// the payload, capability and placement checks on the way.
#include <utility>

#include <capsule/component/component_runtime.hpp>

#include "activation_directory.hpp"
#include "component_actor.hpp"
#include "runtime_messages.hpp"

namespace capsule::component {

namespace {

// Components' payloads are checked against their own limits where the guest hands them over
// (the engine's host bridge); this covers what the host itself sends (admin API, embedders).
Status host_payload_fits(const ComponentId& from, const Payload& payload, std::uint64_t limit) {
  if (from != ComponentRuntime::privileged_caller() || payload.bytes.size() <= limit) return ok();
  return make_error(ErrorCode::kInvalidArgument,
                    payload_too_large(payload.bytes.size(), limit, "the host"));
}

// A send to an instance whose actor has ended names the component, not the runtime's internal
// actor number ("actor 4 is gone" told an operator nothing). An ActorRef send answers
// kUnavailable only for that (rt/actor_ref.hpp), so the code says it; the text need not.
Status name_gone_target(Status sent, const ComponentId& to) {
  if (sent || sent.error().code != ErrorCode::kUnavailable) return sent;
  return make_error(ErrorCode::kUnavailable,
                    "component " + to.to_string() +
                        " is not running (stopped, or its supervisor gave up restarting it)");
}

// A peer's message never waits for room (it arrives on a network thread that serves other actors
// and the heartbeats too): a full `block` mailbox refuses it as full.
Status peer_mailbox_full(Status sent, const ComponentId& to) {
  if (sent || sent.error().code != ErrorCode::kWouldBlock) return sent;
  return make_error(ErrorCode::kMailboxFull,
                    "mailbox of " + to.to_string() +
                        " is full (a message from another host does not wait for room)");
}

// A peer sent a name of an on-demand component here that this host does not serve in its own
// view of the cluster: refused, never forwarded on (two views that disagree could bounce it).
Error served_elsewhere(const ComponentId& to) {
  return make_error(ErrorCode::kUnavailable,
                    "name " + to.to_string() +
                        " is not served by this host now (the cluster's membership is changing; "
                        "its owner differs between hosts' views): not handled, try again");
}

}  // namespace

Status ComponentRuntime::peer_payload_fits(const ComponentId& from, const ComponentId& to,
                                           const Payload& payload) const {
  // What another host hands over is held to the receiving component's own limit, as a local
  // sender's payload is (the other host checked it against its own limits, which may differ).
  ResourceLimits limits;
  if (auto d = directory_for(to)) {
    limits = d->spec().limits;
  } else if (const auto registered = registry_.limits(to)) {
    limits = *registered;
  }
  const std::uint64_t limit = max_payload_bytes(limits);
  if (payload.bytes.size() <= limit) return ok();
  return make_error(
      ErrorCode::kInvalidArgument,
      payload_too_large(payload.bytes.size(), limit, from.to_string() + " on another host") +
          " of " + to.to_string());
}

Status ComponentRuntime::admit_send(const ComponentId& from, const ComponentId& to,
                                    const Payload& payload) const {
  if (Status s = host_payload_fits(from, payload, config_.max_payload_bytes); !s) return s;
  return authorize_to(from, security::Action::kSend, to);
}

Status ComponentRuntime::send(const ComponentId& from, const ComponentId& to, Payload payload) {
  if (Status s = admit_send(from, to, payload); !s) return s;
  return route(from, to, std::move(payload));
}

void ComponentRuntime::send_later(const ComponentId& from, const ComponentId& to, Payload payload,
                                  std::function<void(Status)> done, bool in_turn) {
  if (Status s = admit_send(from, to, payload); !s) return done(s);
  const auto remote = [&] {
    if (in_turn) return config_.remote->send_in_turn(from, to, std::move(payload), std::move(done));
    config_.remote->send_later(from, to, payload, std::move(done));
  };
  if (auto d = directory_for(to)) {
    // Another host serves this name now: the message goes there, as to any remote component.
    if (!serves_here(to)) return remote();
    return done(d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}));
  }
  auto target = registry_.find(to);
  if (!target && config_.remote) return remote();
  if (!target) return done(registry_.not_found(to));
  done(name_gone_target(target->send(ComponentEnvelope{
                            ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}),
                        to));
}

void ComponentRuntime::send_batch(const ComponentId& from, std::vector<OutgoingMessage> messages,
                                  BatchDone done) {
  if (messages.size() > kMaxSendBatch) {
    return done(batch_too_large(messages.size(), from.to_string()));
  }
  std::vector<Status> outcomes(messages.size());
  std::vector<std::size_t> where;  // of each message for another host, in `outcomes`
  std::vector<OutgoingMessage> remote;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& [to, payload] = messages[i];
    if (Status s = admit_send(from, to, payload); !s) {
      outcomes[i] = std::move(s);
      continue;
    }
    auto d = directory_for(to);
    if (d && !serves_here(to)) {
      where.push_back(i);
      remote.push_back(std::move(messages[i]));
      continue;
    }
    if (d) {
      outcomes[i] = d->deliver(
          to,
          ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
      continue;
    }
    auto target = registry_.lookup(to);
    if (!target && config_.remote && target.error().code == ErrorCode::kNotFound) {
      where.push_back(i);
      remote.push_back(std::move(messages[i]));
      continue;
    }
    if (!target) {
      outcomes[i] = std::move(target).error();
      continue;
    }
    // Never waits for room (the guest asked for every outcome at once): as full instead.
    Status s = name_gone_target(target->send_nowait(ComponentEnvelope{ComponentEnvelope::Deliver{
                                    message_from(from, std::move(payload))}}),
                                to);
    if (!s && s.error().code == ErrorCode::kWouldBlock) {
      s = make_error(ErrorCode::kMailboxFull,
                     "mailbox of " + to.to_string() +
                         " is full (a batched send does not wait for room; send it alone to wait)");
    }
    outcomes[i] = std::move(s);
  }
  if (remote.empty()) return done(std::move(outcomes));
  config_.remote->send_batch_later(from, std::move(remote),
                                   [outcomes = std::move(outcomes), where = std::move(where),
                                    done = std::move(done)](std::vector<Status> sent) mutable {
                                     for (std::size_t k = 0; k < where.size() && k < sent.size();
                                          ++k) {
                                       outcomes[where[k]] = std::move(sent[k]);
                                     }
                                     done(std::move(outcomes));
                                   });
}

Status ComponentRuntime::route(const ComponentId& from, const ComponentId& to, Payload payload) {
  if (auto d = directory_for(to)) {
    if (!serves_here(to)) return config_.remote->send(from, to, payload);
    return d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
  }
  auto target = registry_.find(to);
  if (!target && config_.remote) return config_.remote->send(from, to, payload);
  if (!target) return registry_.not_found(to);
  return name_gone_target(target->send(ComponentEnvelope{
                              ComponentEnvelope::Deliver{message_from(from, std::move(payload))}}),
                          to);
}

Result<CorrelationId> ComponentRuntime::request(const ComponentId& from, const ComponentId& to,
                                                Payload payload, std::chrono::milliseconds timeout,
                                                std::function<void(CallbackResponse)> deliver,
                                                bool in_turn) {
  return checked_request(from, to, std::move(payload), timeout, std::move(deliver), false, in_turn);
}

Result<CorrelationId> ComponentRuntime::checked_request(
    const ComponentId& from, const ComponentId& to, Payload payload,
    std::chrono::milliseconds timeout, std::function<void(CallbackResponse)> deliver, bool run_here,
    bool in_turn) {
  if (Status s = host_payload_fits(from, payload, config_.max_payload_bytes); !s) {
    return std::move(s).error();
  }
  if (Status s = authorize_to(from, security::Action::kRequest, to); !s) {
    return std::move(s).error();
  }
  return begin_request(from, to, std::move(payload), timeout, std::move(deliver), Origin::kLocal,
                       run_here, in_turn);
}

Status ComponentRuntime::send_from_peer(const ComponentId& from, const ComponentId& to,
                                        Payload payload) {
  if (Status s = authorize_to(from, security::Action::kSend, to, Origin::kPeer); !s) return s;
  if (Status s = peer_payload_fits(from, to, payload); !s) return s;
  if (auto d = directory_for(to)) {
    if (!serves_here(to)) return served_elsewhere(to);
    return d->deliver(
        to, ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}});
  }
  auto target = registry_.lookup(to);
  if (!target) return std::move(target).error();
  return enqueue(
      *target, to,
      ComponentEnvelope{ComponentEnvelope::Deliver{message_from(from, std::move(payload))}},
      Origin::kPeer);
}

Status ComponentRuntime::enqueue(const rt::ActorRef<ComponentEnvelope>& target,
                                 const ComponentId& to, ComponentEnvelope envelope, Origin origin) {
  if (origin == Origin::kLocal) return name_gone_target(target.send(std::move(envelope)), to);
  // Never waits: a peer's message arrives on a network delivery thread that serves other actors
  // (and the heartbeats) too. A full `block` mailbox refuses it as full instead.
  return peer_mailbox_full(name_gone_target(target.send_nowait(std::move(envelope)), to), to);
}

Result<CorrelationId> ComponentRuntime::request_from_peer(
    const ComponentId& from, const ComponentId& to, Payload payload,
    std::chrono::milliseconds timeout, std::function<void(CallbackResponse)> deliver,
    bool run_here) {
  if (Status s = authorize_to(from, security::Action::kRequest, to, Origin::kPeer); !s) {
    return std::move(s).error();
  }
  if (Status s = peer_payload_fits(from, to, payload); !s) return std::move(s).error();
  return begin_request(from, to, std::move(payload), timeout, std::move(deliver), Origin::kPeer,
                       run_here);
}

Result<CorrelationId> ComponentRuntime::begin_request(const ComponentId& from,
                                                      const ComponentId& to, Payload payload,
                                                      std::chrono::milliseconds timeout,
                                                      std::function<void(CallbackResponse)> deliver,
                                                      Origin origin, bool run_here, bool in_turn) {
  auto d = directory_for(to);
  // The owner of an on-demand name is hashed over the live hosts: worked out once.
  const bool here = d && serves_here(to);
  if (d && !here && origin == Origin::kPeer) return served_elsewhere(to);
  if (here) {
    const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
    ComponentMessage message = message_from(from, std::move(payload));
    message.correlation = id;
    if (Status s =
            d->deliver(to, ComponentEnvelope{ComponentEnvelope::Deliver{std::move(message)}});
        !s) {
      tracker_.abandon(id);
      return std::move(s).error();
    }
    timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
    return id;
  }
  // A name of an on-demand component another host serves now: a remote target like any other.
  auto target = d ? std::optional<rt::ActorRef<ComponentEnvelope>>{} : registry_.find(to);
  // A local caller's target may be another host's; a peer's is this host's only.
  if (!target && origin == Origin::kLocal && config_.remote) {
    // Another host's component: this tracker and timer still decide the one outcome.
    const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
    Status s = in_turn ? config_.remote->request_in_turn(from, to, std::move(payload), id, timeout)
                       : config_.remote->request(from, to, payload, id, timeout);
    if (!s) {
      tracker_.abandon(id);
      return std::move(s).error();
    }
    timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
    return id;
  }
  if (!target) return registry_.not_found(to);
  const CorrelationId id = tracker_.begin(PendingRequest{from, to, timeout, std::move(deliver)});
  ComponentMessage message = message_from(from, std::move(payload));
  message.correlation = id;
  ComponentEnvelope envelope{ComponentEnvelope::Deliver{std::move(message)}};
  Status sent =
      !run_here ? enqueue(*target, to, std::move(envelope), origin)
      : origin == Origin::kLocal
          ? name_gone_target(target->send_run_here(std::move(envelope)), to)
          : peer_mailbox_full(
                name_gone_target(target->send_nowait_run_here(std::move(envelope)), to), to);
  if (!sent) {
    tracker_.abandon(id);
    return std::move(sent).error();
  }
  // Answered during an inline turn: no deadline to keep (the timer would find it ended anyway).
  if (run_here && !tracker_.is_pending(id)) return id;
  timeouts_.schedule(id, std::chrono::steady_clock::now() + timeout);
  return id;
}

}  // namespace capsule::component

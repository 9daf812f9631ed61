// What host code (admin API, embedders) does with components: call, ask, cancel, broadcast,
// publish, host subscriptions, and completing a request from outside (a remote reply).
#include <atomic>
#include <future>
#include <optional>
#include <utility>

#include <capsule/component/component_runtime.hpp>
#include <capsule/rt/flag_wait.hpp>

#include "activation_directory.hpp"
#include "component_actor.hpp"
#include "runtime_messages.hpp"

namespace capsule::component {

namespace {

// Host code subscribed to a topic: an actor that hands each message to a callback.
class HostTopicActor final : public rt::Actor<ComponentEnvelope> {
 public:
  explicit HostTopicActor(std::function<void(const ComponentMessage&)> handler)
      : handler_(std::move(handler)) {}
  Status handle(ComponentEnvelope& e, rt::ActorContext<ComponentEnvelope>&) override {
    if (auto* d = std::get_if<ComponentEnvelope::Deliver>(&e.body)) handler_(d->message);
    return ok();
  }

 private:
  std::function<void(const ComponentMessage&)> handler_;
};

}  // namespace

namespace {

// What a host-side requester gets from a request's one outcome.
Result<Payload> outcome_of(CallbackResponse resp) {
  if (resp.reply) return std::move(*resp.reply);
  return resp.error.value_or(Error{ErrorCode::kInternal, "request ended without outcome"});
}

// One reply slot for call(): the worker that completes the request fills it and flips `done`;
// the caller spins on `done` for a while, then sleeps on it (std::atomic::wait, a futex).
struct ReplySlot {
  std::atomic<bool> done{false};
  std::optional<Result<Payload>> outcome;
};

}  // namespace

std::future<Result<Payload>> ComponentRuntime::ask(const ComponentId& to, Payload payload,
                                                   std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<Payload>>>();
  auto future = promise->get_future();
  auto r = request(
      privileged_caller(), to, std::move(payload), timeout,
      [promise](CallbackResponse resp) { promise->set_value(outcome_of(std::move(resp))); });
  if (!r) promise->set_value(std::move(r).error());
  return future;
}

Result<Payload> ComponentRuntime::call(const ComponentId& to, Payload payload,
                                       std::chrono::milliseconds timeout) {
  auto slot = std::make_shared<ReplySlot>();
  auto r = checked_request(
      privileged_caller(), to, std::move(payload), timeout,
      [slot](CallbackResponse resp) {
        slot->outcome = outcome_of(std::move(resp));
        slot->done.store(true, std::memory_order_release);
        slot->done.notify_one();
      },
      /*run_here=*/true);
  if (!r) return std::move(r).error();
  // Answered already when the target was idle (its turn ran on this thread); otherwise a
  // worker answers: the tracker's timeout guarantees the callback runs, so the wait is bounded.
  rt::wait_for_flag(slot->done);
  return std::move(*slot->outcome);  // set before `done`
}

Status ComponentRuntime::cancel(CorrelationId correlation, const ComponentId& requester) {
  return tracker_.cancel(correlation, requester);
}

Result<std::uint32_t> ComponentRuntime::broadcast(const ComponentId& from,
                                                  const std::vector<ComponentId>& to,
                                                  const Payload& payload) {
  std::uint32_t delivered = 0;
  std::optional<Error> denied;
  for (const auto& id : to) {
    // Checked per target under messaging.broadcast: a broadcast grant is its own permission.
    if (Status s = authorize_to(from, security::Action::kBroadcast, id); !s) {
      if (!denied) denied = std::move(s).error();
      continue;
    }
    if (route(from, id, payload)) ++delivered;
  }
  // Every target refused: say why rather than a bare 0.
  if (denied && delivered == 0) return *denied;
  return delivered;
}

Result<std::uint32_t> ComponentRuntime::publish(const ComponentId& from, std::string_view topic,
                                                const Payload& payload) {
  if (Status s = authorize(from, security::Action::kPublish, topic); !s) {
    return std::move(s).error();
  }
  auto reached = publish_here(from, topic, payload);
  // The count is of local subscribers: other hosts receive it asynchronously.
  if (reached && config_.remote) config_.remote->publish(from, topic, payload);
  return reached;
}

Result<std::uint32_t> ComponentRuntime::publish_from_peer(const ComponentId& from,
                                                          std::string_view topic,
                                                          const Payload& payload) {
  if (Status s = authorize(from, security::Action::kPublish, topic, Origin::kPeer); !s) {
    return std::move(s).error();
  }
  if (payload.bytes.size() > config_.max_payload_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      payload_too_large(payload.bytes.size(), config_.max_payload_bytes,
                                        from.to_string() + " on another host") +
                          " of this host (publish on " + std::string(topic) + ")");
  }
  return publish_here(from, topic, payload);
}

Result<std::uint32_t> ComponentRuntime::publish_here(const ComponentId& from,
                                                     std::string_view topic,
                                                     const Payload& payload) {
  if (topic.empty()) return make_error(ErrorCode::kInvalidArgument, "empty topic name");
  ComponentMessage message = message_from(from, payload);
  message.topic = std::string(topic);
  const auto n =
      broker_.publish(topic, ComponentEnvelope{ComponentEnvelope::Deliver{std::move(message)}});
  return static_cast<std::uint32_t>(n);
}

Status ComponentRuntime::subscribe(std::string_view topic, const ComponentId& subscriber) {
  if (Status s = authorize(subscriber, security::Action::kSubscribe, topic); !s) return s;
  if (topic.empty()) return make_error(ErrorCode::kInvalidArgument, "empty topic name");
  auto ref = registry_.lookup(subscriber);
  if (!ref) return std::move(ref).error();
  return broker_.subscribe(topic, *ref);
}

Status ComponentRuntime::unsubscribe(std::string_view topic, const ComponentId& subscriber) {
  if (Status s = authorize(subscriber, security::Action::kSubscribe, topic); !s) return s;
  auto ref = registry_.lookup(subscriber);
  if (!ref) return std::move(ref).error();
  if (!broker_.unsubscribe(topic, *ref)) {
    return make_error(ErrorCode::kNotFound,
                      subscriber.to_string() + " is not subscribed to " + std::string(topic));
  }
  return ok();
}

Result<HostSubscription> ComponentRuntime::subscribe_host(
    std::string_view topic, std::function<void(const ComponentMessage&)> handler) {
  auto ref = system_.spawn<HostTopicActor>(rt::SpawnOptions{}, std::move(handler));
  if (!ref) return std::move(ref).error();
  if (Status s = broker_.subscribe(topic, *ref); !s) return std::move(s).error();
  return HostSubscription([this, topic = std::string(topic), ref = *ref] {
    broker_.unsubscribe(topic, ref);
    system_.stop(ref.address());
  });
}

void ComponentRuntime::deliver_callback(const rt::ActorRef<ComponentEnvelope>& to,
                                        CallbackResponse response) {
  // The control lane: a requester flooded with data still gets its outcome, and no mailbox
  // policy can drop or evict it. Only a requester that is gone misses it (a dead letter).
  static_cast<void>(
      to.send_control(ComponentEnvelope{ComponentEnvelope::Callback{std::move(response)}}));
}

bool ComponentRuntime::complete_request(CorrelationId correlation, const ComponentId& responder,
                                        Result<std::optional<Payload>> outcome) {
  CallbackResponse response;
  response.responder = responder;
  if (outcome) {
    response.reply = outcome->value_or(Payload{});
    return tracker_.resolve(correlation, std::move(response), RequestOutcome::kReplied);
  }
  response.error = std::move(outcome).error();
  return tracker_.resolve(correlation, std::move(response), RequestOutcome::kFailed);
}

}  // namespace capsule::component

#pragma once

#include <future>
#include <memory>
#include <variant>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>

namespace capsule::wasm {
class CompiledComponent;
}

namespace capsule::component {

// The one message type of a ComponentActor's mailbox.
struct ComponentEnvelope {
  // A message for handle-message. `message.correlation` set means the sender awaits a reply.
  struct Deliver {
    ComponentMessage message;
  };
  // The outcome of one of this component's own requests, for handle-callback.
  struct Callback {
    CallbackResponse response;
  };
  // Hot upgrade: replace this instance by one of `component` (init runs with the same config),
  // in mailbox order, so no queued message is lost. `done` reports the outcome; on failure the
  // old instance keeps running.
  struct Upgrade {
    std::shared_ptr<const wasm::CompiledComponent> component;
    std::shared_ptr<std::promise<Status>> done;
  };
  // On-demand components (ComponentSpec::on_demand) only. Activate: run init, sent by the new
  // activation to itself on the control lane, so it runs before any queued message. Retire: the
  // activation ends once the messages queued before it are handled (it travels the data lane,
  // behind them); the runtime routes later messages elsewhere, see ActivationDirectory.
  struct Activate {};
  struct Retire {};
  std::variant<Deliver, Callback, Upgrade, Activate, Retire> body;
};

// What an envelope weighs against a mailbox's byte bound (rt::MailboxConfig::max_bytes): the
// payload of a message; steering envelopes travel in the control lane and weigh nothing.
[[nodiscard]] inline std::size_t mailbox_bytes(const ComponentEnvelope& e) noexcept {
  if (const auto* d = std::get_if<ComponentEnvelope::Deliver>(&e.body)) {
    return d->message.payload.bytes.size();
  }
  return 0;
}

}  // namespace capsule::component

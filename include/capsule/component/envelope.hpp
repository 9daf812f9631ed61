#pragma once

#include <variant>

#include <capsule/core/message.hpp>

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
  std::variant<Deliver, Callback> body;
};

}  // namespace capsule::component

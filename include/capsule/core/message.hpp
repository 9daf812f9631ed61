#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <capsule/core/component_id.hpp>
#include <capsule/core/health.hpp>
#include <capsule/core/multicodec.hpp>

namespace capsule {

using CorrelationId = std::uint64_t;

// Bytes plus the multicodec code that says how to read them.
struct Payload {
  std::uint32_t codec = multicodec::kRaw;
  std::vector<std::uint8_t> bytes;

  [[nodiscard]] static Payload text(std::string_view s) {
    return Payload{multicodec::kUtf8Text, std::vector<std::uint8_t>(s.begin(), s.end())};
  }
  [[nodiscard]] std::string as_string() const { return std::string(bytes.begin(), bytes.end()); }
  friend bool operator==(const Payload&, const Payload&) = default;
};

// What a component's handle-message receives.
struct ComponentMessage {
  ComponentId sender;
  Payload payload;
  // Set when the sender awaits a reply (request); the handler's return value becomes the reply.
  std::optional<CorrelationId> correlation;
  std::optional<std::string> topic;  // set when delivered through a broker topic
};

// What a component's handle-callback receives: the outcome of one of its earlier requests.
struct CallbackResponse {
  CorrelationId correlation = 0;
  ComponentId responder;
  // Exactly one of reply / error. The error covers timeout, cancellation and remote failures.
  std::optional<Payload> reply;
  std::optional<Error> error;
};

struct ComponentMetadata {
  std::string name;
  std::string version;
  std::string description;
  std::vector<std::pair<std::string, std::string>> labels;
};

}  // namespace capsule

#pragma once
// Messages as ComponentRuntime builds them (runtime_messaging.cpp, runtime_host_calls.cpp).
#include <optional>
#include <utility>

#include <capsule/component/envelope.hpp>

namespace capsule::component {

inline ComponentMessage message_from(const ComponentId& from, Payload payload) {
  return ComponentMessage{from, std::move(payload), std::nullopt, std::nullopt};
}

}  // namespace capsule::component

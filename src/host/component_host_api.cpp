#include "component_host_api.hpp"

#include <utility>

namespace capsule::host {

using component::ComponentEnvelope;

ComponentHostApi::ComponentHostApi(component::ComponentRuntime& runtime, ComponentId self,
                                   rt::ActorRef<ComponentEnvelope> self_ref)
    : StandaloneHostApi(std::move(self)), runtime_(runtime), self_ref_(std::move(self_ref)) {}

Status ComponentHostApi::send(const ComponentId& target, Payload payload) {
  return runtime_.send(self_id(), target, std::move(payload));
}

Result<CorrelationId> ComponentHostApi::request(const ComponentId& target, Payload payload,
                                                std::uint32_t timeout_ms) {
  if (timeout_ms == 0) {
    return make_error(ErrorCode::kInvalidArgument, "request timeout-ms must be at least 1");
  }
  // The outcome comes back through this instance's own mailbox, to handle-callback.
  return runtime_.request(self_id(), target, std::move(payload),
                          std::chrono::milliseconds{timeout_ms},
                          [runtime = &runtime_, self = self_ref_](CallbackResponse r) {
                            runtime->deliver_callback(self, std::move(r));
                          });
}

Status ComponentHostApi::cancel(CorrelationId correlation) {
  return runtime_.cancel(correlation, self_id());
}

Result<std::uint32_t> ComponentHostApi::broadcast(const std::vector<ComponentId>& targets,
                                                  Payload payload) {
  return runtime_.broadcast(self_id(), targets, payload);
}

Result<std::uint32_t> ComponentHostApi::publish(const std::string& topic, Payload payload) {
  return runtime_.publish(self_id(), topic, payload);
}

Status ComponentHostApi::subscribe(const std::string& topic) {
  return runtime_.subscribe(topic, self_id());
}

Status ComponentHostApi::unsubscribe(const std::string& topic) {
  return runtime_.unsubscribe(topic, self_id());
}

void ComponentHostApi::log(wasm::LogLevel level, const std::string& message,
                           const wasm::KeyValues& fields) {
  runtime_.log(self_id(), level, message, fields);
}

Result<std::vector<ComponentId>> ComponentHostApi::list_components() {
  std::vector<ComponentId> ids;
  for (const auto& info : runtime_.list()) ids.push_back(info.id);
  return ids;
}

Result<ComponentMetadata> ComponentHostApi::component_metadata(const ComponentId& id) {
  auto record = runtime_.registry().record(id);
  if (!record || !record->metadata) {
    return make_error(ErrorCode::kNotFound, "no metadata for " + id.to_string());
  }
  return *record->metadata;
}

}  // namespace capsule::host

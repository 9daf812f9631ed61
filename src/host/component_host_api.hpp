#pragma once

#include <capsule/component/component_runtime.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::host {

// The host functions of one component instance, routed through the ComponentRuntime.
// Storage arrives with the storage issue; until then it answers not-implemented.
class ComponentHostApi final : public wasm::StandaloneHostApi {
 public:
  ComponentHostApi(component::ComponentRuntime& runtime, ComponentId self,
                   rt::ActorRef<component::ComponentEnvelope> self_ref);

  Status send(const ComponentId& target, Payload payload) override;
  Result<CorrelationId> request(const ComponentId& target, Payload payload,
                                std::uint32_t timeout_ms) override;
  Status cancel(CorrelationId correlation) override;
  Result<std::uint32_t> broadcast(const std::vector<ComponentId>& targets,
                                  Payload payload) override;
  Result<std::uint32_t> publish(const std::string& topic, Payload payload) override;
  Status subscribe(const std::string& topic) override;
  Status unsubscribe(const std::string& topic) override;
  void log(wasm::LogLevel level, const std::string& message,
           const wasm::KeyValues& fields) override;
  Result<std::vector<ComponentId>> list_components() override;
  Result<ComponentMetadata> component_metadata(const ComponentId& id) override;

 private:
  component::ComponentRuntime& runtime_;
  rt::ActorRef<component::ComponentEnvelope> self_ref_;
};

}  // namespace capsule::host

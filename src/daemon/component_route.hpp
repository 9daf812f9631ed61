#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <capsule/component/component_runtime.hpp>

#include "http_routes.hpp"
#include "manifest/http_section.hpp"

namespace capsule::daemon {

// Serves a route with a capsule:core component: each HTTP request becomes one request
// (ComponentRuntime::request, the privileged caller host/host/0 as the requester) to one of its
// instances, round robin; the reply payload is the 200 body, any other outcome an error status
// (http_status_of).
// An instance handles one message at a time (the actor model), so `instances` requests run at
// once and the rest wait in the instances' mailboxes, bounded by their capacity (full: 503).
//
// A route to an on-demand component (a virtual actor, `instances` 0) names the instance in the
// path's first segment after the route's prefix: with prefix "/cart", "/cart/alice/items" goes
// to ns/name/alice, activated by that request if it is not active. A path without that segment
// is 404, a segment that is not a valid instance name 400, both naming the expected form.
class ComponentRouteHandler final : public RouteHandler {
 public:
  static constexpr std::uint32_t kOnDemand = 0;

  ComponentRouteHandler(component::ComponentRuntime& runtime, std::string component,
                        std::uint32_t instances, manifest::HttpEnvelope envelope,
                        std::chrono::milliseconds timeout, std::string prefix = "/");
  void handle(HttpTriggerRequest request, Done done) override;
  [[nodiscard]] const std::string& target() const override { return component_; }
  [[nodiscard]] std::chrono::milliseconds timeout() const override { return timeout_; }

 private:
  [[nodiscard]] Result<Payload> payload_of(HttpTriggerRequest& request) const;
  // The instance a request goes to: round robin, or named by the path (on demand).
  [[nodiscard]] Result<ComponentId> target_of(const HttpTriggerRequest& request);

  component::ComponentRuntime& runtime_;
  std::string component_;  // "ns/name"
  std::string ns_;
  std::string name_;
  std::uint32_t instances_;  // kOnDemand: named by the path
  std::string prefix_;
  manifest::HttpEnvelope envelope_;
  std::chrono::milliseconds timeout_;
  std::atomic<std::uint64_t> next_{0};
};

// The codec of a request body of this Content-Type, and the Content-Type of a reply codec.
[[nodiscard]] std::uint32_t codec_of_content_type(std::string_view content_type);
[[nodiscard]] std::string content_type_of_codec(std::uint32_t codec);

}  // namespace capsule::daemon

#include "component_actor.hpp"

#include <utility>

#include <capsule/rt/actor_system.hpp>

#include "../host/component_host_api.hpp"

namespace capsule::component {

ComponentActor::ComponentActor(ComponentRuntime* runtime, std::shared_ptr<const InstancePlan> plan)
    : runtime_(runtime), plan_(std::move(plan)) {}

Status ComponentActor::pre_start(rt::ActorContext<ComponentEnvelope>& ctx) {
  auto host = std::make_shared<host::ComponentHostApi>(*runtime_, plan_->id, ctx.self());
  auto instance = runtime_->engine().instantiate(*plan_->component,
                                                 {plan_->id, plan_->limits, std::move(host)});
  if (!instance) return std::move(instance).error();
  if (Status s = instance->init(plan_->config); !s) return s;
  if (auto meta = instance->metadata()) runtime_->registry().set_metadata(plan_->id, *meta);
  instance_.emplace(std::move(*instance));
  return ok();
}

Status ComponentActor::handle(ComponentEnvelope& envelope, rt::ActorContext<ComponentEnvelope>&) {
  if (auto* d = std::get_if<ComponentEnvelope::Deliver>(&envelope.body)) return deliver(d->message);
  return callback(std::get<ComponentEnvelope::Callback>(envelope.body).response);
}

Status ComponentActor::deliver(ComponentMessage& message) {
  auto outcome = instance_->handle_message(message);
  const bool failed = instance_->failed();
  std::optional<Error> failure;
  if (!outcome && failed) failure = outcome.error();
  if (message.correlation) {
    // The reply (or the reason there is none) goes back to the requester in every case.
    runtime_->complete_request(*message.correlation, plan_->id, std::move(outcome));
  } else if (!outcome) {
    runtime_->count_failed_message();
    runtime_->log(plan_->id, wasm::LogLevel::kWarn,
                  "message from " + message.sender.to_string() +
                      " failed: " + (failure ? failure->describe() : outcome.error().describe()),
                  {});
  }
  // A trap or limit leaves the instance unusable: fail, so the supervisor restarts it. A guest
  // that merely returned an error keeps running.
  if (failure) return *failure;
  return ok();
}

Status ComponentActor::callback(const CallbackResponse& response) {
  Status s = instance_->handle_callback(response);
  if (!s && instance_->failed()) return s;
  if (!s) runtime_->log(plan_->id, wasm::LogLevel::kWarn, s.error().describe(), {});
  return ok();
}

void ComponentActor::post_stop(rt::ActorContext<ComponentEnvelope>&) {
  if (instance_ && !instance_->failed()) static_cast<void>(instance_->shutdown());
}

rt::ErrorAction ComponentActor::on_error(const Error& error, rt::ActorContext<ComponentEnvelope>&) {
  runtime_->log(plan_->id, wasm::LogLevel::kError, error.describe(), {});
  return rt::ErrorAction::kRestart;
}

rt::HealthStatus ComponentActor::health() {
  if (!instance_ || instance_->failed()) return rt::HealthStatus::kFailed;
  auto h = instance_->health();
  if (!h) return rt::HealthStatus::kFailed;
  switch (*h) {
    case HealthStatus::kHealthy:
      return rt::HealthStatus::kHealthy;
    case HealthStatus::kDegraded:
      return rt::HealthStatus::kDegraded;
    case HealthStatus::kUnhealthy:
      return rt::HealthStatus::kFailed;
  }
  return rt::HealthStatus::kFailed;
}

}  // namespace capsule::component

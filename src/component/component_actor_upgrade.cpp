// A hot upgrade of one instance (ComponentEnvelope::Upgrade), as calls in flight of its actor:
// the new instance's init, its metadata, then the old instance's shutdown. Each may wait (WASI
// sleep, storage) without holding a worker, within its wall-time limit; the mailbox keeps its
// order because the actor takes no message while a call is in flight.
#include <utility>

#include "component_actor.hpp"

namespace capsule::component {

Status ComponentActor::upgrade(ComponentEnvelope::Upgrade upgrade) {
  auto next = instantiate(*upgrade.component, *ctx_);
  if (!next) {
    report_upgrade(upgrade, std::move(next).error());
    return ok();
  }
  auto step = std::make_unique<InFlight>();
  step->next.emplace(std::move(*next));
  step->upgrade = std::move(upgrade);
  return start_upgrade_step(std::move(step), CallKind::kUpgradeInit);
}

Status ComponentActor::start_upgrade_step(std::unique_ptr<InFlight> step, CallKind kind) {
  in_flight_ = std::move(step);
  in_flight_->kind = kind;
  switch (kind) {
    case CallKind::kUpgradeInit:
      in_flight_->call.emplace(in_flight_->next->start_init(plan_->config));
      break;
    case CallKind::kUpgradeMetadata:
      in_flight_->call.emplace(in_flight_->next->start_metadata());
      break;
    default:
      in_flight_->call.emplace(instance_->start_shutdown());
      break;
  }
  return drive();
}

Status ComponentActor::finish_upgrade(InFlight& done) {
  // The finished call may borrow either instance: it goes before either moves.
  std::optional<Error> failure;
  std::optional<ComponentMetadata> meta;
  if (done.kind == CallKind::kUpgradeInit) {
    if (Status s = done.call->status(); !s) failure = std::move(s).error();
  } else if (done.kind == CallKind::kUpgradeMetadata) {
    auto m = done.call->metadata();
    if (m) {
      meta = std::move(*m);
    } else {
      failure = std::move(m).error();
    }
  }
  done.call.reset();
  if (failure) {
    report_upgrade(*done.upgrade, std::move(*failure));  // the old instance keeps serving
    return ok();
  }
  auto step = std::make_unique<InFlight>();
  step->next = std::move(done.next);
  step->upgrade = std::move(done.upgrade);
  switch (done.kind) {
    case CallKind::kUpgradeInit:
      return start_upgrade_step(std::move(step), CallKind::kUpgradeMetadata);
    case CallKind::kUpgradeMetadata:
      runtime_->registry().set_metadata(plan_->id, *meta);
      if (instance_ && !instance_->failed()) {
        return start_upgrade_step(std::move(step), CallKind::kUpgradeShutdown);
      }
      break;
    default:
      break;  // the old instance's shutdown ended, however it went
  }
  instance_.emplace(std::move(*step->next));
  plan_->component.store(step->upgrade->component);  // later restarts start the new version
  plan_->counters->starts.fetch_add(1, std::memory_order_relaxed);
  report_upgrade(*step->upgrade, ok());
  return ok();
}

void ComponentActor::report_upgrade(const ComponentEnvelope::Upgrade& upgrade, Status outcome) {
  if (!outcome) {
    runtime_->log(plan_->id, wasm::LogLevel::kError,
                  "upgrade to " + upgrade.component->name() + " failed, keeping " +
                      plan_->component.load()->name() + ": " + outcome.error().describe(),
                  {});
  }
  if (upgrade.done) upgrade.done->set_value(std::move(outcome));
}

}  // namespace capsule::component

#include <string>
#include <utility>
#include <vector>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/wasm/component_instance.hpp>

#include "engine_internal.hpp"
#include "error_text.hpp"
#include "wit_error.hpp"

namespace capsule::wasm {
namespace {

using detail::ComponentInstanceImpl;
using detail::LifecycleExport;

capsule_id_t id_of(const ComponentId& id) {
  return {shim::bytes_of(id.ns), shim::bytes_of(id.name), shim::bytes_of(id.instance)};
}
capsule_bytes_t bytes_of(const std::vector<std::uint8_t>& v) {
  return {v.data(), v.size()};
}

}  // namespace

namespace detail {

std::string human_bytes(std::uint64_t b) {
  if (b % (1ULL << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b % (1ULL << 10) == 0) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " bytes";
}

Error failure_error(const ComponentInstanceImpl& inst, LifecycleExport which, shim::Failure kind,
                    std::string_view text) {
  const std::string who = "component " + inst.id.to_string() + " (" + inst.component_name + ")";
  const std::string where(call_site(which));
  // A call that fails after the limiter refused a memory.grow ran out of memory, however the
  // guest's runtime then ended (its own trap, abort, `unreachable`, a failed cabi_realloc).
  const std::uint64_t refused = inst.limiter ? capsule_limiter_take_refused(inst.limiter.get()) : 0;
  if (refused != 0 && (kind == shim::Failure::kTrap || kind == shim::Failure::kMemoryLimit ||
                       kind == shim::Failure::kHost)) {
    return {ErrorCode::kMemoryLimit,
            who + " exceeded its memory limit of " + human_bytes(inst.limits.memory_bytes) +
                " in " + where + " (a memory.grow to " + human_bytes(refused) +
                " was refused); the guest then stopped with: " + root_cause(text)};
  }
  switch (kind) {
    case shim::Failure::kOutOfFuel:
      return {ErrorCode::kOutOfFuel, who + " ran out of fuel in " + where + " (budget " +
                                         std::to_string(inst.limits.fuel_per_call) + " per call)"};
    case shim::Failure::kInterrupt:
      return {ErrorCode::kInterrupted, who + " exceeded its wall-time limit of " +
                                           std::to_string(inst.limits.wall_time_per_call.count()) +
                                           " ms in " + where +
                                           " (time spent waiting in host calls counts)"};
    case shim::Failure::kMemoryLimit:
      return {ErrorCode::kMemoryLimit, who + " hit its memory limit of " +
                                           human_bytes(inst.limits.memory_bytes) + " in " + where};
    case shim::Failure::kStackOverflow:
      return {ErrorCode::kTrap, who + " overflowed its stack in " + where};
    case shim::Failure::kInvalidInput:
      return {ErrorCode::kInvalidArgument,
              "cannot call " + where + " of " + inst.id.to_string() + ": " + std::string(text)};
    case shim::Failure::kInvalidString:
      // The bytes themselves are not repeated: they are what could not be trusted.
      return {ErrorCode::kInvalidArgument,
              who + " handed the host a string that is not valid UTF-8 in " + where +
                  " (the canonical ABI refused it before the host used it); the call was ended"};
    case shim::Failure::kHost:
      return {ErrorCode::kInternal,
              who + " failed in " + where + ": " + root_cause(text) + "\n" + std::string(text)};
    case shim::Failure::kResponseTooLarge:
      return {ErrorCode::kQuotaExceeded,
              who + " sent a response too large in " + where + ": " + std::string(text)};
    case shim::Failure::kTrap:
      break;
  }
  // Cause first for people; the backtrace after it for whoever debugs the guest.
  return {ErrorCode::kTrap,
          who + " trapped in " + where + ": " + root_cause(text) + "\n" + std::string(text)};
}

}  // namespace detail

ComponentInstance::ComponentInstance(std::unique_ptr<ComponentInstanceImpl> impl)
    : impl_(std::move(impl)) {}
ComponentInstance::~ComponentInstance() = default;
ComponentInstance::ComponentInstance(ComponentInstance&&) noexcept = default;
ComponentInstance& ComponentInstance::operator=(ComponentInstance&&) noexcept = default;

const ComponentId& ComponentInstance::id() const {
  return impl_->id;
}
const ResourceLimits& ComponentInstance::limits() const {
  return impl_->limits;
}
bool ComponentInstance::failed() const {
  return impl_->failure.has_value();
}
bool ComponentInstance::busy() const {
  return impl_->call_in_flight;
}
CallStats ComponentInstance::stats() const {
  return impl_->stats;
}

bool ComponentInstance::release_idle_stack() {
  if (impl_->call_in_flight || !impl_->stack) return false;
  return capsule_stack_release(impl_->stack.get());
}

std::int64_t ComponentInstance::stack_resident_pages() const {
  return impl_->stack ? capsule_stack_resident_pages(impl_->stack.get()) : -1;
}

GuestCall ComponentInstance::start_init(const KeyValues& config) {
  return detail::start_call(*impl_, LifecycleExport::kInit, [&](wasmtime_context_t* cx) {
    std::vector<capsule_kv_t> pairs;
    pairs.reserve(config.size());
    for (const auto& [k, v] : config) pairs.push_back({shim::bytes_of(k), shim::bytes_of(v)});
    return capsule_call_init(impl_->exports.get(), cx, pairs.data(), pairs.size());
  });
}

GuestCall ComponentInstance::start_handle_message(const ComponentMessage& message) {
  return detail::start_call(*impl_, LifecycleExport::kHandleMessage, [&](wasmtime_context_t* cx) {
    const capsule_message_t m{
        .sender = id_of(message.sender),
        .codec = message.payload.codec,
        .payload = bytes_of(message.payload.bytes),
        .has_correlation = message.correlation.has_value(),
        .correlation = message.correlation.value_or(0),
        .has_topic = message.topic.has_value(),
        .topic = message.topic ? shim::bytes_of(*message.topic) : capsule_bytes_t{nullptr, 0},
    };
    return capsule_call_handle_message(impl_->exports.get(), cx, &m);
  });
}

GuestCall ComponentInstance::start_handle_callback(const CallbackResponse& response) {
  return detail::start_call(*impl_, LifecycleExport::kHandleCallback, [&](wasmtime_context_t* cx) {
    // Static: the call borrows the text until it is done.
    static const Error kNoOutcome{ErrorCode::kInternal, "no outcome"};
    capsule_callback_t cb{};
    cb.correlation = response.correlation;
    cb.responder = id_of(response.responder);
    cb.is_ok = response.reply.has_value();
    if (response.reply) {
      cb.codec = response.reply->codec;
      cb.payload = bytes_of(response.reply->bytes);
    } else {
      const Error& error = response.error ? *response.error : kNoOutcome;
      cb.error_tag = wit::error_tag_of(error.code);
      cb.error_text = shim::bytes_of(error.message);
    }
    return capsule_call_handle_callback(impl_->exports.get(), cx, &cb);
  });
}

GuestCall ComponentInstance::start_health() {
  return detail::start_call(*impl_, LifecycleExport::kHealth, [&](wasmtime_context_t* cx) {
    return capsule_call_health(impl_->exports.get(), cx);
  });
}

GuestCall ComponentInstance::start_shutdown() {
  return detail::start_call(*impl_, LifecycleExport::kShutdown, [&](wasmtime_context_t* cx) {
    return capsule_call_shutdown(impl_->exports.get(), cx);
  });
}

GuestCall ComponentInstance::start_metadata() {
  return detail::start_call(*impl_, LifecycleExport::kMetadata, [&](wasmtime_context_t* cx) {
    return capsule_call_metadata_of(impl_->exports.get(), cx);
  });
}

Status ComponentInstance::init(const KeyValues& config) {
  auto call = start_init(config);
  run_to_completion(call);
  return call.status();
}

Result<std::optional<Payload>> ComponentInstance::handle_message(const ComponentMessage& message) {
  auto call = start_handle_message(message);
  run_to_completion(call);
  return call.reply();
}

Status ComponentInstance::handle_callback(const CallbackResponse& response) {
  auto call = start_handle_callback(response);
  run_to_completion(call);
  return call.status();
}

Result<HealthStatus> ComponentInstance::health() {
  auto call = start_health();
  run_to_completion(call);
  return call.health();
}

Status ComponentInstance::shutdown() {
  auto call = start_shutdown();
  run_to_completion(call);
  return call.status();
}

Result<ComponentMetadata> ComponentInstance::metadata() {
  auto call = start_metadata();
  run_to_completion(call);
  return call.metadata();
}

// -- WasmEngine::instantiate lives here: it builds the Store this file drives. ------------------

namespace detail {

Result<std::unique_ptr<ComponentInstanceImpl>> prepare_instance(
    EngineImpl& engine, const CompiledComponentImpl& compiled, ComponentId id,
    ResourceLimits limits, std::shared_ptr<HostApi> host) {
  const auto& defaults = engine.config.default_limits;
  if (limits.memory_bytes == 0) limits.memory_bytes = defaults.memory_bytes;
  if (limits.fuel_per_call == 0) limits.fuel_per_call = defaults.fuel_per_call;
  if (limits.wall_time_per_call.count() == 0)
    limits.wall_time_per_call = defaults.wall_time_per_call;
  EngineSide& side = *compiled.side;
  if (side.pooled && limits.memory_bytes > engine.config.pooling.max_memory_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory limit " + detail::human_bytes(limits.memory_bytes) + " for " +
                          id.to_string() + " exceeds the engine's pooling slot of " +
                          detail::human_bytes(engine.config.pooling.max_memory_bytes));
  }

  auto inst = std::make_unique<ComponentInstanceImpl>(side.engine);
  inst->id = std::move(id);
  inst->component_name = compiled.name;
  inst->limits = limits;
  inst->reactor = engine.reactor;
  inst->host = host ? std::move(host) : std::make_shared<StandaloneHostApi>(inst->id);

  // The memory limit holds per linear memory; the counts keep an instance from multiplying it
  // (a C guest with the WASI adapter has 2 memories, 5 core instances and 3 tables).
  const auto& caps = engine.config.instance_caps;
  inst->limiter.reset(capsule_store_limiter(inst->store.capi(),
                                            static_cast<std::int64_t>(limits.memory_bytes),
                                            static_cast<std::int64_t>(caps.table_elements),
                                            caps.core_instances, caps.tables, caps.memories));
  if (!inst->limiter) {
    return make_error(ErrorCode::kInternal, "cannot set the store's resource limiter");
  }
  if (side.stacks) {
    inst->stack.reset(capsule_store_track_stack(inst->store.capi(), side.stacks.get()));
    if (!inst->stack) {
      return make_error(ErrorCode::kInternal, "cannot set the store's epoch callback");
    }
  }
  auto cx = inst->store.context();
  if (compiled.needs_wasi) {
    // No preopened dirs, env or args: WASI clocks and random; stdout and stderr go to the
    // instance's host line by line (HostApi::output), stdin is empty.
    if (wasmtime_error_t* raw = capsule_context_set_wasi(cx.capi())) {
      return make_error(ErrorCode::kInternal,
                        "configuring WASI: " + wasmtime::Error(raw).message());
    }
  }
  return inst;
}

}  // namespace detail

Result<ComponentInstance> WasmEngine::instantiate(const CompiledComponent& component,
                                                  InstanceOptions options) {
  const auto& compiled = component.impl();
  if (compiled.kind != ComponentKind::kCapsule) {
    return make_error(ErrorCode::kIncompatible,
                      "component '" + compiled.name +
                          "' is a wasi:http/proxy component: it serves HTTP requests "
                          "(instantiate_http_proxy), it is not an actor");
  }
  auto prepared = detail::prepare_instance(*impl_, compiled, std::move(options.id), options.limits,
                                           std::move(options.host));
  if (!prepared) return std::move(prepared).error();
  auto inst = std::move(*prepared);
  // Instantiation runs the guest's start-up code (static constructors): it is bounded like a
  // call, and type-checks the lifecycle exports against the generated bindings.
  auto call = detail::start_call(*inst, LifecycleExport::kInstantiate, [&](wasmtime_context_t* c) {
    return capsule_call_instantiate_pre(compiled.pre.get(), c);
  });
  run_to_completion(call);
  if (Status s = call.status(); !s) {
    Error e = std::move(s).error();
    if (e.code == ErrorCode::kInternal) {
      // Not a trap: the pool is exhausted, or linking failed (a missing or mistyped import).
      const std::string raw(shim::view_of(call.impl().result.data));
      const bool pool =
          raw.find("concurrent") != std::string::npos || raw.find("pooling") != std::string::npos;
      return make_error(pool ? ErrorCode::kUnavailable : ErrorCode::kIncompatible,
                        "instantiating component " + inst->id.to_string() + " (" + compiled.name +
                            "): " + first_line(raw));
    }
    return e;
  }
  inst->exports.reset(capsule_call_take_exports(call.impl().call.get()));
  inst->stats = {};  // instantiation is not one of the instance's calls
  impl_->instances_created.fetch_add(1, std::memory_order_relaxed);
  return ComponentInstance(std::move(inst));
}

}  // namespace capsule::wasm

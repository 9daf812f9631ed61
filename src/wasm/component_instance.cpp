#include <array>
#include <string>
#include <utility>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include <capsule/wasm/component_instance.hpp>

#include "engine_internal.hpp"
#include "trap_classifier.hpp"
#include "typed_lifecycle.hpp"
#include "wit_values.hpp"

namespace capsule::wasm {
namespace {

using detail::ComponentInstanceImpl;
using detail::LifecycleExport;
using wasmtime::component::Val;

std::string_view export_name(LifecycleExport e) {
  return detail::kLifecycleExportNames[static_cast<std::size_t>(e)];
}

std::string human_bytes(std::uint64_t b) {
  if (b % (1ULL << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b % (1ULL << 10) == 0) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " bytes";
}

// Turns a failed Wasmtime call into our error: the code from the trap classifier, and a sentence
// naming the instance, the export and the limit that was hit.
Error describe_failure(const ComponentInstanceImpl& inst, std::string_view where,
                       const std::string& wasmtime_message) {
  const ErrorCode code = classify_call_failure(wasmtime_message);
  const std::string who = "component " + inst.id.to_string() + " (" + inst.component_name + ")";
  std::string text;
  switch (code) {
    case ErrorCode::kOutOfFuel:
      text = who + " ran out of fuel in " + std::string(where) + " (budget " +
             std::to_string(inst.limits.fuel_per_call) + " per call)";
      break;
    case ErrorCode::kInterrupted:
      text = who + " exceeded its wall-time limit of " +
             std::to_string(inst.limits.wall_time_per_call.count()) + " ms in " +
             std::string(where);
      break;
    case ErrorCode::kMemoryLimit:
      text = who + " hit its memory limit of " + human_bytes(inst.limits.memory_bytes) + " in " +
             std::string(where);
      break;
    default:
      // Cause first for people; the backtrace after it for whoever debugs the guest.
      text = who + " trapped in " + std::string(where) + ": " + root_cause(wasmtime_message) +
             "\n" + wasmtime_message.substr(0, 4096);
      break;
  }
  return Error{code, std::move(text)};
}

// Runs one lifecycle export under a fresh fuel budget and wall-time deadline. `invoke` makes the
// actual call (dynamic or typed) and returns Wasmtime's raw error, or nullptr on success.
template <typename Invoke>
Status guarded_call(ComponentInstanceImpl& inst, LifecycleExport which, Invoke&& invoke) {
  if (inst.failure) {
    return make_error(ErrorCode::kUnavailable, "component " + inst.id.to_string() +
                                                   " cannot be called after an earlier failure (" +
                                                   std::string(to_string(inst.failure->code)) +
                                                   "); restart it");
  }
  auto cx = inst.store.context();
  (void)cx.set_fuel(inst.limits.fuel_per_call);
  cx.set_epoch_deadline(inst.epoch_ticks_per_call);
  wasmtime_error_t* raw = invoke(cx);
  auto remaining = cx.get_fuel();
  const std::uint64_t used = remaining ? inst.limits.fuel_per_call - remaining.ok() : 0;
  inst.stats.calls++;
  inst.stats.fuel_consumed_last = used;
  inst.stats.fuel_consumed_total += used;
  if (raw != nullptr) {
    const wasmtime::Error error(raw);
    inst.failure = describe_failure(inst, export_name(which), error.message());
    return *inst.failure;
  }
  return ok();
}

// Calls an export through the dynamic value API.
Result<Val> call_export(ComponentInstanceImpl& inst, LifecycleExport which,
                        std::span<const Val> args) {
  std::array<Val, 1> results{Val(false)};
  const auto& func = inst.lifecycle[static_cast<std::size_t>(which)];
  const std::size_t n_results = which == LifecycleExport::kShutdown ? 0 : 1;
  Status s = guarded_call(inst, which, [&](wasmtime::Store::Context cx) -> wasmtime_error_t* {
    auto r = func.call(cx, wasmtime::Span<const Val>(args.data(), args.size()),
                       wasmtime::Span<Val>(results.data(), n_results));
    return r ? nullptr : r.err().capi_release();
  });
  if (!s) return std::move(s).error();
  return std::move(results[0]);
}

Error named_guest_error(const ComponentInstanceImpl& inst, LifecycleExport which, Error e) {
  e.message = "component " + inst.id.to_string() + " " + std::string(export_name(which)) +
              " returned an error: " + e.message;
  return e;
}

// Unwraps result<T, error> returned by the guest; a guest error keeps its code and names the
// instance.
Result<const Val*> unwrap_guest_result(const ComponentInstanceImpl& inst, LifecycleExport which,
                                       const Val& v) {
  if (!v.is_result()) {
    return make_error(ErrorCode::kInternal,
                      "unexpected return type from " + std::string(export_name(which)));
  }
  const auto& res = v.get_result();
  if (res.is_ok()) return res.payload();
  return named_guest_error(inst, which,
                           res.payload() != nullptr ? wit::val_to_error(*res.payload())
                                                    : Error{ErrorCode::kInternal, ""});
}

}  // namespace

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
CallStats ComponentInstance::stats() const {
  return impl_->stats;
}

Status ComponentInstance::init(const KeyValues& config) {
  const std::array<Val, 1> args{wit::key_values_to_val(config)};
  auto r = call_export(*impl_, LifecycleExport::kInit, args);
  if (!r) return std::move(r).error();
  auto inner = unwrap_guest_result(*impl_, LifecycleExport::kInit, *r);
  if (!inner) return std::move(inner).error();
  return ok();
}

Result<std::optional<Payload>> ComponentInstance::handle_message(const ComponentMessage& message) {
  if (impl_->typed_calls) {
    typed::Outcome out;
    const auto& func = impl_->lifecycle[static_cast<std::size_t>(LifecycleExport::kHandleMessage)];
    Status s = guarded_call(*impl_, LifecycleExport::kHandleMessage,
                            [&](auto cx) { return typed::handle_message(func, cx, message, out); });
    if (!s) return std::move(s).error();
    if (out.is_guest_error()) {
      return named_guest_error(*impl_, LifecycleExport::kHandleMessage, out.guest_error());
    }
    return out.payload();
  }
  const std::array<Val, 1> args{wit::message_to_val(message)};
  auto r = call_export(*impl_, LifecycleExport::kHandleMessage, args);
  if (!r) return std::move(r).error();
  auto inner = unwrap_guest_result(*impl_, LifecycleExport::kHandleMessage, *r);
  if (!inner) return std::move(inner).error();
  const Val* option = *inner;
  if (option == nullptr || !option->is_option()) {
    return make_error(ErrorCode::kInternal, "handle-message returned a malformed option");
  }
  const Val* payload = option->get_option().value();
  if (payload == nullptr) return std::optional<Payload>{};
  auto p = wit::val_to_payload(*payload);
  if (!p) return std::move(p).error();
  return std::optional<Payload>{std::move(*p)};
}

Status ComponentInstance::handle_callback(const CallbackResponse& response) {
  if (impl_->typed_calls) {
    typed::Outcome out;
    const auto& func = impl_->lifecycle[static_cast<std::size_t>(LifecycleExport::kHandleCallback)];
    Status s = guarded_call(*impl_, LifecycleExport::kHandleCallback, [&](auto cx) {
      return typed::handle_callback(func, cx, response, out);
    });
    if (!s) return s;
    if (out.is_guest_error()) {
      return named_guest_error(*impl_, LifecycleExport::kHandleCallback, out.guest_error());
    }
    return ok();
  }
  const std::array<Val, 1> args{wit::callback_to_val(response)};
  auto r = call_export(*impl_, LifecycleExport::kHandleCallback, args);
  if (!r) return std::move(r).error();
  auto inner = unwrap_guest_result(*impl_, LifecycleExport::kHandleCallback, *r);
  if (!inner) return std::move(inner).error();
  return ok();
}

Result<HealthStatus> ComponentInstance::health() {
  auto r = call_export(*impl_, LifecycleExport::kHealth, {});
  if (!r) return std::move(r).error();
  return wit::val_to_health(*r);
}

Status ComponentInstance::shutdown() {
  auto r = call_export(*impl_, LifecycleExport::kShutdown, {});
  if (!r) return std::move(r).error();
  return ok();
}

Result<ComponentMetadata> ComponentInstance::metadata() {
  auto r = call_export(*impl_, LifecycleExport::kMetadata, {});
  if (!r) return std::move(r).error();
  return wit::val_to_metadata(*r);
}

// -- WasmEngine::instantiate lives here: it builds the Store this file drives. ------------------

Result<ComponentInstance> WasmEngine::instantiate(const CompiledComponent& component,
                                                  InstanceOptions options) {
  const auto& compiled = component.impl();
  const auto& defaults = impl_->config.default_limits;
  ResourceLimits limits = options.limits;
  if (limits.memory_bytes == 0) limits.memory_bytes = defaults.memory_bytes;
  if (limits.fuel_per_call == 0) limits.fuel_per_call = defaults.fuel_per_call;
  if (limits.wall_time_per_call.count() == 0)
    limits.wall_time_per_call = defaults.wall_time_per_call;
  if (impl_->config.pooling.enabled &&
      limits.memory_bytes > impl_->config.pooling.max_memory_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "memory limit " + human_bytes(limits.memory_bytes) + " for " +
                          options.id.to_string() + " exceeds the engine's pooling slot of " +
                          human_bytes(impl_->config.pooling.max_memory_bytes));
  }

  auto inst = std::make_unique<ComponentInstanceImpl>(impl_->engine);
  inst->id = std::move(options.id);
  inst->component_name = compiled.name;
  inst->limits = limits;
  const auto tick = impl_->config.epoch_tick.count();
  // +1: the current tick may be about to end, so a deadline of n ticks can be up to one short.
  inst->epoch_ticks_per_call =
      static_cast<std::uint64_t>((limits.wall_time_per_call.count() + tick - 1) / tick) + 1;
  inst->host =
      options.host ? std::move(options.host) : std::make_shared<StandaloneHostApi>(inst->id);

  inst->store.limiter(static_cast<std::int64_t>(limits.memory_bytes), -1, -1, -1, -1);
  auto cx = inst->store.context();
  cx.set_data(StoreState{inst->host.get()});
  // Instantiation runs the guest's start-up code (static constructors): bound it like a call.
  (void)cx.set_fuel(limits.fuel_per_call);
  cx.set_epoch_deadline(inst->epoch_ticks_per_call);
  if (compiled.needs_wasi) {
    // No preopened dirs, env or args: WASI clocks and random only, stdio discarded.
    if (auto r = cx.set_wasi(wasmtime::WasiConfig()); !r) {
      return make_error(ErrorCode::kInternal, "configuring WASI: " + r.err().message());
    }
  }
  auto instance = impl_->linker.instantiate(cx, compiled.component);
  if (!instance) {
    const std::string msg = instance.err().message();
    ErrorCode code = classify_call_failure(msg);
    if (msg.find("concurrent") != std::string::npos || msg.find("pooling") != std::string::npos) {
      code = ErrorCode::kUnavailable;
    } else if (code == ErrorCode::kInternal) {
      code = ErrorCode::kIncompatible;  // link errors: a missing or mistyped import
    }
    return make_error(code, "instantiating component " + inst->id.to_string() + " (" +
                                compiled.name + "): " + first_line(msg));
  }
  inst->instance.emplace(instance.ok());
  for (const auto& idx : compiled.lifecycle) {
    auto func = inst->instance->get_func(cx, idx);
    if (!func) {
      return make_error(ErrorCode::kIncompatible,
                        "component " + compiled.name + " lost a lifecycle export");
    }
    inst->lifecycle.push_back(*func);
  }
  inst->typed_calls =
      impl_->config.typed_calls &&
      typed::typecheck(inst->lifecycle[static_cast<std::size_t>(LifecycleExport::kHandleMessage)],
                       inst->lifecycle[static_cast<std::size_t>(LifecycleExport::kHandleCallback)],
                       cx);
  impl_->instances_created.fetch_add(1, std::memory_order_relaxed);
  return ComponentInstance(std::move(inst));
}

}  // namespace capsule::wasm

#include "host_linker.hpp"

#include <any>
#include <string>
#include <utility>

#include <capsule/wasm/wit_contract.hpp>

#include "wit_values.hpp"

namespace capsule::wasm {
namespace {

using wasmtime::Span;
using wasmtime::component::FuncType;
using wasmtime::component::LinkerInstance;
using wasmtime::component::Val;
using wasmtime::component::WitOption;
using HostResult = wasmtime::Result<std::monostate>;

HostApi& host_of(wasmtime::Store::Context cx) {
  return *std::any_cast<StoreState&>(cx.get_data()).host;
}

// A malformed argument can only come from a component whose types passed linking, i.e. a bug in
// the lifting code; trapping is the honest answer rather than inventing a value.
HostResult trap(const Error& e) {
  return wasmtime::Error("capsule host: " + e.describe());
}

Val status_to_val(const Status& s) {
  return s ? wit::ok_val(std::nullopt) : wit::err_val(s.error());
}

std::string interface_name(std::string_view iface) {
  return std::string(kWitPackage) + "/" + std::string(iface) + "@" + std::string(kWitVersion);
}

using Context = wasmtime::Store::Context;
using HostFn = HostResult (*)(Context, Span<Val>, Span<Val>);

struct HostFunction {
  std::string_view name;
  HostFn fn;
};

HostResult done() {
  return std::monostate{};
}

Result<std::string> string_arg(Span<Val> args, std::size_t i) {
  if (!args[i].is_string()) return make_error(ErrorCode::kInvalidArgument, "expected string");
  return std::string(args[i].get_string());
}

template <typename T>
Val result_val(const Result<T>& r) {
  return r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
}

// -- messaging ----------------------------------------------------------------------------------

HostResult messaging_send(Context cx, Span<Val> args, Span<Val> results) {
  auto target = wit::val_to_component_id(args[0]);
  if (!target) return trap(target.error());
  auto payload = wit::val_to_payload(args[1]);
  if (!payload) return trap(payload.error());
  results[0] = status_to_val(host_of(cx).send(*target, std::move(*payload)));
  return done();
}

HostResult messaging_request(Context cx, Span<Val> args, Span<Val> results) {
  auto target = wit::val_to_component_id(args[0]);
  if (!target) return trap(target.error());
  auto payload = wit::val_to_payload(args[1]);
  if (!payload) return trap(payload.error());
  if (!args[2].is_u32()) return trap(make_error(ErrorCode::kInvalidArgument, "timeout-ms"));
  results[0] = result_val(host_of(cx).request(*target, std::move(*payload), args[2].get_u32()));
  return done();
}

HostResult messaging_cancel(Context cx, Span<Val> args, Span<Val> results) {
  if (!args[0].is_u64()) return trap(make_error(ErrorCode::kInvalidArgument, "correlation-id"));
  results[0] = status_to_val(host_of(cx).cancel(args[0].get_u64()));
  return done();
}

HostResult messaging_broadcast(Context cx, Span<Val> args, Span<Val> results) {
  if (!args[0].is_list()) return trap(make_error(ErrorCode::kInvalidArgument, "targets"));
  std::vector<ComponentId> targets;
  targets.reserve(args[0].get_list().size());
  for (const Val& v : args[0].get_list()) {
    auto id = wit::val_to_component_id(v);
    if (!id) return trap(id.error());
    targets.push_back(std::move(*id));
  }
  auto payload = wit::val_to_payload(args[1]);
  if (!payload) return trap(payload.error());
  results[0] = result_val(host_of(cx).broadcast(targets, std::move(*payload)));
  return done();
}

HostResult messaging_publish(Context cx, Span<Val> args, Span<Val> results) {
  auto topic = string_arg(args, 0);
  if (!topic) return trap(topic.error());
  auto payload = wit::val_to_payload(args[1]);
  if (!payload) return trap(payload.error());
  results[0] = result_val(host_of(cx).publish(*topic, std::move(*payload)));
  return done();
}

HostResult messaging_subscribe(Context cx, Span<Val> args, Span<Val> results) {
  auto topic = string_arg(args, 0);
  if (!topic) return trap(topic.error());
  results[0] = status_to_val(host_of(cx).subscribe(*topic));
  return done();
}

HostResult messaging_unsubscribe(Context cx, Span<Val> args, Span<Val> results) {
  auto topic = string_arg(args, 0);
  if (!topic) return trap(topic.error());
  results[0] = status_to_val(host_of(cx).unsubscribe(*topic));
  return done();
}

HostResult messaging_self_id(Context cx, Span<Val>, Span<Val> results) {
  results[0] = wit::component_id_to_val(host_of(cx).self_id());
  return done();
}

// -- services -----------------------------------------------------------------------------------

HostResult services_log(Context cx, Span<Val> args, Span<Val>) {
  auto level = wit::val_to_log_level(args[0]);
  if (!level) return trap(level.error());
  auto message = string_arg(args, 1);
  if (!message) return trap(message.error());
  auto fields = wit::val_to_key_values(args[2]);
  if (!fields) return trap(fields.error());
  host_of(cx).log(*level, *message, *fields);
  return done();
}

HostResult services_monotonic_now(Context cx, Span<Val>, Span<Val> results) {
  results[0] = Val(host_of(cx).monotonic_now_ns());
  return done();
}

HostResult services_wall_clock_now(Context cx, Span<Val>, Span<Val> results) {
  results[0] = Val(host_of(cx).wall_clock_now_ms());
  return done();
}

HostResult services_list_components(Context cx, Span<Val>, Span<Val> results) {
  auto r = host_of(cx).list_components();
  if (!r) {
    results[0] = wit::err_val(r.error());
    return done();
  }
  std::vector<Val> ids;
  ids.reserve(r->size());
  for (const auto& id : *r) ids.push_back(wit::component_id_to_val(id));
  results[0] = wit::ok_val(Val(wasmtime::component::List(std::move(ids))));
  return done();
}

HostResult services_metadata_of(Context cx, Span<Val> args, Span<Val> results) {
  auto id = wit::val_to_component_id(args[0]);
  if (!id) return trap(id.error());
  auto r = host_of(cx).component_metadata(*id);
  results[0] = r ? wit::ok_val(wit::metadata_to_val(*r)) : wit::err_val(r.error());
  return done();
}

// -- storage ------------------------------------------------------------------------------------

HostResult storage_get(Context cx, Span<Val> args, Span<Val> results) {
  auto key = string_arg(args, 0);
  if (!key) return trap(key.error());
  auto r = host_of(cx).storage_get(*key);
  if (!r) {
    results[0] = wit::err_val(r.error());
    return done();
  }
  std::optional<Val> value;
  if (*r) value = wit::bytes_to_val(**r);
  results[0] = wit::ok_val(Val(WitOption(std::move(value))));
  return done();
}

HostResult storage_set(Context cx, Span<Val> args, Span<Val> results) {
  auto key = string_arg(args, 0);
  if (!key) return trap(key.error());
  auto bytes = wit::val_to_bytes(args[1]);
  if (!bytes) return trap(bytes.error());
  results[0] = status_to_val(host_of(cx).storage_set(*key, std::move(*bytes)));
  return done();
}

HostResult storage_delete(Context cx, Span<Val> args, Span<Val> results) {
  auto key = string_arg(args, 0);
  if (!key) return trap(key.error());
  results[0] = result_val(host_of(cx).storage_delete(*key));
  return done();
}

HostResult storage_exists(Context cx, Span<Val> args, Span<Val> results) {
  auto key = string_arg(args, 0);
  if (!key) return trap(key.error());
  results[0] = result_val(host_of(cx).storage_exists(*key));
  return done();
}

HostResult storage_list_keys(Context cx, Span<Val> args, Span<Val> results) {
  auto prefix = string_arg(args, 0);
  if (!prefix) return trap(prefix.error());
  auto r = host_of(cx).storage_list_keys(*prefix);
  results[0] = r ? wit::ok_val(wit::string_list_to_val(*r)) : wit::err_val(r.error());
  return done();
}

HostResult storage_usage(Context cx, Span<Val>, Span<Val> results) {
  auto r = host_of(cx).storage_usage();
  if (!r) {
    results[0] = wit::err_val(r.error());
    return done();
  }
  results[0] = wit::ok_val(Val(wasmtime::component::Record({
      {"bytes", Val(r->bytes)},
      {"keys", Val(r->keys)},
      {"quota-bytes", Val(r->quota_bytes)},
      {"quota-keys", Val(r->quota_keys)},
  })));
  return done();
}

struct Interface {
  std::string_view name;
  std::vector<HostFunction> functions;
};

// The table is the whole host surface: one row per function of wit/{messaging,services,storage}.
const std::vector<Interface>& host_interfaces() {
  static const std::vector<Interface> kInterfaces{
      {"types", {}},  // types only; components that use them import the interface all the same
      {"messaging",
       {{"send", messaging_send},
        {"request", messaging_request},
        {"cancel", messaging_cancel},
        {"broadcast", messaging_broadcast},
        {"publish", messaging_publish},
        {"subscribe", messaging_subscribe},
        {"unsubscribe", messaging_unsubscribe},
        {"self-id", messaging_self_id}}},
      {"services",
       {{"log", services_log},
        {"monotonic-now-ns", services_monotonic_now},
        {"wall-clock-now-ms", services_wall_clock_now},
        {"list-components", services_list_components},
        {"metadata-of", services_metadata_of}}},
      {"storage",
       {{"get", storage_get},
        {"set", storage_set},
        {"delete", storage_delete},
        {"exists", storage_exists},
        {"list-keys", storage_list_keys},
        {"usage", storage_usage}}},
  };
  return kInterfaces;
}

}  // namespace

Status define_host_interfaces(wasmtime::component::Linker& linker) {
  LinkerInstance root = linker.root();
  for (const Interface& iface : host_interfaces()) {
    const std::string name = interface_name(iface.name);
    auto inst = root.add_instance(name);
    if (!inst) {
      return make_error(ErrorCode::kInternal, "defining " + name + ": " + inst.err().message());
    }
    LinkerInstance child = std::move(inst).ok();
    for (const HostFunction& f : iface.functions) {
      auto r =
          child.add_func(f.name, [fn = f.fn](Context cx, const FuncType&, Span<Val> args,
                                             Span<Val> results) { return fn(cx, args, results); });
      if (!r) {
        return make_error(ErrorCode::kInternal, "defining host function " + name + "." +
                                                    std::string(f.name) + ": " + r.err().message());
      }
    }
  }
  return ok();
}

}  // namespace capsule::wasm

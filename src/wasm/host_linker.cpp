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
HostResult trap(const Error& e) { return wasmtime::Error("capsule host: " + e.describe()); }

template <typename T>
Val to_result_val(Result<T> r, Val (*convert)(T&&)) {
  if (!r) return wit::err_val(r.error());
  return wit::ok_val(convert(std::move(*r)));
}

Val status_to_val(const Status& s) {
  return s ? wit::ok_val(std::nullopt) : wit::err_val(s.error());
}

std::string interface_name(std::string_view iface) {
  return std::string(kWitPackage) + "/" + std::string(iface) + "@" + std::string(kWitVersion);
}

// Lifts arguments [target: component-id, payload: payload] used by send and request.
template <typename F>
HostResult with_target_payload(Span<Val> args, F&& f) {
  auto target = wit::val_to_component_id(args[0]);
  if (!target) return trap(target.error());
  auto payload = wit::val_to_payload(args[1]);
  if (!payload) return trap(payload.error());
  f(std::move(*target), std::move(*payload));
  return std::monostate{};
}

template <typename F>
HostResult with_string(Span<Val> args, std::size_t i, F&& f) {
  if (!args[i].is_string()) return trap(make_error(ErrorCode::kInvalidArgument, "expected string"));
  f(std::string(args[i].get_string()));
  return std::monostate{};
}

Status add(LinkerInstance& inst, std::string_view name,
           HostResult (*fn)(wasmtime::Store::Context, Span<Val>, Span<Val>)) {
  auto r = inst.add_func(name, [fn](wasmtime::Store::Context cx, const FuncType&, Span<Val> args,
                                    Span<Val> results) { return fn(cx, args, results); });
  if (!r) {
    return make_error(ErrorCode::kInternal,
                      "defining host function '" + std::string(name) + "': " + r.err().message());
  }
  return ok();
}

Status define_messaging(LinkerInstance& inst) {
  Status s = add(inst, "send", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_target_payload(args, [&](ComponentId target, Payload payload) {
      results[0] = status_to_val(host_of(cx).send(target, std::move(payload)));
    });
  });
  if (s) s = add(inst, "request", [](auto cx, Span<Val> args, Span<Val> results) {
    if (!args[2].is_u32()) return trap(make_error(ErrorCode::kInvalidArgument, "timeout-ms"));
    const std::uint32_t timeout = args[2].get_u32();
    return with_target_payload(args, [&](ComponentId target, Payload payload) {
      auto r = host_of(cx).request(target, std::move(payload), timeout);
      results[0] = r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
    });
  });
  if (s) s = add(inst, "cancel", [](auto cx, Span<Val> args, Span<Val> results) -> HostResult {
    if (!args[0].is_u64()) return trap(make_error(ErrorCode::kInvalidArgument, "correlation-id"));
    results[0] = status_to_val(host_of(cx).cancel(args[0].get_u64()));
    return std::monostate{};
  });
  if (s) s = add(inst, "broadcast", [](auto cx, Span<Val> args, Span<Val> results) -> HostResult {
    if (!args[0].is_list()) return trap(make_error(ErrorCode::kInvalidArgument, "targets"));
    std::vector<ComponentId> targets;
    for (const Val& v : args[0].get_list()) {
      auto id = wit::val_to_component_id(v);
      if (!id) return trap(id.error());
      targets.push_back(std::move(*id));
    }
    auto payload = wit::val_to_payload(args[1]);
    if (!payload) return trap(payload.error());
    auto r = host_of(cx).broadcast(targets, std::move(*payload));
    results[0] = r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
    return std::monostate{};
  });
  if (s) s = add(inst, "publish", [](auto cx, Span<Val> args, Span<Val> results) -> HostResult {
    auto payload = wit::val_to_payload(args[1]);
    if (!payload) return trap(payload.error());
    return with_string(args, 0, [&](std::string topic) {
      auto r = host_of(cx).publish(topic, std::move(*payload));
      results[0] = r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
    });
  });
  if (s) s = add(inst, "subscribe", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string topic) {
      results[0] = status_to_val(host_of(cx).subscribe(topic));
    });
  });
  if (s) s = add(inst, "unsubscribe", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string topic) {
      results[0] = status_to_val(host_of(cx).unsubscribe(topic));
    });
  });
  if (s) s = add(inst, "self-id", [](auto cx, Span<Val>, Span<Val> results) -> HostResult {
    results[0] = wit::component_id_to_val(host_of(cx).self_id());
    return std::monostate{};
  });
  return s;
}

Status define_services(LinkerInstance& inst) {
  Status s = add(inst, "log", [](auto cx, Span<Val> args, Span<Val>) -> HostResult {
    auto level = wit::val_to_log_level(args[0]);
    if (!level) return trap(level.error());
    auto fields = wit::val_to_key_values(args[2]);
    if (!fields) return trap(fields.error());
    return with_string(args, 1, [&](std::string message) {
      host_of(cx).log(*level, message, *fields);
    });
  });
  if (s) s = add(inst, "monotonic-now-ns", [](auto cx, Span<Val>, Span<Val> results) -> HostResult {
    results[0] = Val(host_of(cx).monotonic_now_ns());
    return std::monostate{};
  });
  if (s) s = add(inst, "wall-clock-now-ms", [](auto cx, Span<Val>, Span<Val> results) -> HostResult {
    results[0] = Val(host_of(cx).wall_clock_now_ms());
    return std::monostate{};
  });
  if (s) s = add(inst, "list-components", [](auto cx, Span<Val>, Span<Val> results) -> HostResult {
    auto r = host_of(cx).list_components();
    if (!r) {
      results[0] = wit::err_val(r.error());
      return std::monostate{};
    }
    std::vector<Val> ids;
    for (const auto& id : *r) ids.push_back(wit::component_id_to_val(id));
    results[0] = wit::ok_val(Val(wasmtime::component::List(std::move(ids))));
    return std::monostate{};
  });
  if (s) s = add(inst, "metadata-of", [](auto cx, Span<Val> args, Span<Val> results) -> HostResult {
    auto id = wit::val_to_component_id(args[0]);
    if (!id) return trap(id.error());
    auto r = host_of(cx).component_metadata(*id);
    results[0] = r ? wit::ok_val(wit::metadata_to_val(*r)) : wit::err_val(r.error());
    return std::monostate{};
  });
  return s;
}

Status define_storage(LinkerInstance& inst) {
  Status s = add(inst, "get", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string key) {
      auto r = host_of(cx).storage_get(key);
      if (!r) {
        results[0] = wit::err_val(r.error());
        return;
      }
      std::optional<Val> value;
      if (*r) value = wit::bytes_to_val(**r);
      results[0] = wit::ok_val(Val(WitOption(std::move(value))));
    });
  });
  if (s) s = add(inst, "set", [](auto cx, Span<Val> args, Span<Val> results) -> HostResult {
    auto bytes = wit::val_to_bytes(args[1]);
    if (!bytes) return trap(bytes.error());
    return with_string(args, 0, [&](std::string key) {
      results[0] = status_to_val(host_of(cx).storage_set(key, std::move(*bytes)));
    });
  });
  if (s) s = add(inst, "delete", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string key) {
      auto r = host_of(cx).storage_delete(key);
      results[0] = r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
    });
  });
  if (s) s = add(inst, "exists", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string key) {
      auto r = host_of(cx).storage_exists(key);
      results[0] = r ? wit::ok_val(Val(*r)) : wit::err_val(r.error());
    });
  });
  if (s) s = add(inst, "list-keys", [](auto cx, Span<Val> args, Span<Val> results) {
    return with_string(args, 0, [&](std::string prefix) {
      auto r = host_of(cx).storage_list_keys(prefix);
      results[0] = r ? wit::ok_val(wit::string_list_to_val(*r)) : wit::err_val(r.error());
    });
  });
  if (s) s = add(inst, "usage", [](auto cx, Span<Val>, Span<Val> results) -> HostResult {
    auto r = host_of(cx).storage_usage();
    if (!r) {
      results[0] = wit::err_val(r.error());
      return std::monostate{};
    }
    results[0] = wit::ok_val(Val(wasmtime::component::Record({
        {"bytes", Val(r->bytes)},
        {"keys", Val(r->keys)},
        {"quota-bytes", Val(r->quota_bytes)},
        {"quota-keys", Val(r->quota_keys)},
    })));
    return std::monostate{};
  });
  return s;
}

}  // namespace

Status define_host_interfaces(wasmtime::component::Linker& linker) {
  LinkerInstance root = linker.root();
  struct Iface {
    std::string_view name;
    Status (*define)(LinkerInstance&);
  };
  constexpr auto define_types = [](LinkerInstance&) { return ok(); };  // types only, no functions
  for (const Iface& iface : {Iface{"types", define_types}, Iface{"messaging", define_messaging},
                             Iface{"services", define_services},
                             Iface{"storage", define_storage}}) {
    auto inst = root.add_instance(interface_name(iface.name));
    if (!inst) {
      return make_error(ErrorCode::kInternal, "defining " + interface_name(iface.name) + ": " +
                                                  inst.err().message());
    }
    LinkerInstance child = std::move(inst).ok();
    Status s = iface.define(child);
    if (!s) return s;
  }
  return ok();
}

}  // namespace capsule::wasm

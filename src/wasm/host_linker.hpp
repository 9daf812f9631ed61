#pragma once

#include <wasmtime/component.hh>

#include <capsule/core/result.hpp>
#include <capsule/wasm/host_api.hpp>

namespace capsule::wasm {

// What a Store carries in its user data: the host bindings of the instance it runs.
struct StoreState {
  HostApi* host = nullptr;
};

// Defines capsule:core/{messaging,services,storage}@<kWitVersion> in `linker`. Each entry lifts
// the guest's arguments, calls the calling instance's HostApi and lowers the result.
[[nodiscard]] Status define_host_interfaces(wasmtime::component::Linker& linker);

}  // namespace capsule::wasm

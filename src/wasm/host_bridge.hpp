#pragma once

#include <capsule/wasm/host_api.hpp>

#include "shim.hpp"

namespace capsule::wasm {

// The C++ answers to the guest imports that the Rust boundary generates from wit/: each entry
// turns byte spans into the HostApi call of the calling instance (`host` is its HostApi*) and
// writes the result back through capsule_answer_*. Every entry catches: no C++ exception may
// unwind into Rust.
[[nodiscard]] const capsule_host_vtable_t& host_vtable() noexcept;

}  // namespace capsule::wasm

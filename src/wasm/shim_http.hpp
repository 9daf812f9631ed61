#pragma once

// The C ABI of the Rust crate's wasi:http/proxy calls (third_party/wasmtime-capi/src/
// http_proxy.rs): the instance's wasi-http state, instantiation and one request as shim calls
// (capsule_call_t, polled like every guest call), the response read back from the state. Byte
// spans in, results out. Only src/wasm includes this.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "shim.hpp"

extern "C" {

struct capsule_http_state_t;

struct capsule_http_header_t {
  capsule_bytes_t name, value;
};
struct capsule_http_request_t {
  capsule_bytes_t method, scheme, authority, path_with_query;
  const capsule_http_header_t* headers;
  std::size_t header_count;
  capsule_bytes_t body;
};
struct capsule_http_response_t {
  std::uint16_t status;
  std::size_t header_count;
  capsule_bytes_t body;
  std::size_t denied_count;
};

// Adds wasi:http 0.2 (types, outgoing-handler) to a linker that already has WASI 0.2.
wasmtime_error_t* capsule_linker_add_wasi_http(wasmtime_component_linker_t* linker);
// Null when a pattern is not UTF-8.
capsule_http_state_t* capsule_http_state_new(std::uint64_t max_response_bytes,
                                             const capsule_bytes_t* allowed, std::size_t n);
void capsule_http_state_delete(capsule_http_state_t* state);
capsule_call_t* capsule_http_instantiate(const wasmtime_component_linker_t* linker,
                                         wasmtime_context_t* cx,
                                         const wasmtime_component_t* component,
                                         capsule_http_state_t* state);
// The request is read before this returns; the state and store stay untouched until the call
// is ready or deleted.
capsule_call_t* capsule_http_handle(capsule_http_state_t* state, wasmtime_context_t* cx,
                                    const capsule_http_request_t* request);
// The last finished call's response (false: none); spans live until the state's next call.
bool capsule_http_response(const capsule_http_state_t* state, capsule_http_response_t* out);
bool capsule_http_response_header(const capsule_http_state_t* state, std::size_t i,
                                  capsule_bytes_t* name, capsule_bytes_t* value);
bool capsule_http_denied(const capsule_http_state_t* state, std::size_t i, capsule_bytes_t* out);
std::uint64_t capsule_http_denied_total(const capsule_http_state_t* state);

}  // extern "C"

namespace capsule::wasm::shim {

struct HttpStateDeleter {
  void operator()(capsule_http_state_t* s) const noexcept { capsule_http_state_delete(s); }
};
using HttpState = std::unique_ptr<capsule_http_state_t, HttpStateDeleter>;

}  // namespace capsule::wasm::shim

#pragma once

// Typed calls of handle-message and handle-callback, implemented in the Rust shim crate
// (third_party/wasmtime-capi/src/typed_lifecycle.rs) with Wasmtime's typed component API so that
// payload bytes cross the canonical ABI in bulk rather than one dynamic value per byte.
// The structs mirror the #[repr(C)] ones there field for field.

#include <cstddef>
#include <cstdint>
#include <optional>

#include <wasmtime.h>
#include <wasmtime/component.hh>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>

extern "C" {
struct capsule_bytes_t {
  const std::uint8_t* ptr;
  std::size_t len;
};
struct capsule_id_t {
  capsule_bytes_t ns;
  capsule_bytes_t name;
  capsule_bytes_t instance;
};
struct capsule_message_t {
  capsule_id_t sender;
  std::uint32_t codec;
  capsule_bytes_t payload;
  bool has_correlation;
  std::uint64_t correlation;
  bool has_topic;
  capsule_bytes_t topic;
};
struct capsule_callback_t {
  std::uint64_t correlation;
  capsule_id_t responder;
  bool is_ok;
  std::uint32_t codec;
  capsule_bytes_t payload;
  std::uint8_t error_tag;
  capsule_bytes_t error_text;
};
struct capsule_outcome_t {
  std::uint8_t status;  // 0 ok/none, 1 ok/payload, 2 guest error
  std::uint32_t codec;
  std::uint8_t error_tag;
  std::uint8_t* data;
  std::size_t len;
  std::size_t cap;
};
wasmtime_error_t* capsule_lifecycle_typecheck(const wasmtime_component_func_t* handle_message,
                                              const wasmtime_component_func_t* handle_callback,
                                              wasmtime_context_t* cx);
wasmtime_error_t* capsule_lifecycle_handle_message(const wasmtime_component_func_t* func,
                                                   wasmtime_context_t* cx,
                                                   const capsule_message_t* msg,
                                                   capsule_outcome_t* out);
wasmtime_error_t* capsule_lifecycle_handle_callback(const wasmtime_component_func_t* func,
                                                    wasmtime_context_t* cx,
                                                    const capsule_callback_t* cb,
                                                    capsule_outcome_t* out);
void capsule_outcome_free(capsule_outcome_t* out);
}

namespace capsule::wasm::typed {

// Owns the buffer Rust filled in; frees it through Rust's allocator.
class Outcome {
 public:
  Outcome() = default;
  ~Outcome() { capsule_outcome_free(&raw_); }
  Outcome(const Outcome&) = delete;
  Outcome& operator=(const Outcome&) = delete;

  capsule_outcome_t* get() { return &raw_; }
  [[nodiscard]] bool is_guest_error() const { return raw_.status == 2; }
  [[nodiscard]] std::optional<Payload> payload() const;
  // The guest's WIT error as our Error (code from the variant case, text as message).
  [[nodiscard]] Error guest_error() const;

 private:
  capsule_outcome_t raw_{};
};

// True if the instance's exports have the shapes the typed calls assume.
[[nodiscard]] bool typecheck(const wasmtime::component::Func& handle_message,
                             const wasmtime::component::Func& handle_callback,
                             wasmtime::Store::Context cx);

// Both return the raw Wasmtime error of a failed call (nullptr on success), for the caller's
// common failure classification.
[[nodiscard]] wasmtime_error_t* handle_message(const wasmtime::component::Func& func,
                                               wasmtime::Store::Context cx,
                                               const ComponentMessage& message, Outcome& out);
[[nodiscard]] wasmtime_error_t* handle_callback(const wasmtime::component::Func& func,
                                                wasmtime::Store::Context cx,
                                                const CallbackResponse& response, Outcome& out);

}  // namespace capsule::wasm::typed

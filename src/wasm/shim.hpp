#pragma once

// The C ABI of the Rust boundary crate (third_party/wasmtime-capi/src): generated, typed, async
// lifecycle calls. Byte spans in, results out; every span a call borrows stays valid, and the
// store stays untouched, until that call is ready or deleted. Only src/wasm includes this.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <wasmtime.h>
#include <wasmtime/component.h>

extern "C" {

struct capsule_reactor_t;
struct capsule_call_t;
struct capsule_exports_t;
struct capsule_limiter_t;
struct capsule_stack_pool_t;
struct capsule_stack_t;
struct capsule_component_pre_t;

struct capsule_bytes_t {
  const std::uint8_t* ptr;
  std::size_t len;
};
struct capsule_id_t {
  capsule_bytes_t ns, name, instance;
};
struct capsule_kv_t {
  capsule_bytes_t key, value;
};
// One message of messaging.send-batch (capsule:core 0.1.2); views valid during the call only.
struct capsule_batch_entry_t {
  capsule_id_t target;
  std::uint32_t codec;
  capsule_bytes_t payload;
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
struct capsule_waker_t {
  void* data;
  void (*wake)(void*);
  void (*retain)(void*);
  void (*release)(void*);
};
struct capsule_call_result_t {
  std::uint8_t status;
  std::uint8_t failure;
  std::uint8_t error_tag;
  std::uint8_t health;
  bool has_payload;
  std::uint32_t codec;
  capsule_bytes_t data;
};
struct capsule_metadata_t {
  capsule_bytes_t name, version, description;
  std::size_t label_count;
};

struct capsule_answer_t;
struct capsule_pending_t;
struct capsule_host_vtable_t {
  void (*send)(void* host, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
               capsule_answer_t* out);
  void (*request)(void* host, const capsule_id_t* target, std::uint32_t codec,
                  capsule_bytes_t payload, std::uint32_t timeout_ms, capsule_answer_t* out);
  void (*cancel)(void* host, std::uint64_t correlation, capsule_answer_t* out);
  void (*broadcast)(void* host, const capsule_id_t* targets, std::size_t n, std::uint32_t codec,
                    capsule_bytes_t payload, capsule_answer_t* out);
  void (*publish)(void* host, capsule_bytes_t topic, std::uint32_t codec, capsule_bytes_t payload,
                  capsule_answer_t* out);
  void (*subscribe)(void* host, capsule_bytes_t topic, capsule_answer_t* out);
  void (*unsubscribe)(void* host, capsule_bytes_t topic, capsule_answer_t* out);
  void (*self_id)(void* host, capsule_answer_t* out);
  void (*log)(void* host, std::uint8_t level, capsule_bytes_t message, const capsule_kv_t* fields,
              std::size_t n);
  std::uint64_t (*monotonic_now_ns)(void* host);
  std::uint64_t (*wall_clock_now_ms)(void* host);
  void (*list_components)(void* host, capsule_answer_t* out);
  void (*metadata_of)(void* host, const capsule_id_t* id, capsule_answer_t* out);
  // Storage answers later (capsule_pending_*): the spans are valid only during the call.
  void (*storage_get)(void* host, capsule_bytes_t key, capsule_pending_t* done);
  void (*storage_set)(void* host, capsule_bytes_t key, capsule_bytes_t value,
                      capsule_pending_t* done);
  void (*storage_delete)(void* host, capsule_bytes_t key, capsule_pending_t* done);
  void (*storage_exists)(void* host, capsule_bytes_t key, capsule_pending_t* done);
  void (*storage_list_keys)(void* host, capsule_bytes_t prefix, capsule_pending_t* done);
  void (*storage_usage)(void* host, capsule_pending_t* done);
  // A send answered with capsule_answer_later, again, answered through `done`.
  void (*send_later)(void* host, const capsule_id_t* target, std::uint32_t codec,
                     capsule_bytes_t payload, capsule_pending_t* done);
  bool (*random_allowed)(void* host);
  // One line of guest stdout (stream 1) or stderr (2), without its newline; `cut`: the line was
  // longer than the shim's cap (4 KiB) and this is its start. The span is valid during the call.
  void (*output)(void* host, std::uint8_t stream, capsule_bytes_t line, bool cut);
  // messaging.defer-reply and messaging.reply (capsule:core 0.1.1). `reply` carries an ok payload
  // (is_ok, codec, bytes) or an error (error_tag as in Error's WIT variant order, bytes its text).
  void (*defer_reply)(void* host, std::uint64_t correlation, capsule_answer_t* out);
  void (*reply)(void* host, std::uint64_t correlation, bool is_ok, std::uint32_t codec,
                capsule_bytes_t bytes, std::uint8_t error_tag, capsule_answer_t* out);
  // wasi:keyvalue atomics.increment: the new value through capsule_answer_number; answers later
  // like the storage entries.
  void (*storage_increment)(void* host, capsule_bytes_t key, std::uint64_t delta,
                            capsule_pending_t* done);
  // wasi:config: the instance's config as strings alternating key and value.
  void (*config)(void* host, capsule_answer_t* out);
  // messaging.send-batch (capsule:core 0.1.2): answered through `done` with one
  // capsule_answer_outcome per entry, in order, or one error for the whole batch.
  void (*send_batch)(void* host, const capsule_batch_entry_t* entries, std::size_t n,
                     capsule_pending_t* done);
  // messaging.call (capsule:core 0.1.3): answered through `done` with the reply's codec
  // (capsule_answer_number) and bytes (capsule_answer_bytes), or an error.
  void (*call)(void* host, const capsule_id_t* target, std::uint32_t codec, capsule_bytes_t payload,
               std::uint32_t timeout_ms, capsule_pending_t* done);
};
capsule_answer_t* capsule_pending_answer(capsule_pending_t* p);
void capsule_pending_complete(capsule_pending_t* p);
void capsule_answer_error(capsule_answer_t* a, std::uint8_t tag, capsule_bytes_t text);
void capsule_answer_would_block(capsule_answer_t* a);
void capsule_answer_later(capsule_answer_t* a);
void capsule_answer_outcome(capsule_answer_t* a, bool ok, std::uint8_t tag, capsule_bytes_t text);
void capsule_answer_number(capsule_answer_t* a, std::uint64_t n);
void capsule_answer_bytes(capsule_answer_t* a, capsule_bytes_t b);
void capsule_answer_string(capsule_answer_t* a, capsule_bytes_t s);
void capsule_answer_id(capsule_answer_t* a, const capsule_id_t* id);
void capsule_answer_metadata(capsule_answer_t* a, capsule_bytes_t name, capsule_bytes_t version,
                             capsule_bytes_t description);
void capsule_answer_label(capsule_answer_t* a, capsule_bytes_t key, capsule_bytes_t value);
void capsule_answer_usage(capsule_answer_t* a, std::uint64_t bytes, std::uint64_t keys,
                          std::uint64_t quota_bytes, std::uint64_t quota_keys);

capsule_reactor_t* capsule_reactor_new();
void capsule_reactor_delete(capsule_reactor_t* reactor);

wasmtime_error_t* capsule_linker_add_wasip2_async(wasmtime_component_linker_t* linker);
wasmtime_error_t* capsule_linker_add_capsule_imports(wasmtime_component_linker_t* linker);
// Calls `missing` once per import of `component` that `linker` cannot satisfy (name, and why:
// not defined or another type); an error when the check itself failed (src/imports.rs).
wasmtime_error_t* capsule_linker_check_imports(
    const wasmtime_component_linker_t* linker, const wasmtime_component_t* component,
    void (*missing)(void* ctx, capsule_bytes_t name, capsule_bytes_t reason), void* ctx);
// wasmtime_store_limiter's limits (negative: none), recording the last refused memory.grow
// (src/limiter.rs). The handle is C++'s; the store keeps its own reference.
const capsule_limiter_t* capsule_store_limiter(wasmtime_store_t* store, std::int64_t memory_size,
                                               std::int64_t table_elements, std::int64_t instances,
                                               std::int64_t tables, std::int64_t memories);
// The size in bytes a refused memory.grow asked for since the last take (0: none); resets it.
std::uint64_t capsule_limiter_take_refused(const capsule_limiter_t* limiter);
void capsule_limiter_delete(const capsule_limiter_t* limiter);
// The fiber stack an idle store keeps, handed back to the kernel (src/idle_stack.rs). A pool per
// engine whose pooling allocator holds the stacks; a handle per store, whose epoch callback it
// installs (the callback yields every tick, as epoch_deadline_async_yield_and_update(cx, 1)).
const capsule_stack_pool_t* capsule_stack_pool_new();
void capsule_stack_pool_delete(const capsule_stack_pool_t* pool);
const capsule_stack_t* capsule_store_track_stack(wasmtime_store_t* store,
                                                 const capsule_stack_pool_t* pool);
// False until a call of the store has run guest code with the epoch deadline due (0).
bool capsule_stack_known(const capsule_stack_t* stack);
// Drops the idle stack's pages; no call of the store may be in flight. False: not known.
bool capsule_stack_release(const capsule_stack_t* stack);
// Resident pages of the store's stack (mincore); -1: not known.
std::int64_t capsule_stack_resident_pages(const capsule_stack_t* stack);
void capsule_stack_delete(const capsule_stack_t* stack);
// WASI for one store: no preopened dirs, env or args; stdout and stderr go line by line to the
// polling call's host (capsule_host_vtable_t::output).
wasmtime_error_t* capsule_context_set_wasi(wasmtime_context_t* cx);
void capsule_call_set_host(capsule_call_t* call, const capsule_host_vtable_t* vtable, void* host);
// A component pre-instantiated against `linker` (imports resolved, lifecycle exports found) once,
// for all its instances (src/instance_pre.rs). On failure the error, and *out is untouched.
wasmtime_error_t* capsule_component_pre_new(const wasmtime_component_linker_t* linker,
                                            const wasmtime_component_t* component,
                                            capsule_component_pre_t** out);
void capsule_component_pre_delete(capsule_component_pre_t* pre);
capsule_call_t* capsule_call_instantiate_pre(const capsule_component_pre_t* pre,
                                             wasmtime_context_t* cx);
capsule_exports_t* capsule_call_take_exports(capsule_call_t* call);
void capsule_exports_delete(capsule_exports_t* exports);

capsule_call_t* capsule_call_init(const capsule_exports_t* exports, wasmtime_context_t* cx,
                                  const capsule_kv_t* config, std::size_t n);
capsule_call_t* capsule_call_handle_message(const capsule_exports_t* exports,
                                            wasmtime_context_t* cx, const capsule_message_t* msg);
capsule_call_t* capsule_call_handle_callback(const capsule_exports_t* exports,
                                             wasmtime_context_t* cx, const capsule_callback_t* cb);
capsule_call_t* capsule_call_health(const capsule_exports_t* exports, wasmtime_context_t* cx);
capsule_call_t* capsule_call_shutdown(const capsule_exports_t* exports, wasmtime_context_t* cx);
capsule_call_t* capsule_call_metadata_of(const capsule_exports_t* exports, wasmtime_context_t* cx);

std::uint8_t capsule_call_poll(capsule_call_t* call, const capsule_reactor_t* reactor,
                               const capsule_waker_t* waker);
void capsule_call_result(const capsule_call_t* call, capsule_call_result_t* out);
bool capsule_call_metadata(const capsule_call_t* call, capsule_metadata_t* out);
bool capsule_call_metadata_label(const capsule_call_t* call, std::size_t i, capsule_bytes_t* key,
                                 capsule_bytes_t* value);
void capsule_call_delete(capsule_call_t* call);

}  // extern "C"

namespace capsule::wasm::shim {

// Numbers shared with the Rust crate (src/call.rs, src/failure.rs, src/lifecycle.rs).
inline constexpr std::uint8_t kPollPending = 0;
inline constexpr std::uint8_t kStatusOk = 1;
inline constexpr std::uint8_t kStatusGuestError = 2;
inline constexpr std::uint8_t kStatusFailed = 3;

enum class Failure : std::uint8_t {
  kTrap = 1,
  kOutOfFuel = 2,
  kInterrupt = 3,
  kStackOverflow = 4,
  kMemoryLimit = 5,
  kHost = 6,
  kInvalidInput = 7,
  kInvalidString = 8,  // the guest handed over a string that is not UTF-8: lifting refused it
  // A wasi:http/proxy response over the instance's limit; the call was ended (src/http_proxy.rs).
  kResponseTooLarge = 32,
};

struct CallDeleter {
  void operator()(capsule_call_t* c) const noexcept { capsule_call_delete(c); }
};
struct ExportsDeleter {
  void operator()(capsule_exports_t* e) const noexcept { capsule_exports_delete(e); }
};
struct LimiterDeleter {
  void operator()(const capsule_limiter_t* l) const noexcept { capsule_limiter_delete(l); }
};
struct StackPoolDeleter {
  void operator()(const capsule_stack_pool_t* p) const noexcept { capsule_stack_pool_delete(p); }
};
struct StackDeleter {
  void operator()(const capsule_stack_t* s) const noexcept { capsule_stack_delete(s); }
};
struct ComponentPreDeleter {
  void operator()(capsule_component_pre_t* p) const noexcept { capsule_component_pre_delete(p); }
};
using Call = std::unique_ptr<capsule_call_t, CallDeleter>;
using ComponentPre = std::unique_ptr<capsule_component_pre_t, ComponentPreDeleter>;
using StackPool = std::shared_ptr<const capsule_stack_pool_t>;
using Stack = std::unique_ptr<const capsule_stack_t, StackDeleter>;
using Limiter = std::unique_ptr<const capsule_limiter_t, LimiterDeleter>;
using Exports = std::unique_ptr<capsule_exports_t, ExportsDeleter>;

inline capsule_bytes_t bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view view_of(capsule_bytes_t b) {
  return {reinterpret_cast<const char*>(b.ptr), b.len};
}

}  // namespace capsule::wasm::shim

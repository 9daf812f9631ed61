#include <stdlib.h>
#include <string.h>

#include "capsule/guest.h"

/* noinline keeps this frame in Wasmtime's backtrace, which is how the host tells an allocation
 * failure under the memory limit from any other trap. */
__attribute__((noinline, noreturn)) void capsule_guest_out_of_memory(void) {
  __builtin_trap();
}

void* capsule_alloc(size_t size) {
  void* p = malloc(size == 0 ? 1 : size);
  if (p == NULL) capsule_guest_out_of_memory();
  return p;
}

/* Overrides wit-bindgen's weak cabi_realloc (which calls abort) so that a failed allocation while
 * the host lowers arguments into this instance is reported as a memory-limit failure too. */
__attribute__((__export_name__("cabi_realloc"))) void* cabi_realloc(void* ptr, size_t old_size,
                                                                    size_t align, size_t new_size) {
  (void)old_size;
  if (new_size == 0) return (void*)align;
  void* ret = realloc(ptr, new_size);
  if (ret == NULL) capsule_guest_out_of_memory();
  return ret;
}

void capsule_payload_set(capsule_payload_t* out, uint32_t codec, const void* data, size_t len) {
  out->codec = codec;
  out->bytes.len = len;
  out->bytes.ptr = (uint8_t*)capsule_alloc(len);
  if (len > 0) memcpy(out->bytes.ptr, data, len);
}

void capsule_payload_set_text(capsule_payload_t* out, const char* text) {
  capsule_payload_set(out, CAPSULE_CODEC_TEXT, text, strlen(text));
}

void capsule_reply_text(capsule_reply_t* reply, const char* text) {
  reply->is_some = true;
  capsule_payload_set_text(&reply->val, text);
}

void capsule_error_set(capsule_error_t* err, uint8_t tag, const char* text) {
  err->tag = tag;
  /* Every case of the `error` variant carries a string, at the same place in the union. */
  component_string_dup(&err->val.internal, text);
}

void capsule_log(capsule_core_services_log_level_t level, const char* text) {
  component_string_t message;
  component_string_set(&message, text);
  component_list_tuple2_string_string_t fields = {NULL, 0};
  capsule_core_services_log(level, &message, &fields);
}

bool capsule_string_eq(const component_string_t* s, const char* text) {
  const size_t n = strlen(text);
  return s->len == n && (n == 0 || memcmp(s->ptr, text, n) == 0);
}

void capsule_metadata_fill(capsule_metadata_t* ret, const char* name, const char* version,
                           const char* description) {
  component_string_dup(&ret->name, name);
  component_string_dup(&ret->version, version);
  component_string_dup(&ret->description, description);
  ret->labels.ptr = NULL;
  ret->labels.len = 0;
}

/* Defaults for the lifecycle exports a component usually does not care about. */

__attribute__((weak)) bool exports_capsule_core_lifecycle_init(capsule_config_t* config,
                                                               capsule_error_t* err) {
  (void)err;
  capsule_config_free(config);
  return true;
}

__attribute__((weak)) bool exports_capsule_core_lifecycle_handle_callback(
    capsule_callback_t* response, capsule_error_t* err) {
  (void)err;
  capsule_callback_free(response);
  return true;
}

__attribute__((weak)) exports_capsule_core_lifecycle_health_status_t
exports_capsule_core_lifecycle_health(void) {
  return CAPSULE_CORE_TYPES_HEALTH_STATUS_HEALTHY;
}

__attribute__((weak)) void exports_capsule_core_lifecycle_shutdown(void) {}

__attribute__((weak)) void exports_capsule_core_lifecycle_metadata(capsule_metadata_t* ret) {
  capsule_metadata_fill(ret, "unnamed", "0.0.0", "");
}

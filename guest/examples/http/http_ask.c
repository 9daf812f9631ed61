// http_ask (C): a wasi:http/proxy handler that asks a backend component before it answers - the
// usual wasmCloud/Spin pattern - through capsule:core messaging.call (world
// capsule:http-core/proxy, cmake/CapsuleGuest.cmake). A request to `<route>?to=ns/name/0&msg=text`
// sends `text` (default "hi") to `to` (default app/echo/0) and waits up to 2 s for the reply:
//   200 with the reply's bytes, or
//   502 "call to <to> failed: <error case>: <its text>" (permission-denied without the grant,
//       timeout, not-found, ...).
// A path containing "/trap" traps instead (the route's supervision tests); "/nocall" answers
// 200 "no call" without asking anyone (the benchmark's baseline on the same component).
#include <stdio.h>
#include <string.h>

#include "proxy.h"

static const char* const kErrorCases[] = {
    "invalid-argument", "not-found",   "permission-denied", "quota-exceeded", "timeout",
    "cancelled",        "unavailable", "not-implemented",   "internal"};

// The value of `key` in the query of `path` ("/x?to=a/b/0&msg=hi"), copied into `out` (at most
// `cap - 1` bytes, NUL-terminated); false when absent.
static bool query_value(const proxy_string_t* path, const char* key, char* out, size_t cap) {
  const char* s = (const char*)path->ptr;
  size_t n = path->len;
  size_t k = strlen(key);
  size_t i = 0;
  while (i < n && s[i] != '?') ++i;
  while (i < n) {
    ++i;  // past '?' or '&'
    if (n - i > k && memcmp(s + i, key, k) == 0 && s[i + k] == '=') {
      size_t start = i + k + 1;
      size_t end = start;
      while (end < n && s[end] != '&') ++end;
      size_t len = end - start < cap - 1 ? end - start : cap - 1;
      memcpy(out, s + start, len);
      out[len] = '\0';
      return true;
    }
    while (i < n && s[i] != '&') ++i;
  }
  return false;
}

static bool contains(const proxy_string_t* path, const char* what) {
  size_t k = strlen(what);
  for (size_t i = 0; i + k <= path->len; ++i) {
    if (memcmp(path->ptr + i, what, k) == 0) return true;
  }
  return false;
}

// "ns/name/instance" split in place into the id's three strings; false if it has not 3 parts.
static bool parse_id(char* text, capsule_core_types_component_id_t* id) {
  char* first = strchr(text, '/');
  if (first == NULL) return false;
  char* second = strchr(first + 1, '/');
  if (second == NULL) return false;
  *first = '\0';
  *second = '\0';
  proxy_string_set(&id->namespace_, text);
  proxy_string_set(&id->name, first + 1);
  proxy_string_set(&id->instance, second + 1);
  return true;
}

static void respond(wasi_http_types_own_response_outparam_t out, uint16_t status,
                    const uint8_t* body, size_t len) {
  wasi_http_types_tuple2_field_name_field_value_t entry;
  proxy_string_set(&entry.f0, "content-type");
  entry.f1.ptr = (uint8_t*)"text/plain";
  entry.f1.len = strlen("text/plain");
  wasi_http_types_list_tuple2_field_name_field_value_t list = {&entry, 1};
  wasi_http_types_own_fields_t headers;
  wasi_http_types_header_error_t header_error;
  if (!wasi_http_types_static_fields_from_list(&list, &headers, &header_error)) {
    headers = wasi_http_types_constructor_fields();
  }
  wasi_http_types_own_outgoing_response_t response =
      wasi_http_types_constructor_outgoing_response(headers);
  wasi_http_types_borrow_outgoing_response_t borrowed =
      wasi_http_types_borrow_outgoing_response(response);
  wasi_http_types_method_outgoing_response_set_status_code(borrowed, status);
  wasi_http_types_own_outgoing_body_t body_handle;
  if (!wasi_http_types_method_outgoing_response_body(borrowed, &body_handle)) __builtin_trap();

  wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
  result.val.ok = response;
  wasi_http_types_static_response_outparam_set(out, &result);

  wasi_http_types_own_output_stream_t stream;
  if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body_handle),
                                                  &stream)) {
    __builtin_trap();
  }
  proxy_list_u8_t bytes = {(uint8_t*)body, len};
  wasi_io_streams_stream_error_t stream_error;
  if (len > 0 && !wasi_io_streams_method_output_stream_blocking_write_and_flush(
                     wasi_io_streams_borrow_output_stream(stream), &bytes, &stream_error)) {
    __builtin_trap();
  }
  wasi_io_streams_output_stream_drop_own(stream);  // before finish: the body owns the stream
  wasi_http_types_error_code_t finish_error;
  if (!wasi_http_types_static_outgoing_body_finish(body_handle, NULL, &finish_error)) {
    __builtin_trap();
  }
}

static void respond_text(wasi_http_types_own_response_outparam_t out, uint16_t status,
                         const char* text) {
  respond(out, status, (const uint8_t*)text, strlen(text));
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  // The path, copied (at most 1 KiB) so the bindings' string is freed at once: with instance
  // reuse nothing of one request stays allocated for the next.
  char path_text[1024] = "/";
  proxy_string_t given = {0};
  if (wasi_http_types_method_incoming_request_path_with_query(
          wasi_http_types_borrow_incoming_request(request), &given)) {
    size_t n = given.len < sizeof path_text - 1 ? given.len : sizeof path_text - 1;
    memcpy(path_text, given.ptr, n);
    path_text[n] = '\0';
    proxy_string_free(&given);
  }
  wasi_http_types_incoming_request_drop_own(request);
  proxy_string_t path;
  proxy_string_set(&path, path_text);
  if (contains(&path, "/trap")) __builtin_trap();
  if (contains(&path, "/nocall")) {
    respond_text(response_out, 200, "no call");
    return;
  }

  char to[128] = "app/echo/0";
  char msg[256] = "hi";
  (void)query_value(&path, "to", to, sizeof to);
  (void)query_value(&path, "msg", msg, sizeof msg);
  char to_shown[128];
  memcpy(to_shown, to, sizeof to);
  capsule_core_types_component_id_t target;
  if (!parse_id(to, &target)) {
    respond_text(response_out, 400, "to= must be ns/name/instance");
    return;
  }
  capsule_core_messaging_payload_t payload = {.codec = 0x0f, .bytes = {(uint8_t*)msg, strlen(msg)}};
  capsule_core_messaging_payload_t reply;
  capsule_core_messaging_error_t error;
  if (capsule_core_messaging_call(&target, &payload, 2000, &reply, &error)) {
    respond(response_out, 200, reply.bytes.ptr, reply.bytes.len);
    capsule_core_messaging_payload_free(&reply);
    return;
  }
  // Every case of the error variant carries its text: read it through the first.
  char text[1024];
  const proxy_string_t* why = &error.val.invalid_argument;
  snprintf(
      text, sizeof text, "call to %s failed: %s: %.*s", to_shown,
      error.tag < sizeof kErrorCases / sizeof kErrorCases[0] ? kErrorCases[error.tag] : "unknown",
      (int)why->len, (const char*)why->ptr);
  capsule_core_messaging_error_free(&error);
  respond_text(response_out, 502, text);
}

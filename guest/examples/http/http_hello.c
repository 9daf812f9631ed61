// http_hello (C): the wasi:http/proxy hello world, written against the wit-bindgen C bindings of
// wasi:http/proxy@0.2.12 (third_party/wasi-wit/0.2.12) with no capsule SDK: any wasi:http 0.2
// host runs it. Every request: 200 "hello from c" with `content-type: text/plain` and
// `x-hello: capsule`; the request itself is not read.
#include <string.h>

#include "proxy.h"

static const char kBody[] = "hello from c";

static wasi_http_types_tuple2_field_name_field_value_t header(const char* name, const char* value) {
  wasi_http_types_tuple2_field_name_field_value_t h;
  proxy_string_set(&h.f0, name);
  h.f1.ptr = (uint8_t*)value;
  h.f1.len = strlen(value);
  return h;
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  wasi_http_types_incoming_request_drop_own(request);

  wasi_http_types_tuple2_field_name_field_value_t entries[2] = {
      header("content-type", "text/plain"), header("x-hello", "capsule")};
  wasi_http_types_list_tuple2_field_name_field_value_t list = {entries, 2};
  wasi_http_types_own_fields_t headers;
  wasi_http_types_header_error_t header_error;
  if (!wasi_http_types_static_fields_from_list(&list, &headers, &header_error)) {
    headers = wasi_http_types_constructor_fields();
  }

  wasi_http_types_own_outgoing_response_t response =
      wasi_http_types_constructor_outgoing_response(headers);
  wasi_http_types_borrow_outgoing_response_t borrowed =
      wasi_http_types_borrow_outgoing_response(response);
  wasi_http_types_method_outgoing_response_set_status_code(borrowed, 200);
  wasi_http_types_own_outgoing_body_t body;
  if (!wasi_http_types_method_outgoing_response_body(borrowed, &body)) __builtin_trap();

  wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false};
  result.val.ok = response;
  wasi_http_types_static_response_outparam_set(response_out, &result);

  wasi_http_types_own_output_stream_t stream;
  if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                  &stream)) {
    __builtin_trap();
  }
  proxy_list_u8_t bytes = {(uint8_t*)kBody, sizeof kBody - 1};
  wasi_io_streams_stream_error_t stream_error;
  if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(
          wasi_io_streams_borrow_output_stream(stream), &bytes, &stream_error)) {
    __builtin_trap();
  }
  wasi_io_streams_output_stream_drop_own(stream);  // before finish: the body owns the stream
  wasi_http_types_error_code_t finish_error;
  if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &finish_error)) __builtin_trap();
}

/* hello: the HTTP trigger's hello world (docs/http.md). Replies "hello, <body>" as text, or
 * "hello, world" to an empty body: routed with envelope = "body", the payload is the request body
 * and the reply is the response body. */
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("hello", "0.1.0", "Says hello to the request body")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  static const char kPrefix[] = "hello, ";
  const size_t n = msg->payload.bytes.len;
  const char* name = n > 0 ? (const char*)msg->payload.bytes.ptr : "world";
  const size_t name_len = n > 0 ? n : 5;
  uint8_t* out = capsule_alloc(sizeof kPrefix - 1 + name_len + 1);
  memcpy(out, kPrefix, sizeof kPrefix - 1);
  memcpy(out + sizeof kPrefix - 1, name, name_len);
  out[sizeof kPrefix - 1 + name_len] = '\n';
  capsule_message_free(msg); /* after the copy: `name` pointed into it */
  reply->is_some = true;
  reply->val.codec = CAPSULE_CODEC_TEXT;
  reply->val.bytes.ptr = out;
  reply->val.bytes.len = sizeof kPrefix - 1 + name_len + 1;
  return true;
}

/* pump: measures the guest -> host direction. A message "send <bytes> <count>" makes <count>
 * messaging.send calls of a <bytes>-long payload to test/sink/0; "set <bytes> <count>" makes
 * <count> storage.set calls of a <bytes>-long value under key "k". Replies "ok <n>" with the
 * number of calls the host accepted, or the first error's text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("pump", "0.1.0", "Calls send or storage.set in a loop")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  char cmd[64] = {0};
  const size_t n =
      msg->payload.bytes.len < sizeof cmd - 1 ? msg->payload.bytes.len : sizeof cmd - 1;
  memcpy(cmd, msg->payload.bytes.ptr, n);
  capsule_message_free(msg);
  char op[8] = {0};
  unsigned long bytes = 0, count = 0;
  if (sscanf(cmd, "%7s %lu %lu", op, &bytes, &count) != 3) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "usage: send|set <bytes> <count>");
    return false;
  }
  uint8_t* data = malloc(bytes ? bytes : 1);
  if (data == NULL) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INTERNAL, "out of memory");
    return false;
  }
  memset(data, 0x5a, bytes);
  capsule_component_id_t sink;
  component_string_set(&sink.namespace_, "test");
  component_string_set(&sink.name, "sink");
  component_string_set(&sink.instance, "0");
  capsule_payload_t payload = {.codec = CAPSULE_CODEC_RAW, .bytes = {data, bytes}};
  component_string_t key;
  component_string_set(&key, "k");
  unsigned long accepted = 0;
  char text[160];
  text[0] = 0;
  for (unsigned long i = 0; i < count; ++i) {
    capsule_error_t e;
    const bool ok = strcmp(op, "send") == 0 ? capsule_core_messaging_send(&sink, &payload, &e)
                                            : capsule_core_storage_set(&key, &payload.bytes, &e);
    if (!ok) {
      snprintf(text, sizeof text, "error %u: %.*s", (unsigned)e.tag, (int)e.val.internal.len,
               (const char*)e.val.internal.ptr);
      capsule_core_types_error_free(&e);
      break;
    }
    ++accepted;
  }
  free(data);
  if (text[0] == 0) snprintf(text, sizeof text, "ok %lu", accepted);
  capsule_reply_text(reply, text);
  return true;
}

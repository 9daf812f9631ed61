/* hostile_flood: fills its storage until the host says stop.
 *   "flood" -> writes 512-byte values under f0, f1, ... until a write fails; replies
 *              "wrote=<n> err=<tag>" (3 = quota-exceeded).
 *   "count" -> "keys=<listed> bytes=<used> quota_bytes=<q> quota_keys=<k>" */
#include <stdio.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("hostile_flood", "0.1.0", "Writes storage past its quota")

static uint8_t g_value[512];

static void flood(capsule_reply_t* reply) {
  memset(g_value, 'x', sizeof g_value);
  component_list_u8_t value = {g_value, sizeof g_value};
  capsule_error_t e;
  unsigned wrote = 0;
  unsigned tag = 255;
  for (; wrote < 100000; ++wrote) {
    char name[32];
    snprintf(name, sizeof name, "f%u", wrote);
    component_string_t key;
    component_string_set(&key, name);
    if (!capsule_core_storage_set(&key, &value, &e)) {
      tag = e.tag;
      capsule_core_types_error_free(&e);
      break;
    }
  }
  char text[64];
  snprintf(text, sizeof text, "wrote=%u err=%u", wrote, tag);
  capsule_reply_text(reply, text);
}

static void count(capsule_reply_t* reply) {
  capsule_error_t e;
  component_string_t prefix;
  component_string_set(&prefix, "");
  component_list_string_t keys;
  size_t listed = 0;
  if (capsule_core_storage_list_keys(&prefix, &keys, &e)) {
    listed = keys.len;
    component_list_string_free(&keys);
  } else {
    capsule_core_types_error_free(&e);
  }
  capsule_core_storage_storage_usage_t u = {0, 0, 0, 0};
  if (!capsule_core_storage_usage(&u, &e)) capsule_core_types_error_free(&e);
  char text[160];
  snprintf(text, sizeof text, "keys=%zu bytes=%llu quota_bytes=%llu quota_keys=%llu", listed,
           (unsigned long long)u.bytes, (unsigned long long)u.quota_bytes,
           (unsigned long long)u.quota_keys);
  capsule_reply_text(reply, text);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  const bool is_flood =
      msg->payload.bytes.len == 5 && memcmp(msg->payload.bytes.ptr, "flood", 5) == 0;
  capsule_message_free(msg);
  (void)err;
  if (is_flood) {
    flood(reply);
  } else {
    count(reply);
  }
  return true;
}

/* hostile_snoop: tries to read another component's keys through its own storage.
 *   "set <key> <value>" -> "ok" | "err=<tag>"
 *   "get <key>"         -> the value | "none" | "err=<tag>"
 *   "snoop"             -> tries traversal-style keys and listings; replies
 *                          "found=<n> listed=<m> denied=<d>": n values and m foreign key names
 *                          it managed to see (both must be 0), d calls the host refused. */
#include <stdio.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("hostile_snoop", "0.1.0", "Tries to read other components' storage")

static char g_text[512];

static void reply_get(const char* k, capsule_reply_t* reply) {
  component_string_t key;
  component_string_set(&key, k);
  component_option_list_u8_t value;
  capsule_error_t e;
  if (!capsule_core_storage_get(&key, &value, &e)) {
    snprintf(g_text, sizeof g_text, "err=%u", (unsigned)e.tag);
    capsule_core_types_error_free(&e);
  } else if (!value.is_some) {
    snprintf(g_text, sizeof g_text, "none");
  } else {
    snprintf(g_text, sizeof g_text, "%.*s", (int)value.val.len, (const char*)value.val.ptr);
    component_list_u8_free(&value.val);
  }
  capsule_reply_text(reply, g_text);
}

static void reply_set(const char* k, const char* v, capsule_reply_t* reply) {
  component_string_t key;
  component_string_set(&key, k);
  component_list_u8_t value = {(uint8_t*)v, strlen(v)};
  capsule_error_t e;
  if (capsule_core_storage_set(&key, &value, &e)) {
    capsule_reply_text(reply, "ok");
  } else {
    snprintf(g_text, sizeof g_text, "err=%u", (unsigned)e.tag);
    capsule_core_types_error_free(&e);
    capsule_reply_text(reply, g_text);
  }
}

static void snoop(capsule_reply_t* reply) {
  static const char* const kKeys[] = {"secret",
                                      "../victim/secret",
                                      "../../test/victim/secret",
                                      "test/victim/secret",
                                      "/test/victim/secret",
                                      "victim/secret",
                                      "test%2Fvictim%2Fsecret",
                                      "..",
                                      "test/victim",
                                      "*",
                                      "%"};
  unsigned found = 0, listed = 0, denied = 0;
  capsule_error_t e;
  for (size_t i = 0; i < sizeof kKeys / sizeof kKeys[0]; ++i) {
    component_string_t key;
    component_string_set(&key, kKeys[i]);
    component_option_list_u8_t value;
    if (!capsule_core_storage_get(&key, &value, &e)) {
      ++denied;
      capsule_core_types_error_free(&e);
    } else if (value.is_some) {
      ++found;
      component_list_u8_free(&value.val);
    }
  }
  static const char* const kPrefixes[] = {"", "../", "test/victim", "%", "*"};
  for (size_t i = 0; i < sizeof kPrefixes / sizeof kPrefixes[0]; ++i) {
    component_string_t prefix;
    component_string_set(&prefix, kPrefixes[i]);
    component_list_string_t keys;
    if (!capsule_core_storage_list_keys(&prefix, &keys, &e)) {
      ++denied;
      capsule_core_types_error_free(&e);
      continue;
    }
    /* Its own key "mine" is fine to see; anything else came from somewhere else. */
    for (size_t j = 0; j < keys.len; ++j) {
      if (!(keys.ptr[j].len == 4 && memcmp(keys.ptr[j].ptr, "mine", 4) == 0)) ++listed;
    }
    component_list_string_free(&keys);
  }
  snprintf(g_text, sizeof g_text, "found=%u listed=%u denied=%u", found, listed, denied);
  capsule_reply_text(reply, g_text);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  char cmd[256];
  const size_t n =
      msg->payload.bytes.len < sizeof cmd - 1 ? msg->payload.bytes.len : sizeof cmd - 1;
  memcpy(cmd, msg->payload.bytes.ptr, n);
  cmd[n] = 0;
  capsule_message_free(msg);
  if (strncmp(cmd, "set ", 4) == 0) {
    char* value = strchr(cmd + 4, ' ');
    if (value == NULL) {
      capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT, "set <key> <value>");
      return false;
    }
    *value++ = 0;
    reply_set(cmd + 4, value, reply);
  } else if (strncmp(cmd, "get ", 4) == 0) {
    reply_get(cmd + 4, reply);
  } else if (strcmp(cmd, "snoop") == 0) {
    snoop(reply);
  } else {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT, "set, get or snoop");
    return false;
  }
  return true;
}

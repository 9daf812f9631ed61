/* transform: uppercases each text payload and sends it to config `next` (ns/name/inst).
 * With `fail_every=N` (N > 0) it traps on every Nth message: a deliberately flaky stage that its
 * supervisor restarts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("transform", "0.1.0", "Uppercases payloads and forwards them")

static char g_next_ns[64], g_next_name[64], g_next_instance[32] = "0";
static unsigned g_fail_every, g_seen;

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  bool have_next = false;
  for (size_t i = 0; i < config->len; ++i) {
    const component_string_t *k = &config->ptr[i].f0, *v = &config->ptr[i].f1;
    char value[128];
    const size_t n = v->len < sizeof value - 1 ? v->len : sizeof value - 1;
    memcpy(value, v->ptr, n);
    value[n] = 0;
    if (capsule_string_eq(k, "next")) {
      char* name = strchr(value, '/');
      if (name != NULL) {
        *name++ = 0;
        char* inst = strchr(name, '/');
        if (inst != NULL) {
          *inst++ = 0;
          snprintf(g_next_instance, sizeof g_next_instance, "%s", inst);
        }
        snprintf(g_next_ns, sizeof g_next_ns, "%s", value);
        snprintf(g_next_name, sizeof g_next_name, "%s", name);
        have_next = true;
      }
    } else if (capsule_string_eq(k, "fail_every")) {
      g_fail_every = (unsigned)atoi(value);
    }
  }
  capsule_config_free(config);
  if (!have_next) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "transform needs config next=<ns/name[/instance]>");
    return false;
  }
  return true;
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  ++g_seen;
  if (g_fail_every > 0 && g_seen % g_fail_every == 0) {
    capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_WARN, "flaky stage failing on purpose");
    __builtin_trap();
  }
  for (size_t i = 0; i < msg->payload.bytes.len; ++i) {
    msg->payload.bytes.ptr[i] = (uint8_t)toupper(msg->payload.bytes.ptr[i]);
  }
  capsule_component_id_t next;
  component_string_set(&next.namespace_, g_next_ns);
  component_string_set(&next.name, g_next_name);
  component_string_set(&next.instance, g_next_instance);
  const bool ok = capsule_core_messaging_send(&next, &msg->payload, err);
  capsule_message_free(msg);
  return ok;
}

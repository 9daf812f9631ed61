/* hostile_nogrants: a component that declared nothing and tries every host function anyway.
 * Any message makes it call each import once and reply with what the host answered, e.g.
 *   send=2 request=2 ... list=2 listed=0 ... usage=2 clock=ok self=test/hostile/0
 * where a number is the WIT error tag (2 = permission-denied) and "ok" means the call worked. */
#include <stdio.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("hostile_nogrants", "0.1.0", "Calls every host import without grants")

static char g_report[1024];

static void note(const char* name, bool ok, capsule_error_t* e) {
  char part[64];
  if (ok) {
    snprintf(part, sizeof part, "%s%s=ok", g_report[0] ? " " : "", name);
  } else {
    snprintf(part, sizeof part, "%s%s=%u", g_report[0] ? " " : "", name, (unsigned)e->tag);
    capsule_core_types_error_free(e);
  }
  strncat(g_report, part, sizeof g_report - strlen(g_report) - 1);
}

static void victim(capsule_component_id_t* id) {
  component_string_set(&id->namespace_, "test");
  component_string_set(&id->name, "victim");
  component_string_set(&id->instance, "0");
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  capsule_message_free(msg);
  g_report[0] = 0;
  capsule_error_t e;
  capsule_component_id_t target;
  victim(&target);
  capsule_payload_t payload;
  capsule_payload_set_text(&payload, "pwned");

  note("send", capsule_core_messaging_send(&target, &payload, &e), &e);
  uint64_t corr = 0;
  note("request", capsule_core_messaging_request(&target, &payload, 1000, &corr, &e), &e);
  note("cancel", capsule_core_messaging_cancel(424242, &e), &e);
  capsule_core_messaging_list_component_id_t targets = {&target, 1};
  uint32_t reached = 0;
  note("broadcast", capsule_core_messaging_broadcast(&targets, &payload, &reached, &e), &e);
  component_string_t topic;
  component_string_set(&topic, "news");
  note("publish", capsule_core_messaging_publish(&topic, &payload, &reached, &e), &e);
  note("subscribe", capsule_core_messaging_subscribe(&topic, &e), &e);
  note("unsubscribe", capsule_core_messaging_unsubscribe(&topic, &e), &e);

  capsule_core_services_list_component_id_t ids;
  const bool listed = capsule_core_services_list_components(&ids, &e);
  size_t visible = 0;
  if (listed) {
    visible = ids.len;
    capsule_core_services_list_component_id_free(&ids);
  }
  note("list", listed, &e);
  char count[32];
  snprintf(count, sizeof count, " listed=%zu", visible);
  strncat(g_report, count, sizeof g_report - strlen(g_report) - 1);
  capsule_metadata_t meta;
  const bool got_meta = capsule_core_services_metadata_of(&target, &meta, &e);
  if (got_meta) capsule_core_services_component_metadata_free(&meta);
  note("metadata", got_meta, &e);
  capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_DEBUG, "hostile debug line that must be dropped");

  component_string_t key;
  component_string_set(&key, "k");
  component_option_list_u8_t value;
  const bool got = capsule_core_storage_get(&key, &value, &e);
  if (got && value.is_some) component_list_u8_free(&value.val);
  note("get", got, &e);
  component_list_u8_t bytes = {(uint8_t*)"v", 1};
  note("set", capsule_core_storage_set(&key, &bytes, &e), &e);
  bool existed = false;
  note("delete", capsule_core_storage_delete(&key, &existed, &e), &e);
  note("exists", capsule_core_storage_exists(&key, &existed, &e), &e);
  component_list_string_t keys;
  component_string_t prefix;
  component_string_set(&prefix, "");
  const bool got_keys = capsule_core_storage_list_keys(&prefix, &keys, &e);
  if (got_keys) component_list_string_free(&keys);
  note("list-keys", got_keys, &e);
  capsule_core_storage_storage_usage_t usage;
  note("usage", capsule_core_storage_usage(&usage, &e), &e);

  const int clock_ok =
      capsule_core_services_monotonic_now_ns() > 0 && capsule_core_services_wall_clock_now_ms() > 0;
  capsule_component_id_t me;
  capsule_core_messaging_self_id(&me);
  char tail[200];
  snprintf(tail, sizeof tail, " clock=%s self=%.*s/%.*s/%.*s", clock_ok ? "ok" : "zero",
           (int)me.namespace_.len, (const char*)me.namespace_.ptr, (int)me.name.len,
           (const char*)me.name.ptr, (int)me.instance.len, (const char*)me.instance.ptr);
  capsule_core_types_component_id_free(&me);
  strncat(g_report, tail, sizeof g_report - strlen(g_report) - 1);
  capsule_reply_text(reply, g_report);
  return true;
}

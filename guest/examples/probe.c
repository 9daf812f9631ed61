/* probe: exercises the host imports for every message and reports what the host answered:
 *   self=<id> send=<ok|err:tag:text> set=<...> get=<len|none|err> log=done clock=<ok|zero>
 * The message payload is sent to test/sink/0 and stored under key "last". */
#include <stdio.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("probe", "0.1.0", "Calls every kind of host import and reports back")

static void describe_error(char* out, size_t n, const capsule_error_t* e) {
  const component_string_t* s = &e->val.internal;
  snprintf(out, n, "err:%u:%.*s", (unsigned)e->tag, (int)s->len, (const char*)s->ptr);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  char self[160], send[200], set[200], get[200];

  capsule_component_id_t me;
  capsule_core_messaging_self_id(&me);
  snprintf(self, sizeof self, "%.*s/%.*s/%.*s", (int)me.namespace_.len,
           (const char*)me.namespace_.ptr, (int)me.name.len, (const char*)me.name.ptr,
           (int)me.instance.len, (const char*)me.instance.ptr);
  capsule_core_types_component_id_free(&me);

  capsule_component_id_t sink;
  component_string_set(&sink.namespace_, "test");
  component_string_set(&sink.name, "sink");
  component_string_set(&sink.instance, "0");
  capsule_error_t e;
  if (capsule_core_messaging_send(&sink, &msg->payload, &e)) {
    strcpy(send, "ok");
  } else {
    describe_error(send, sizeof send, &e);
    capsule_core_types_error_free(&e);
  }

  component_string_t key;
  component_string_set(&key, "last");
  if (capsule_core_storage_set(&key, &msg->payload.bytes, &e)) {
    strcpy(set, "ok");
  } else {
    describe_error(set, sizeof set, &e);
    capsule_core_types_error_free(&e);
  }

  component_option_list_u8_t value;
  if (capsule_core_storage_get(&key, &value, &e)) {
    if (value.is_some) {
      snprintf(get, sizeof get, "%zu", value.val.len);
      component_list_u8_free(&value.val);
    } else {
      strcpy(get, "none");
    }
  } else {
    describe_error(get, sizeof get, &e);
    capsule_core_types_error_free(&e);
  }

  capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_INFO, "probe handled a message");
  const int clock_ok =
      capsule_core_services_monotonic_now_ns() > 0 && capsule_core_services_wall_clock_now_ms() > 0;
  capsule_message_free(msg);

  char text[1024];
  snprintf(text, sizeof text, "self=%s send=%s set=%s get=%s log=done clock=%s", self, send, set,
           get, clock_ok ? "ok" : "zero");
  capsule_reply_text(reply, text);
  return true;
}

/* async_abi: uses the component model's async built-ins from its (sync) exports, as the runtimes
 * of async-first toolchains do: task-local context slots, waitable sets, and yielding. A host built
 * without component-model-async cannot compile it.
 *
 *   "context"       context.set then context.get in this task: "context ok"
 *   "waitable"      a new waitable set polled while empty, then dropped: "poll: none"
 *   "yield:N"       N thread.yield calls, then "yielded N"
 *   "yield-forever" yields in a loop (the host must end it at its wall-time limit)
 *   "stall"         waits on an empty waitable set: nothing can ever wake it
 *   anything else   echoed back */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("async_abi", "0.1.0", "Uses the component model's async built-ins")

static bool is(const capsule_message_t* msg, const char* text) {
  const size_t n = strlen(text);
  return msg->payload.bytes.len == n && memcmp(msg->payload.bytes.ptr, text, n) == 0;
}

static const char* check_context(void) {
  static int marker;
  component_context_set_0(&marker);
  return component_context_get_0() == &marker ? "context ok" : "context lost";
}

static const char* poll_empty_set(void) {
  const component_waitable_set_t set = component_waitable_set_new();
  component_event_t event;
  component_waitable_set_poll(set, &event);
  component_waitable_set_drop(set);
  return event.event == COMPONENT_EVENT_NONE ? "poll: none" : "poll: an event from nowhere";
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  char text[64];
  const char* answer = NULL;
  if (is(msg, "context")) {
    answer = check_context();
  } else if (is(msg, "waitable")) {
    answer = poll_empty_set();
  } else if (is(msg, "yield-forever")) {
    for (;;) component_thread_yield();
  } else if (is(msg, "stall")) {
    const component_waitable_set_t set = component_waitable_set_new();
    component_event_t event;
    component_waitable_set_wait(set, &event);
    answer = "woke from an empty set";
  } else if (msg->payload.bytes.len > 6 && memcmp(msg->payload.bytes.ptr, "yield:", 6) == 0) {
    char count[16] = {0};
    const size_t n = msg->payload.bytes.len - 6 < sizeof count - 1 ? msg->payload.bytes.len - 6
                                                                   : sizeof count - 1;
    memcpy(count, msg->payload.bytes.ptr + 6, n);
    const int times = atoi(count);
    for (int i = 0; i < times; ++i) component_thread_yield();
    snprintf(text, sizeof text, "yielded %d", times);
    answer = text;
  }
  if (answer == NULL) {
    reply->is_some = true;
    reply->val = msg->payload;
    msg->payload.bytes.ptr = NULL;
    msg->payload.bytes.len = 0;
  } else {
    capsule_reply_text(reply, answer);
  }
  capsule_message_free(msg);
  return true;
}

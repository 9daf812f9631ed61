/* relay: a configurable messaging component (config passed to init):
 *   mode=forward  next=<ns/name/inst> | topic=<name>, tag=<text>
 *       appends "|<tag>" to each payload and sends it on (or publishes it).
 *   mode=fanout   target=<ns/name>, instances=<k>, timeout_ms=<t>, done_topic=<name>
 *       a message "N" sends N requests to target/0..k-1 (payload = request number); each
 *       callback is counted, and when all N ended it publishes "ok=A err=B timeout=C" to
 * done_topic. mode=pinger   target=<ns/name/inst>, timeout_ms=<t>, done_topic=<name> a message "N"
 * makes N sequential request/reply round trips, then publishes "done=N".
 *   mode=batch    targets=<ns/name/inst>[,<ns/name/inst>...], batch=<k>, done_topic=<name>
 *       a message "N" sends N messages (payload: the message's number, padded to 64 bytes) to the
 *       targets in turn, k per messaging.send-batch call (capsule:core 0.1.2), then publishes
 *       "ok=A err=B" to done_topic; for N <= 64 also " outcomes=" and each message's outcome
 *       (ok or the error's case name) in order, and a refused batch as " batch-error=<case>".
 *   mode=burst    target=<ns/name>, instances=<k>[, numbered=1]
 *       a message "N" sends N messages to target/0..k-1 in turn, one messaging.send each, in one
 *       call; their payload is "burst", or with numbered=1 the message's number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("relay", "0.1.0", "Forwards, fans out or ping-pongs messages")

enum mode { MODE_FORWARD, MODE_FANOUT, MODE_PINGER, MODE_BURST, MODE_BATCH };
static enum mode g_mode = MODE_FORWARD;
static char g_next[160], g_topic[96], g_tag[64], g_target[160], g_done_topic[96];
static unsigned g_instances = 1, g_timeout_ms = 5000, g_batch = 64, g_numbered = 0;
static char g_targets[1024];
static unsigned g_expected, g_ok, g_err, g_timeouts, g_remaining, g_round_trips;

static void copy_value(char* dst, size_t n, const component_string_t* s) {
  size_t len = s->len < n - 1 ? s->len : n - 1;
  memcpy(dst, s->ptr, len);
  dst[len] = 0;
}

/* "ns/name" or "ns/name/inst" into an id; inst overrides the third part when >= 0. */
static void make_id(capsule_component_id_t* id, const char* text, int inst) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s", text);
  char* name = strchr(buf, '/');
  *name++ = 0;
  char* instance = strchr(name, '/');
  if (instance) *instance++ = 0;
  char inst_buf[16];
  if (inst >= 0 || !instance) {
    snprintf(inst_buf, sizeof inst_buf, "%d", inst < 0 ? 0 : inst);
    instance = inst_buf;
  }
  component_string_dup(&id->namespace_, buf);
  component_string_dup(&id->name, name);
  component_string_dup(&id->instance, instance);
}

static void publish_text(const char* topic, const char* text) {
  component_string_t t;
  component_string_set(&t, topic);
  capsule_payload_t p;
  capsule_payload_set_text(&p, text);
  uint32_t reached;
  capsule_error_t e;
  if (!capsule_core_messaging_publish(&t, &p, &reached, &e)) capsule_core_types_error_free(&e);
  capsule_core_types_payload_free(&p);
}

static bool send_request(const char* target, int inst, const char* text) {
  capsule_component_id_t id;
  make_id(&id, target, inst);
  capsule_payload_t p;
  capsule_payload_set_text(&p, text);
  uint64_t correlation;
  capsule_error_t e;
  bool ok = capsule_core_messaging_request(&id, &p, g_timeout_ms, &correlation, &e);
  if (!ok) capsule_core_types_error_free(&e);
  capsule_core_types_component_id_free(&id);
  capsule_core_types_payload_free(&p);
  return ok;
}

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  for (size_t i = 0; i < config->len; ++i) {
    const component_string_t *k = &config->ptr[i].f0, *v = &config->ptr[i].f1;
    char value[160];
    copy_value(value, sizeof value, v);
    if (capsule_string_eq(k, "mode")) {
      if (strcmp(value, "fanout") == 0) {
        g_mode = MODE_FANOUT;
      } else if (strcmp(value, "pinger") == 0) {
        g_mode = MODE_PINGER;
      } else if (strcmp(value, "burst") == 0) {
        g_mode = MODE_BURST;
      } else if (strcmp(value, "batch") == 0) {
        g_mode = MODE_BATCH;
      } else {
        g_mode = MODE_FORWARD;
      }
    } else if (capsule_string_eq(k, "next")) {
      snprintf(g_next, sizeof g_next, "%s", value);
    } else if (capsule_string_eq(k, "topic")) {
      snprintf(g_topic, sizeof g_topic, "%s", value);
    } else if (capsule_string_eq(k, "tag")) {
      snprintf(g_tag, sizeof g_tag, "%s", value);
    } else if (capsule_string_eq(k, "target")) {
      snprintf(g_target, sizeof g_target, "%s", value);
    } else if (capsule_string_eq(k, "done_topic")) {
      snprintf(g_done_topic, sizeof g_done_topic, "%s", value);
    } else if (capsule_string_eq(k, "instances")) {
      g_instances = (unsigned)atoi(value);
    } else if (capsule_string_eq(k, "targets")) {
      size_t len = v->len < sizeof g_targets - 1 ? v->len : sizeof g_targets - 1;
      memcpy(g_targets, v->ptr, len);
      g_targets[len] = 0;
    } else if (capsule_string_eq(k, "numbered")) {
      g_numbered = (unsigned)atoi(value);
    } else if (capsule_string_eq(k, "batch")) {
      g_batch = (unsigned)atoi(value);
    } else if (capsule_string_eq(k, "timeout_ms")) {
      g_timeout_ms = (unsigned)atoi(value);
    }
  }
  capsule_config_free(config);
  if (g_mode == MODE_BATCH) {
    if (!strchr(g_targets, '/') || g_batch == 0) {
      capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                        "relay batch needs targets=<ns/name/inst>,... and batch=<k> (k >= 1)");
      return false;
    }
    return true;
  }
  if ((g_mode != MODE_FORWARD && !strchr(g_target, '/')) ||
      (g_mode == MODE_FORWARD && !strchr(g_next, '/') && g_topic[0] == 0)) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "relay needs next=<ns/name/inst> or topic=<t> (forward) or target=<ns/name>");
    return false;
  }
  return true;
}

static const char* const kErrorNames[] = {
    "invalid-argument", "not-found",   "permission-denied", "quota-exceeded", "timeout",
    "cancelled",        "unavailable", "not-implemented",   "internal"};

static const char* error_name(uint8_t tag) {
  return tag < sizeof kErrorNames / sizeof kErrorNames[0] ? kErrorNames[tag] : "?";
}

/* Appends to `out` (capacity n) as far as it fits. */
static void append(char* out, size_t n, const char* text) {
  size_t len = strlen(out);
  snprintf(out + len, n - len, "%s", text);
}

/* mode=batch: `count` messages in calls of g_batch; see the header. */
static void send_batches(unsigned count) {
  enum { kMaxTargets = 16, kPayload = 64 };
  capsule_component_id_t ids[kMaxTargets];
  unsigned targets = 0;
  char list[sizeof g_targets];
  snprintf(list, sizeof list, "%s", g_targets);
  for (char* t = strtok(list, ","); t && targets < kMaxTargets; t = strtok(NULL, ",")) {
    make_id(&ids[targets++], t, -1);
  }
  const unsigned k = g_batch;
  capsule_core_messaging_tuple2_component_id_payload_t* entries =
      capsule_alloc(sizeof *entries * k);
  uint8_t* bytes = capsule_alloc((size_t)kPayload * k);
  unsigned ok = 0, errors = 0;
  const bool report = count <= 64;
  char outcomes[1024] = "";
  char batch_error[160] = "";
  for (unsigned sent = 0; sent < count;) {
    const unsigned n = count - sent < k ? count - sent : k;
    for (unsigned i = 0; i < n; ++i) {
      uint8_t* b = bytes + (size_t)kPayload * i;
      memset(b, '.', kPayload);
      int len = snprintf((char*)b, kPayload, "%u", sent + i);
      b[len] = '.'; /* keep the padding after the number */
      /* Borrowed by the call (an import's arguments stay the caller's): no copies. */
      entries[i].f0 = ids[(sent + i) % targets];
      entries[i].f1.codec = CAPSULE_CODEC_TEXT;
      entries[i].f1.bytes.ptr = b;
      entries[i].f1.bytes.len = kPayload;
    }
    capsule_core_messaging_list_tuple2_component_id_payload_t messages = {entries, n};
    capsule_core_messaging_list_result_void_error_t results;
    capsule_error_t e;
    if (!capsule_core_messaging_send_batch(&messages, &results, &e)) {
      snprintf(batch_error, sizeof batch_error, " batch-error=%s", error_name(e.tag));
      capsule_core_types_error_free(&e);
      errors += n;
    } else {
      for (size_t i = 0; i < results.len; ++i) {
        const bool this_ok = !results.ptr[i].is_err;
        if (this_ok) {
          ++ok;
        } else {
          ++errors;
        }
        if (report) {
          append(outcomes, sizeof outcomes, outcomes[0] ? "," : " outcomes=");
          append(outcomes, sizeof outcomes,
                 this_ok ? "ok" : error_name(results.ptr[i].val.err.tag));
        }
      }
      capsule_core_messaging_list_result_void_error_free(&results);
    }
    sent += n;
  }
  free(entries);
  free(bytes);
  for (unsigned i = 0; i < targets; ++i) capsule_core_types_component_id_free(&ids[i]);
  char text[1400];
  snprintf(text, sizeof text, "ok=%u err=%u%s%s", ok, errors, outcomes, batch_error);
  publish_text(g_done_topic, text);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  char text[512];
  size_t n = msg->payload.bytes.len < 400 ? msg->payload.bytes.len : 400;
  memcpy(text, msg->payload.bytes.ptr, n);
  text[n] = 0;
  capsule_message_free(msg);
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */

  if (g_mode == MODE_FORWARD) {
    char out[512];
    snprintf(out, sizeof out, "%s|%s", text, g_tag);
    if (g_topic[0]) {
      publish_text(g_topic, out);
      return true;
    }
    capsule_component_id_t id;
    make_id(&id, g_next, -1);
    capsule_payload_t p;
    capsule_payload_set_text(&p, out);
    bool ok = capsule_core_messaging_send(&id, &p, err);
    capsule_core_types_component_id_free(&id);
    capsule_core_types_payload_free(&p);
    return ok;
  }
  unsigned count = (unsigned)atoi(text);
  if (g_mode == MODE_BATCH) {
    send_batches(count);
    return true;
  }
  if (g_mode == MODE_BURST) {
    capsule_component_id_t ids[64];
    const unsigned k = g_instances < 64 ? g_instances : 64;
    for (unsigned i = 0; i < k; ++i) make_id(&ids[i], g_target, (int)i);
    capsule_payload_t p;
    capsule_payload_set_text(&p, "burst");
    for (unsigned i = 0; i < count; ++i) {
      capsule_error_t e;
      if (g_numbered) {
        char num[16];
        snprintf(num, sizeof num, "%u", i);
        capsule_core_types_payload_free(&p);
        capsule_payload_set_text(&p, num);
      }
      if (!capsule_core_messaging_send(&ids[i % k], &p, &e)) capsule_core_types_error_free(&e);
    }
    capsule_core_types_payload_free(&p);
    for (unsigned i = 0; i < k; ++i) capsule_core_types_component_id_free(&ids[i]);
    return true;
  }
  if (g_mode == MODE_FANOUT) {
    g_expected = count;
    g_ok = g_err = g_timeouts = 0;
    for (unsigned i = 0; i < count; ++i) {
      char num[16];
      snprintf(num, sizeof num, "%u", i);
      if (!send_request(g_target, (int)(i % g_instances), num)) ++g_err;
    }
  } else {
    g_remaining = count;
    g_round_trips = 0;
    if (g_remaining > 0) send_request(g_target, -1, "ping");
  }
  return true;
}

bool exports_capsule_core_lifecycle_handle_callback(capsule_callback_t* cb, capsule_error_t* err) {
  (void)err;
  const bool ok = !cb->outcome.is_err;
  const bool timeout =
      cb->outcome.is_err && cb->outcome.val.err.tag == CAPSULE_CORE_TYPES_ERROR_TIMEOUT;
  capsule_callback_free(cb);
  char text[96];
  if (g_mode == MODE_FANOUT) {
    if (ok)
      ++g_ok;
    else if (timeout)
      ++g_timeouts;
    else
      ++g_err;
    if (g_ok + g_err + g_timeouts == g_expected) {
      snprintf(text, sizeof text, "ok=%u err=%u timeout=%u", g_ok, g_err, g_timeouts);
      publish_text(g_done_topic, text);
    }
  } else if (g_mode == MODE_PINGER) {
    ++g_round_trips;
    if (--g_remaining > 0) {
      send_request(g_target, -1, "ping");
    } else {
      snprintf(text, sizeof text, "done=%u", g_round_trips);
      publish_text(g_done_topic, text);
    }
  }
  return true;
}

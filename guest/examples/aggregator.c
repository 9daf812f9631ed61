/* aggregator: answers a request only after asking others (capsule:core 0.1.1 deferred replies).
 *
 * Config: targets=<ns/name/inst>,<ns/name/inst>,... (at most 8), timeout_ms=<t> (default 2000).
 * A request with payload P defers its reply (messaging.defer-reply), sends P as a request to every
 * target, and when all of them answered replies "<reply 1>+<reply 2>+..." through
 * messaging.reply (a target that failed contributes "!<error tag>"). Several requests may be
 * pending at once; each has its own slot.
 *
 * Payloads with a special meaning, for the tests (tests/component/deferred_reply_test.cpp):
 *   "hold"      defer, and answer nothing until a later "release" (its requester may time out);
 *   "release"   reply "released" to every held request; replies "released=<n> refused=<m>
 *               last=<tag>" where m counts the replies the host refused and tag is the last
 *               refusal's error tag (-1: none);
 *   "twice"     defer, reply "first", reply again: replies nothing else; the second reply's
 *               refusal is kept for "last";
 *   "last"      replies "last=<tag>": the error tag of the last refused defer/reply (-1: none);
 *   "wrong"     defer-reply with another correlation: replies "wrong=<tag>" of its refusal;
 *   "fail"      defer, then return an error from handle-message ("failed after deferring");
 *   "trap"      defer, then trap;
 *   "crash"     trap at once (restarts the instance: every held request fails);
 *   "return"    defer, then also return a reply (ignored by the host: the deferred one counts),
 *               and reply "deferred" through messaging.reply.
 * A plain send (no correlation) of "defer" tries defer-reply(0); its refusal is kept for "last". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("aggregator", "0.1.0", "Replies after asking every target")

#define MAX_TARGETS 8
#define MAX_PENDING 64
#define MAX_HELD 8192

typedef capsule_core_messaging_result_payload_error_t outcome_t;

static char g_targets[MAX_TARGETS][160];
static unsigned g_target_count;
static unsigned g_timeout_ms = 2000;
static int g_last_refusal = -1;

/* One request being aggregated: its own correlation, and those of the requests it made. */
struct pending {
  bool used;
  uint64_t correlation;
  uint64_t asked[MAX_TARGETS];
  unsigned answered;
  char reply[MAX_TARGETS * 72];
};
static struct pending g_pending[MAX_PENDING];
static uint64_t g_held[MAX_HELD];
static unsigned g_held_count;

static void make_id(capsule_component_id_t* id, const char* text) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s", text);
  char* name = strchr(buf, '/');
  *name++ = 0;
  char* instance = strchr(name, '/');
  *instance++ = 0;
  component_string_dup(&id->namespace_, buf);
  component_string_dup(&id->name, name);
  component_string_dup(&id->instance, instance);
}

static void keep_refusal(capsule_error_t* e) {
  g_last_refusal = (int)e->tag;
  capsule_core_types_error_free(e);
}

static bool defer(uint64_t correlation) {
  capsule_error_t e;
  if (capsule_core_messaging_defer_reply(correlation, &e)) return true;
  keep_refusal(&e);
  return false;
}

/* messaging.reply with a text payload; false (and the refusal kept) when the host refused it. */
static bool reply_text(uint64_t correlation, const char* text) {
  outcome_t outcome = {.is_err = false};
  capsule_payload_set_text(&outcome.val.ok, text);
  capsule_error_t e;
  const bool ok = capsule_core_messaging_reply(correlation, &outcome, &e);
  capsule_core_types_payload_free(&outcome.val.ok);
  if (!ok) keep_refusal(&e);
  return ok;
}

static void text_of(const capsule_payload_t* p, char* out, size_t n) {
  size_t len = p->bytes.len < n - 1 ? p->bytes.len : n - 1;
  memcpy(out, p->bytes.ptr, len);
  out[len] = 0;
}

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  (void)err;
  for (size_t i = 0; i < config->len; ++i) {
    const component_string_t *k = &config->ptr[i].f0, *v = &config->ptr[i].f1;
    char value[1024];
    size_t len = v->len < sizeof value - 1 ? v->len : sizeof value - 1;
    memcpy(value, v->ptr, len);
    value[len] = 0;
    if (capsule_string_eq(k, "targets")) {
      for (char* t = strtok(value, ","); t && g_target_count < MAX_TARGETS; t = strtok(NULL, ",")) {
        snprintf(g_targets[g_target_count++], sizeof g_targets[0], "%s", t);
      }
    } else if (capsule_string_eq(k, "timeout_ms")) {
      g_timeout_ms = (unsigned)atoi(value);
    }
  }
  capsule_config_free(config);
  return true;
}

static bool fan_out(uint64_t correlation, const capsule_payload_t* payload, capsule_error_t* err) {
  struct pending* slot = NULL;
  for (unsigned i = 0; i < MAX_PENDING && !slot; ++i) {
    if (!g_pending[i].used) slot = &g_pending[i];
  }
  if (!slot || g_target_count == 0) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_QUOTA_EXCEEDED,
                      g_target_count == 0 ? "aggregator has no targets" : "aggregator is full");
    return false;
  }
  if (!defer(correlation)) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INTERNAL, "defer-reply refused");
    return false;
  }
  memset(slot, 0, sizeof *slot);
  slot->used = true;
  slot->correlation = correlation;
  for (unsigned i = 0; i < g_target_count; ++i) {
    capsule_component_id_t id;
    make_id(&id, g_targets[i]);
    capsule_error_t e;
    if (!capsule_core_messaging_request(&id, (capsule_payload_t*)payload, g_timeout_ms,
                                        &slot->asked[i], &e)) {
      capsule_core_types_error_free(&e);
      slot->asked[i] = 0; /* counted as answered with an error below */
      ++slot->answered;
      strcat(slot->reply, slot->reply[0] ? "+!send" : "!send");
    }
    capsule_core_types_component_id_free(&id);
  }
  return true;
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  char text[256];
  text_of(&msg->payload, text, sizeof text);
  const bool is_request = msg->correlation.is_some;
  const uint64_t correlation = msg->correlation.val;
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  bool ok = true;
  char out[128];

  if (!is_request) {
    if (strcmp(text, "defer") == 0) defer(0);
  } else if (strcmp(text, "hold") == 0) {
    if (defer(correlation) && g_held_count < MAX_HELD) g_held[g_held_count++] = correlation;
  } else if (strcmp(text, "release") == 0) {
    unsigned released = 0, refused = 0;
    for (unsigned i = 0; i < g_held_count; ++i) {
      if (reply_text(g_held[i], "released")) {
        ++released;
      } else {
        ++refused;
      }
    }
    g_held_count = 0;
    snprintf(out, sizeof out, "released=%u refused=%u last=%d", released, refused, g_last_refusal);
    capsule_reply_text(reply, out);
  } else if (strcmp(text, "twice") == 0) {
    if (defer(correlation) && reply_text(correlation, "first")) reply_text(correlation, "second");
  } else if (strcmp(text, "last") == 0) {
    snprintf(out, sizeof out, "last=%d", g_last_refusal);
    capsule_reply_text(reply, out);
  } else if (strcmp(text, "wrong") == 0) {
    g_last_refusal = -1;
    defer(correlation + 1);
    snprintf(out, sizeof out, "wrong=%d", g_last_refusal);
    capsule_reply_text(reply, out);
  } else if (strcmp(text, "fail") == 0) {
    defer(correlation);
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_UNAVAILABLE, "failed after deferring");
    ok = false;
  } else if (strcmp(text, "trap") == 0) {
    defer(correlation);
    abort();
  } else if (strcmp(text, "crash") == 0) {
    abort();
  } else if (strcmp(text, "return") == 0) {
    defer(correlation);
    reply_text(correlation, "deferred");
    capsule_reply_text(reply, "returned");
  } else {
    ok = fan_out(correlation, &msg->payload, err);
  }
  capsule_message_free(msg);
  return ok;
}

bool exports_capsule_core_lifecycle_handle_callback(capsule_callback_t* cb, capsule_error_t* err) {
  (void)err;
  for (unsigned i = 0; i < MAX_PENDING; ++i) {
    struct pending* p = &g_pending[i];
    if (!p->used) continue;
    for (unsigned t = 0; t < g_target_count; ++t) {
      if (p->asked[t] != cb->correlation) continue;
      char part[72];
      if (cb->outcome.is_err) {
        snprintf(part, sizeof part, "!%d", (int)cb->outcome.val.err.tag);
      } else {
        text_of(&cb->outcome.val.ok, part, 64);
      }
      if (p->reply[0]) strcat(p->reply, "+");
      strcat(p->reply, part);
      if (++p->answered == g_target_count) {
        reply_text(p->correlation, p->reply);
        p->used = false;
      }
      capsule_callback_free(cb);
      return true;
    }
  }
  capsule_callback_free(cb);
  return true;
}

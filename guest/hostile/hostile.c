/* hostile: one attack on the host per instance, picked by the config key `attack` (see
 * tests/hostile/). Init-time and shutdown-time attacks run from those exports; every other attack
 * runs when a message arrives, and the reply reports what the host answered, e.g.
 *   ok=1000 refused=9000 tag=3 first=... (tag: WIT error case, 3 = quota-exceeded)
 * The canary next to it is the plain echo component. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h> /* getentropy */
#include <time.h>

#include <capsule/guest.h>

static char g_attack[64];
static char g_report[2048];
static bool g_metadata_traps;

static const char kBadUtf8[] = "bad\xff\xfe\xc3utf8";
static const size_t kBadUtf8Len = sizeof kBadUtf8 - 1;

void exports_capsule_core_lifecycle_metadata(capsule_metadata_t* ret) {
  if (g_metadata_traps) __builtin_trap();
  capsule_metadata_fill(ret, "hostile", "0.1.0", "Attacks the host, one attack per instance");
  if (strcmp(g_attack, "utf8-metadata") == 0) {
    free(ret->description.ptr);
    component_string_dup_n(&ret->description, kBadUtf8, kBadUtf8Len);
  }
}

static bool is(const char* name) {
  return strcmp(g_attack, name) == 0;
}

/* Counts answers of a flood: how many calls succeeded, how many failed, and the first failure. */
typedef struct {
  long ok;
  long refused;
  unsigned tag;
  char first[256];
} tally_t;

static void tally(tally_t* t, bool ok, capsule_error_t* e) {
  if (ok) {
    t->ok++;
    return;
  }
  if (t->refused++ == 0) {
    t->tag = e->tag;
    size_t n = e->val.invalid_argument.len; /* every case carries one string */
    if (n >= sizeof t->first) n = sizeof t->first - 1;
    memcpy(t->first, e->val.invalid_argument.ptr, n);
    t->first[n] = 0;
    for (char* p = t->first; *p; ++p) {
      if (*p == ' ') *p = '_'; /* keeps the report one token per field */
    }
  }
  capsule_core_types_error_free(e);
}

static void tally_report(const tally_t* t) {
  snprintf(g_report, sizeof g_report, "ok=%ld refused=%ld tag=%u first=%s", t->ok, t->refused,
           t->refused ? t->tag : 99u, t->refused ? t->first : "-");
}

static void id_of(capsule_component_id_t* id, const char* name) {
  component_string_set(&id->namespace_, "test");
  component_string_set(&id->name, name);
  component_string_set(&id->instance, "0");
}

static void bad_string(component_string_t* s) {
  s->ptr = (uint8_t*)kBadUtf8;
  s->len = kBadUtf8Len;
}

/* Every host function a component with no grants might try, with the answers tallied. */
static void try_everything(tally_t* t, const char* note) {
  capsule_error_t e;
  capsule_component_id_t canary;
  id_of(&canary, "canary");
  capsule_payload_t payload;
  capsule_payload_set_text(&payload, note);
  tally(t, capsule_core_messaging_send(&canary, &payload, &e), &e);
  uint64_t corr = 0;
  tally(t, capsule_core_messaging_request(&canary, &payload, 1000, &corr, &e), &e);
  component_string_t topic;
  component_string_set(&topic, "news");
  uint32_t n = 0;
  tally(t, capsule_core_messaging_publish(&topic, &payload, &n, &e), &e);
  tally(t, capsule_core_messaging_subscribe(&topic, &e), &e);
  capsule_core_services_list_component_id_t ids;
  bool listed = capsule_core_services_list_components(&ids, &e);
  if (listed) capsule_core_services_list_component_id_free(&ids);
  tally(t, listed, &e);
  component_string_t key;
  component_string_set(&key, note);
  component_list_u8_t value = {(uint8_t*)"stolen", 6};
  tally(t, capsule_core_storage_set(&key, &value, &e), &e);
  capsule_core_types_payload_free(&payload);
}

static tally_t g_init_tally;

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  for (size_t i = 0; i < config->len; ++i) {
    if (capsule_string_eq(&config->ptr[i].f0, "attack")) {
      size_t n =
          config->ptr[i].f1.len < sizeof g_attack - 1 ? config->ptr[i].f1.len : sizeof g_attack - 1;
      memcpy(g_attack, config->ptr[i].f1.ptr, n);
      g_attack[n] = 0;
    }
  }
  capsule_config_free(config);
  g_metadata_traps = is("metadata-trap");
  if (is("init-calls")) try_everything(&g_init_tally, "from-init");
  if (is("utf8-init-error")) {
    err->tag = CAPSULE_CORE_TYPES_ERROR_INTERNAL;
    component_string_dup_n(&err->val.internal, kBadUtf8, kBadUtf8Len);
    return false;
  }
  return true;
}

void exports_capsule_core_lifecycle_shutdown(void) {
  if (is("shutdown-calls")) {
    tally_t t = {0};
    try_everything(&t, "from-shutdown");
  }
  if (is("shutdown-loop")) {
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  }
}

static volatile int g_sink;

/* Recursion on the engine's own call stack (no locals in linear memory): the store's stack
 * limit stops it. The depth check never fires; it keeps the compiler from proving the recursion
 * infinite, and the store after the call keeps it from turning the recursion into a loop. */
__attribute__((noinline)) static int recurse(int depth) {
  if (depth < 0) return 0;
  const int r = recurse(depth + 1);
  g_sink = r;
  return r + 1;
}

/* Recursion with a frame in linear memory: the C shadow stack runs out first, below the
 * guest's own data, and the guest traps on its own memory. */
__attribute__((noinline)) static int recurse_in_memory(int depth) {
  volatile char frame[256];
  frame[depth % 256] = (char)depth;
  if (depth < 0) return 0;
  const int r = recurse_in_memory(depth + 1);
  g_sink = r;
  return r + frame[0];
}

static void flood_messages(const char* how, long count) {
  tally_t t = {0};
  capsule_error_t e;
  capsule_component_id_t target;
  id_of(&target, strcmp(how, "request") == 0 ? "hostile" : "canary");
  capsule_payload_t payload;
  capsule_payload_set_text(&payload, "flood");
  component_string_t topic;
  component_string_set(&topic, "news");
  for (long i = 0; i < count; ++i) {
    uint64_t corr = 0;
    uint32_t n = 0;
    if (strcmp(how, "send") == 0) {
      tally(&t, capsule_core_messaging_send(&target, &payload, &e), &e);
    } else if (strcmp(how, "request") == 0) {
      tally(&t, capsule_core_messaging_request(&target, &payload, 60000, &corr, &e), &e);
    } else {
      tally(&t, capsule_core_messaging_publish(&topic, &payload, &n, &e), &e);
    }
  }
  capsule_core_types_payload_free(&payload);
  tally_report(&t);
}

static void flood_subscriptions(long count) {
  tally_t t = {0};
  capsule_error_t e;
  char name[32];
  for (long i = 0; i < count; ++i) {
    snprintf(name, sizeof name, "topic-%ld", i);
    component_string_t topic;
    component_string_set(&topic, name);
    tally(&t, capsule_core_messaging_subscribe(&topic, &e), &e);
  }
  tally_report(&t);
}

static void broadcast_wide(long count) {
  capsule_component_id_t* targets = capsule_alloc(sizeof *targets * (size_t)count);
  for (long i = 0; i < count; ++i) id_of(&targets[i], "canary");
  capsule_core_messaging_list_component_id_t list = {targets, (size_t)count};
  capsule_payload_t payload;
  capsule_payload_set_text(&payload, "fan-out");
  capsule_error_t e;
  uint32_t reached = 0;
  tally_t t = {0};
  tally(&t, capsule_core_messaging_broadcast(&list, &payload, &reached, &e), &e);
  capsule_core_types_payload_free(&payload);
  free(targets);
  tally_report(&t);
  size_t len = strlen(g_report);
  snprintf(g_report + len, sizeof g_report - len, " reached=%u", reached);
}

static void flood_logs(long count, size_t line_bytes) {
  char* line = capsule_alloc(line_bytes + 1);
  memset(line, 'x', line_bytes);
  line[line_bytes] = 0;
  for (long i = 0; i < count; ++i) capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_WARN, line);
  free(line);
  snprintf(g_report, sizeof g_report, "logged=%ld bytes=%zu", count, line_bytes);
}

static void flood_denied(long count) {
  tally_t t = {0};
  capsule_error_t e;
  component_string_t key;
  component_string_set(&key, "k");
  for (long i = 0; i < count; ++i) {
    component_option_list_u8_t value;
    bool ok = capsule_core_storage_get(&key, &value, &e);
    if (ok && value.is_some) component_list_u8_free(&value.val);
    tally(&t, ok, &e);
  }
  tally_report(&t);
}

static void flood_storage(void) {
  tally_t t = {0};
  capsule_error_t e;
  static uint8_t value[4096];
  char name[32];
  for (long i = 0; i < 100000 && t.refused < 100; ++i) {
    snprintf(name, sizeof name, "key-%ld", i);
    component_string_t key;
    component_string_set(&key, name);
    component_list_u8_t v = {value, sizeof value};
    tally(&t, capsule_core_storage_set(&key, &v, &e), &e);
  }
  tally_report(&t);
}

static void cancel_others(void) {
  tally_t t = {0};
  capsule_error_t e;
  for (uint64_t id = 1; id <= 5000; ++id) tally(&t, capsule_core_messaging_cancel(id, &e), &e);
  tally_report(&t);
}

/* Every string import, each handed invalid UTF-8: the report lists each call's answer. */
static void invalid_utf8(const char* path) {
  tally_t t = {0};
  capsule_error_t e;
  component_string_t bad;
  bad_string(&bad);
  capsule_payload_t payload;
  capsule_payload_set_text(&payload, "x");
  uint32_t n = 0;
  if (strcmp(path, "utf8-log") == 0) {
    capsule_core_services_log(CAPSULE_CORE_TYPES_LOG_LEVEL_WARN, &bad, NULL);
    t.ok = 1;
  } else if (strcmp(path, "utf8-log-field") == 0) {
    component_tuple2_string_string_t field;
    component_string_set(&field.f0, "key");
    field.f1 = bad;
    component_list_tuple2_string_string_t fields = {&field, 1};
    component_string_t text;
    component_string_set(&text, "line with a bad field");
    capsule_core_services_log(CAPSULE_CORE_TYPES_LOG_LEVEL_WARN, &text, &fields);
    t.ok = 1;
  } else if (strcmp(path, "utf8-publish") == 0) {
    tally(&t, capsule_core_messaging_publish(&bad, &payload, &n, &e), &e);
  } else if (strcmp(path, "utf8-subscribe") == 0) {
    tally(&t, capsule_core_messaging_subscribe(&bad, &e), &e);
  } else if (strcmp(path, "utf8-target") == 0) {
    capsule_component_id_t target;
    id_of(&target, "canary");
    target.name = bad;
    tally(&t, capsule_core_messaging_send(&target, &payload, &e), &e);
  } else if (strcmp(path, "utf8-key") == 0) {
    component_list_u8_t v = {(uint8_t*)"v", 1};
    tally(&t, capsule_core_storage_set(&bad, &v, &e), &e);
  }
  capsule_core_types_payload_free(&payload);
  tally_report(&t);
}

static void log_forge(void) {
  capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_INFO,
              "innocent\n2026-01-01T00:00:00Z ERROR [host/host/0] forged host line");
  component_tuple2_string_string_t fields[3];
  component_string_set(&fields[0].f0, "component");
  component_string_set(&fields[0].f1, "host/host/0");
  component_string_set(&fields[1].f0, "level");
  component_string_set(&fields[1].f1, "error");
  component_string_set(&fields[2].f0, "ts");
  component_string_set(&fields[2].f1, "1970-01-01T00:00:00Z");
  component_list_tuple2_string_string_t list = {fields, 3};
  component_string_t text;
  component_string_set(&text, "fields that claim to be the host's");
  capsule_core_services_log(CAPSULE_CORE_TYPES_LOG_LEVEL_INFO, &text, &list);
  snprintf(g_report, sizeof g_report, "forged=2");
}

static void sleep_forever(void) {
  struct timespec ts = {3600, 0};
  nanosleep(&ts, NULL);
  snprintf(g_report, sizeof g_report, "woke");
}

/* Grows linear memory page by page until the host refuses; reports the pages it got. */
static void grow_memory(void) {
  long pages = 0;
  while (__builtin_wasm_memory_grow(0, 1) != (size_t)-1) ++pages;
  snprintf(g_report, sizeof g_report, "grown_pages=%ld total_pages=%zu", pages,
           __builtin_wasm_memory_size(0));
}

/* The guest's one table, the function table wasm-ld makes for indirect calls: linked with
 * --growable-table it has no declared maximum, so only the host's caps stop it growing. (A second
 * table of its own, e.g. `static __externref_t t[0]` for clang's __builtin_wasm_table_grow, which
 * takes externref tables only, would make the module one the pooling allocator refuses: Wasmtime
 * allows one table per core module there.) clang has no builtin for funcref tables, so the
 * instructions are written out: table.grow with null function references. */
static int grow_table_by(int n) {
  int old;
  __asm__ volatile(
      "ref.null_func\n\t"
      "local.get %1\n\t"
      "table.grow __indirect_function_table\n\t"
      "local.set %0"
      : "=r"(old)
      : "r"(n));
  return old; /* the previous size, or -1 when refused */
}

static int table_size(void) {
  int size;
  __asm__ volatile(
      "table.size __indirect_function_table\n\t"
      "local.set %0"
      : "=r"(size));
  return size;
}

/* Grows the table far past any cap: a leap of a million elements, then one element at a time
 * until the host refuses, then keeps asking (1000 single elements, 1000 leaps of 100k) to see
 * every further attempt refused too. Wasmtime charges one unit of fuel per element asked for,
 * granted or not, so the leaps stay small enough for the fuel budget (see `table-leap`). Reports
 *   initial=<table size before> leap=<what the first leap returned> grown=<elements won>
 *   refused=<refused attempts> size=<table size at the end> */
static void grow_table(void) {
  const int initial = table_size();
  const int leap = grow_table_by(1000000);
  long grown = 0;
  long refused = leap == -1 ? 1 : 0;
  while (grow_table_by(1) != -1) ++grown;
  ++refused;
  for (int i = 0; i < 1000; ++i) {
    if (grow_table_by(1) == -1)
      ++refused;
    else
      grown += 1;
    if (grow_table_by(100000) == -1)
      ++refused;
    else
      grown += 100000;
  }
  snprintf(g_report, sizeof g_report, "initial=%d leap=%d grown=%ld refused=%ld size=%d", initial,
           leap, grown, refused, table_size());
}

/* Not an attack but its victim: a requester whose mailbox the test floods while the outcomes of
 * its requests come back. "go" sends 50 requests to the canary, "count" reports how many
 * outcomes arrived, anything else is flood and ignored. */
static unsigned g_callbacks;

bool exports_capsule_core_lifecycle_handle_callback(capsule_callback_t* cb, capsule_error_t* err) {
  (void)err;
  capsule_callback_free(cb);
  ++g_callbacks;
  return true;
}

static void requester(const capsule_message_t* msg) {
  const char* text = (const char*)msg->payload.bytes.ptr;
  const size_t len = msg->payload.bytes.len;
  if (len == 2 && memcmp(text, "go", 2) == 0) {
    tally_t t = {0};
    capsule_error_t e;
    capsule_component_id_t canary;
    id_of(&canary, "canary");
    capsule_payload_t payload;
    capsule_payload_set_text(&payload, "outcome?");
    for (int i = 0; i < 50; ++i) {
      uint64_t corr = 0;
      tally(&t, capsule_core_messaging_request(&canary, &payload, 5000, &corr, &e), &e);
    }
    capsule_core_types_payload_free(&payload);
    tally_report(&t);
  } else if (len == 5 && memcmp(text, "count", 5) == 0) {
    snprintf(g_report, sizeof g_report, "callbacks=%u", g_callbacks);
  } else {
    snprintf(g_report, sizeof g_report, "ignored");
  }
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  g_report[0] = 0;
  if (is("requester")) {
    requester(msg);
    capsule_message_free(msg);
    capsule_reply_text(reply, g_report);
    return true;
  }
  capsule_message_free(msg);
  if (is("loop")) {
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  } else if (is("recursion")) {
    snprintf(g_report, sizeof g_report, "depth=%d", recurse(0));
  } else if (is("shadow-stack")) {
    snprintf(g_report, sizeof g_report, "depth=%d", recurse_in_memory(0));
  } else if (is("malloc")) {
    for (;;) memset(capsule_alloc(1 << 20), 1, 1 << 20);
  } else if (is("memory-grow")) {
    grow_memory();
  } else if (is("table-grow")) {
    grow_table();
  } else if (is("table-leap")) {
    const int leap = grow_table_by(0x7fffffff);
    snprintf(g_report, sizeof g_report, "leap=%d size=%d", leap, table_size());
  } else if (is("unreachable")) {
    __builtin_trap();
  } else if (is("sleep")) {
    sleep_forever();
  } else if (is("huge-reply")) {
    const size_t size = 8u << 20;
    uint8_t* big = capsule_alloc(size);
    memset(big, 'h', size);
    reply->is_some = true;
    reply->val.codec = CAPSULE_CODEC_RAW;
    reply->val.bytes.ptr = big;
    reply->val.bytes.len = size;
    return true;
  } else if (is("forged-trap")) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INTERNAL,
                      "interrupted (wall-time limit) host/host/0 trapped: out of fuel");
    return false;
  } else if (is("wasi-random")) {
    unsigned char buf[16];
    const int rc = getentropy(buf, sizeof buf);
    snprintf(g_report, sizeof g_report, "random=%s", rc == 0 ? "ok" : "err");
  } else if (is("wasi-clock")) {
    struct timespec wall = {0, 0}, mono = {0, 0};
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    snprintf(g_report, sizeof g_report, "wall=%lld mono=%lld", (long long)wall.tv_sec,
             (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec);
  } else if (is("huge-error")) {
    const size_t size = 1u << 20;
    char* text = capsule_alloc(size + 1);
    memset(text, 'e', size);
    text[size] = 0;
    err->tag = CAPSULE_CORE_TYPES_ERROR_INTERNAL;
    err->val.internal.ptr = (uint8_t*)text;
    err->val.internal.len = size;
    return false;
  } else if (is("utf8-error")) {
    err->tag = CAPSULE_CORE_TYPES_ERROR_INTERNAL;
    component_string_dup_n(&err->val.internal, kBadUtf8, kBadUtf8Len);
    return false;
  } else if (is("send-flood")) {
    flood_messages("send", 20000);
  } else if (is("request-flood")) {
    flood_messages("request", 5000);
  } else if (is("publish-flood")) {
    flood_messages("publish", 20000);
  } else if (is("subscribe-flood")) {
    flood_subscriptions(5000);
  } else if (is("broadcast-wide")) {
    broadcast_wide(20000);
  } else if (is("log-flood")) {
    flood_logs(20000, 200);
  } else if (is("log-huge")) {
    flood_logs(1, 3u << 20);
  } else if (is("denied-flood")) {
    flood_denied(20000);
  } else if (is("storage-flood")) {
    flood_storage();
  } else if (is("cancel-others")) {
    cancel_others();
  } else if (is("log-forge")) {
    log_forge();
  } else if (is("init-calls")) {
    tally_report(&g_init_tally);
  } else if (strncmp(g_attack, "utf8-", 5) == 0) {
    invalid_utf8(g_attack);
  } else {
    snprintf(g_report, sizeof g_report, "idle");
  }
  capsule_reply_text(reply, g_report);
  return true;
}

/* wasi_kv: a capsule component that keeps its state through the standard interfaces instead of
 * capsule:core's own: wasi:keyvalue (store, atomics), wasi:config and wasi:logging (guest/
 * CMakeLists.txt adds them to its world). Requests are commands, one per message, and the reply
 * says what the host answered:
 *   set B K V | get B K | del B K | exists B K | list B | incr B K D | open B
 *   fill B N SIZE   (N keys fill-<i> of SIZE bytes; stops at the first error)
 *   config K | config-all | log N CONTEXT   (N lines through wasi:logging, the first critical)
 *   crash   (traps: its supervisor restarts it)
 *   loop API OP N   (bench/component/keyvalue_bench.cpp: N calls of OP = get or set on key
 *                    "bench", value "0123456789", through API = wasi (default bucket) or core
 *                    (capsule:core/storage); replies "ok=N" or the first error)
 * B is a bucket name, "-" for "default". Errors read "error no-such-store", "error access-denied"
 * or "error other <text>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("wasi_kv", "0.1.0",
                           "State through wasi:keyvalue, wasi:config, wasi:logging")

typedef wasi_keyvalue_store_error_t kv_error_t;

/* A growing reply text. */
typedef struct {
  char* text;
  size_t len, cap;
} out_t;

static void put(out_t* o, const char* data, size_t len) {
  if (o->len + len + 1 > o->cap) {
    o->cap = (o->len + len + 1) * 2;
    o->text = (char*)realloc(o->text, o->cap);
    if (o->text == NULL) capsule_guest_out_of_memory();
  }
  memcpy(o->text + o->len, data, len);
  o->len += len;
  o->text[o->len] = 0;
}

static void puts_(out_t* o, const char* s) {
  put(o, s, strlen(s));
}

static void put_error(out_t* o, kv_error_t* e) {
  switch (e->tag) {
    case WASI_KEYVALUE_STORE_ERROR_NO_SUCH_STORE:
      puts_(o, "error no-such-store");
      break;
    case WASI_KEYVALUE_STORE_ERROR_ACCESS_DENIED:
      puts_(o, "error access-denied");
      break;
    default:
      puts_(o, "error other ");
      put(o, (const char*)e->val.other.ptr, e->val.other.len);
  }
  wasi_keyvalue_store_error_free(e);
}

static component_string_t str(const char* s) {
  component_string_t out;
  component_string_set(&out, s);
  return out;
}

/* Opens bucket `name` ("-": default); false with the error written to `o`. */
static bool open_bucket(const char* name, wasi_keyvalue_store_own_bucket_t* b, out_t* o) {
  component_string_t id = str(strcmp(name, "-") == 0 ? "default" : name);
  kv_error_t err;
  if (!wasi_keyvalue_store_open(&id, b, &err)) {
    put_error(o, &err);
    return false;
  }
  return true;
}

/* "hoard <n>": opens n buckets and keeps every handle (a hostile guest growing the host's
 * resource table); writes how many opened, then the refusal if one came. */
static void hoard_command(char** argv, int argc, out_t* o) {
  const long n = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
  long opened = 0;
  char num[32];
  for (; opened < n; ++opened) {
    wasi_keyvalue_store_own_bucket_t own;
    component_string_t id = str("hoard");
    kv_error_t err;
    if (!wasi_keyvalue_store_open(&id, &own, &err)) {
      snprintf(num, sizeof num, "opened %ld ", opened);
      puts_(o, num);
      put_error(o, &err);
      return;
    }
  }
  snprintf(num, sizeof num, "opened %ld", opened);
  puts_(o, num);
}

static void kv_command(char** argv, int argc, out_t* o) {
  const char* op = argv[0];
  wasi_keyvalue_store_own_bucket_t own;
  if (argc < 2 || !open_bucket(argv[1], &own, o)) return;
  wasi_keyvalue_store_borrow_bucket_t b = wasi_keyvalue_store_borrow_bucket(own);
  kv_error_t err;
  component_string_t key = str(argc > 2 ? argv[2] : "");
  char num[32];
  if (strcmp(op, "open") == 0) {
    puts_(o, "ok");
  } else if (strcmp(op, "set") == 0 && argc == 4) {
    component_list_u8_t value = {(uint8_t*)argv[3], strlen(argv[3])};
    if (wasi_keyvalue_store_method_bucket_set(b, &key, &value, &err))
      puts_(o, "ok");
    else
      put_error(o, &err);
  } else if (strcmp(op, "get") == 0 && argc == 3) {
    component_option_list_u8_t v;
    if (!wasi_keyvalue_store_method_bucket_get(b, &key, &v, &err)) {
      put_error(o, &err);
    } else if (!v.is_some) {
      puts_(o, "none");
    } else {
      put(o, (const char*)v.val.ptr, v.val.len);
      component_list_u8_free(&v.val);
    }
  } else if (strcmp(op, "del") == 0 && argc == 3) {
    if (wasi_keyvalue_store_method_bucket_delete(b, &key, &err))
      puts_(o, "ok");
    else
      put_error(o, &err);
  } else if (strcmp(op, "exists") == 0 && argc == 3) {
    bool there = false;
    if (wasi_keyvalue_store_method_bucket_exists(b, &key, &there, &err)) {
      puts_(o, there ? "true" : "false");
    } else {
      put_error(o, &err);
    }
  } else if (strcmp(op, "list") == 0) {
    /* Every page, following the cursor: "k1,k2,..." */
    uint64_t cursor = 0;
    bool more = true, first_page = true, first = true;
    while (more) {
      wasi_keyvalue_store_key_response_t r;
      if (!wasi_keyvalue_store_method_bucket_list_keys(b, first_page ? NULL : &cursor, &r, &err)) {
        put_error(o, &err);
        break;
      }
      for (size_t i = 0; i < r.keys.len; ++i) {
        if (!first) puts_(o, ",");
        first = false;
        put(o, (const char*)r.keys.ptr[i].ptr, r.keys.ptr[i].len);
      }
      more = r.cursor.is_some;
      cursor = r.cursor.val;
      first_page = false;
      wasi_keyvalue_store_key_response_free(&r);
    }
  } else if (strcmp(op, "incr") == 0 && argc == 4) {
    uint64_t now = 0;
    if (wasi_keyvalue_atomics_increment(b, &key, strtoull(argv[3], NULL, 10), &now, &err)) {
      snprintf(num, sizeof num, "%llu", (unsigned long long)now);
      puts_(o, num);
    } else {
      put_error(o, &err);
    }
  } else if (strcmp(op, "fill") == 0 && argc == 4) {
    const long n = strtol(argv[2], NULL, 10);
    const size_t size = (size_t)strtoul(argv[3], NULL, 10);
    uint8_t* data = (uint8_t*)capsule_alloc(size + 1);
    memset(data, 'x', size);
    long done = 0;
    for (; done < n; ++done) {
      snprintf(num, sizeof num, "fill-%ld", done);
      component_string_t k = str(num);
      component_list_u8_t value = {data, size};
      if (!wasi_keyvalue_store_method_bucket_set(b, &k, &value, &err)) {
        snprintf(num, sizeof num, "ok=%ld ", done);
        puts_(o, num);
        put_error(o, &err);
        break;
      }
    }
    if (done == n) {
      snprintf(num, sizeof num, "ok=%ld", done);
      puts_(o, num);
    }
    free(data);
  } else {
    puts_(o, "usage: set|get|del|exists|list|incr|fill|open");
  }
  wasi_keyvalue_store_bucket_drop_own(own);
}

static void config_command(char** argv, int argc, out_t* o) {
  wasi_config_store_error_t err;
  if (strcmp(argv[0], "config") == 0 && argc == 2) {
    component_string_t key = str(argv[1]);
    component_option_string_t v;
    if (!wasi_config_store_get(&key, &v, &err)) {
      puts_(o, "error");
      wasi_config_store_error_free(&err);
    } else if (!v.is_some) {
      puts_(o, "none");
    } else {
      put(o, (const char*)v.val.ptr, v.val.len);
      component_string_free(&v.val);
    }
    return;
  }
  component_list_tuple2_string_string_t all;
  if (!wasi_config_store_get_all(&all, &err)) {
    puts_(o, "error");
    wasi_config_store_error_free(&err);
    return;
  }
  for (size_t i = 0; i < all.len; ++i) {
    if (i) puts_(o, ";");
    put(o, (const char*)all.ptr[i].f0.ptr, all.ptr[i].f0.len);
    puts_(o, "=");
    put(o, (const char*)all.ptr[i].f1.ptr, all.ptr[i].f1.len);
  }
  component_list_tuple2_string_string_free(&all);
}

static void log_command(char** argv, int argc, out_t* o) {
  const long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
  component_string_t context = str(argc > 2 ? argv[2] : "");
  char line[48];
  for (long i = 0; i < n; ++i) {
    snprintf(line, sizeof line, "wasi-logging line %ld", i);
    component_string_t message = str(line);
    wasi_logging_logging_log(
        i == 0 ? WASI_LOGGING_LOGGING_LEVEL_CRITICAL : WASI_LOGGING_LOGGING_LEVEL_INFO, &context,
        &message);
  }
  snprintf(line, sizeof line, "logged=%ld", n);
  puts_(o, line);
}

/* The same storage call N times, through wasi:keyvalue or through capsule:core's storage. */
static void loop_command(char** argv, int argc, out_t* o) {
  if (argc != 4) {
    puts_(o, "usage: loop wasi|core get|set N");
    return;
  }
  const bool wasi = strcmp(argv[1], "wasi") == 0;
  const bool get = strcmp(argv[2], "get") == 0;
  const long n = strtol(argv[3], NULL, 10);
  component_string_t key = str("bench");
  component_list_u8_t value = {(uint8_t*)"0123456789", 10};
  wasi_keyvalue_store_own_bucket_t own;
  if (wasi && !open_bucket("-", &own, o)) return;
  long done = 0;
  bool failed = false;
  for (; done < n && !failed; ++done) {
    component_option_list_u8_t got = {0};
    if (wasi) {
      kv_error_t err;
      wasi_keyvalue_store_borrow_bucket_t b = wasi_keyvalue_store_borrow_bucket(own);
      const bool ok = get ? wasi_keyvalue_store_method_bucket_get(b, &key, &got, &err)
                          : wasi_keyvalue_store_method_bucket_set(b, &key, &value, &err);
      if (!ok) {
        put_error(o, &err);
        failed = true;
      }
    } else {
      capsule_core_storage_error_t err;
      const bool ok = get ? capsule_core_storage_get(&key, &got, &err)
                          : capsule_core_storage_set(&key, &value, &err);
      if (!ok) {
        puts_(o, "error core");
        capsule_core_types_error_free(&err);
        failed = true;
      }
    }
    if (got.is_some) component_list_u8_free(&got.val);
  }
  if (wasi) wasi_keyvalue_store_bucket_drop_own(own);
  if (!failed) {
    char text[32];
    snprintf(text, sizeof text, "ok=%ld", done);
    puts_(o, text);
  }
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  /* Split the command into at most 8 words (in place, NUL-terminated). */
  const size_t len = msg->payload.bytes.len;
  char* line = (char*)capsule_alloc(len + 1);
  memcpy(line, msg->payload.bytes.ptr, len);
  line[len] = 0;
  capsule_message_free(msg);
  char* argv[8];
  int argc = 0;
  for (char* tok = strtok(line, " "); tok != NULL && argc < 8; tok = strtok(NULL, " ")) {
    argv[argc++] = tok;
  }
  out_t o = {0};
  puts_(&o, "");
  if (argc == 0) {
    puts_(&o, "empty command");
  } else if (strcmp(argv[0], "crash") == 0) {
    __builtin_trap();
  } else if (strncmp(argv[0], "config", 6) == 0) {
    config_command(argv, argc, &o);
  } else if (strcmp(argv[0], "log") == 0) {
    log_command(argv, argc, &o);
  } else if (strcmp(argv[0], "loop") == 0) {
    loop_command(argv, argc, &o);
  } else if (strcmp(argv[0], "hoard") == 0) {
    hoard_command(argv, argc, &o);
  } else {
    kv_command(argv, argc, &o);
  }
  capsule_reply_text(reply, o.text);
  free(o.text);
  free(line);
  return true;
}

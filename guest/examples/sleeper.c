/* sleeper: a guest that waits in WASI instead of computing. On every message it sleeps for the
 * number of milliseconds in the payload (default: one hour) with nanosleep, which wasi-libc turns
 * into poll_oneoff, the adapter into wasi:io/poll on a monotonic-clock pollable. Then it replies
 * "slept <ms>". With config sleep_in_init_ms=<n> it also sleeps in init, with
 * sleep_in_shutdown_ms=<n> in shutdown, with sleep_in_health_ms=<n> in every health check. The
 * message "health" replies "health checks=<k>": how many health checks returned so far.
 * The host must not let this hold a thread, and must stop it at its wall-time limit. */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c17 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("sleeper", "0.1.0", "Sleeps in WASI on every message")

static void sleep_ms(unsigned long ms) {
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static unsigned long parse_ms(const uint8_t* p, size_t n, unsigned long fallback) {
  char buf[24];
  if (n == 0 || n >= sizeof buf) return fallback;
  memcpy(buf, p, n);
  buf[n] = 0;
  char* end = NULL;
  unsigned long v = strtoul(buf, &end, 10);
  return end == buf ? fallback : v;
}

static unsigned long g_shutdown_ms, g_health_ms, g_health_checks;

exports_capsule_core_lifecycle_health_status_t exports_capsule_core_lifecycle_health(void) {
  sleep_ms(g_health_ms);
  ++g_health_checks;
  return CAPSULE_CORE_TYPES_HEALTH_STATUS_HEALTHY;
}

void exports_capsule_core_lifecycle_shutdown(void) {
  if (g_shutdown_ms == 0) return;
  sleep_ms(g_shutdown_ms);
  capsule_log(CAPSULE_CORE_TYPES_LOG_LEVEL_INFO, "shut down after sleeping");
}

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  (void)err;
  for (size_t i = 0; i < config->len; ++i) {
    const component_string_t* k = &config->ptr[i].f0;
    const component_string_t* v = &config->ptr[i].f1;
    if (capsule_string_eq(k, "sleep_in_init_ms")) {
      sleep_ms(parse_ms(v->ptr, v->len, 0));
    } else if (capsule_string_eq(k, "sleep_in_shutdown_ms")) {
      g_shutdown_ms = parse_ms(v->ptr, v->len, 0);
    } else if (capsule_string_eq(k, "sleep_in_health_ms")) {
      g_health_ms = parse_ms(v->ptr, v->len, 0);
    }
  }
  capsule_config_free(config);
  return true;
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  char text[40];
  if (msg->payload.bytes.len == 6 && memcmp(msg->payload.bytes.ptr, "health", 6) == 0) {
    capsule_message_free(msg);
    snprintf(text, sizeof text, "health checks=%lu", g_health_checks);
    capsule_reply_text(reply, text);
    return true;
  }
  const unsigned long ms = parse_ms(msg->payload.bytes.ptr, msg->payload.bytes.len, 3600000UL);
  capsule_message_free(msg);
  sleep_ms(ms);
  snprintf(text, sizeof text, "slept %lu", ms);
  capsule_reply_text(reply, text);
  return true;
}

/* store: keeps the text items it receives (in linear memory, newest last) and answers queries
 * sent as requests: "count" -> number of items, "last" -> newest item, "list" -> all, one per
 * line. Items are plain messages; queries are requests (they carry a correlation id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("store", "0.1.0", "Keeps items and answers count/last/list queries")

static char** g_items;
static size_t g_count, g_capacity;

static void add_item(const uint8_t* data, size_t len) {
  if (g_count == g_capacity) {
    g_capacity = g_capacity ? g_capacity * 2 : 16;
    g_items = (char**)realloc(g_items, g_capacity * sizeof *g_items);
    if (g_items == NULL) capsule_guest_out_of_memory();
  }
  char* item = (char*)capsule_alloc(len + 1);
  memcpy(item, data, len);
  item[len] = 0;
  g_items[g_count++] = item;
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  if (!msg->correlation.is_some) {
    add_item(msg->payload.bytes.ptr, msg->payload.bytes.len);
    capsule_message_free(msg);
    return true;
  }
  char query[16];
  const size_t n =
      msg->payload.bytes.len < sizeof query - 1 ? msg->payload.bytes.len : sizeof query - 1;
  memcpy(query, msg->payload.bytes.ptr, n);
  query[n] = 0;
  capsule_message_free(msg);
  if (strcmp(query, "count") == 0) {
    char text[32];
    snprintf(text, sizeof text, "%zu", g_count);
    capsule_reply_text(reply, text);
  } else if (strcmp(query, "last") == 0) {
    capsule_reply_text(reply, g_count ? g_items[g_count - 1] : "");
  } else if (strcmp(query, "list") == 0) {
    size_t total = 1;
    for (size_t i = 0; i < g_count; ++i) total += strlen(g_items[i]) + 1;
    char* text = (char*)capsule_alloc(total);
    text[0] = 0;
    for (size_t i = 0; i < g_count; ++i) {
      strcat(text, g_items[i]);
      strcat(text, "\n");
    }
    capsule_reply_text(reply, text);
    free(text);
  } else {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "unknown query (use count, last or list)");
    return false;
  }
  return true;
}

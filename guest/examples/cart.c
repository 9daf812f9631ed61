/* cart: a virtual actor (a component with activation = "on-demand"). Every name is a cart of its
 * own (shop/cart/<user>): the first message to a name activates an instance, an idle one is
 * deactivated, and the next message activates it again. Its items live in component storage
 * under "cart/<name>": init reads them (the activation's state), every add writes them, so a
 * re-activation goes on where the last one stopped.
 *   message or request "add:<item>" -> appends the item; a request replies the item count
 *   request "list"                  -> the items, comma-separated, oldest first
 *   request "count"                 -> the item count
 *   request "info"                  -> "<name> items=<n> loaded=<items read by init>"
 *   "crash"                         -> traps (the host rebuilds the activation for what follows) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("cart", "0.1.0", "A shopping cart per name, kept in storage")

enum { kMaxItems = 16 * 1024 };

static char g_name[130];
static char g_key[140];
static char g_items[kMaxItems];  // "a,b,c"
static size_t g_len, g_count, g_loaded;

static void copy_string(char* out, size_t size, const component_string_t* s) {
  const size_t n = s->len < size - 1 ? s->len : size - 1;
  memcpy(out, s->ptr, n);
  out[n] = 0;
}

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  capsule_config_free(config);
  capsule_component_id_t me;
  capsule_core_messaging_self_id(&me);
  copy_string(g_name, sizeof g_name, &me.instance);
  capsule_core_types_component_id_free(&me);
  snprintf(g_key, sizeof g_key, "cart/%s", g_name);

  component_string_t key;
  component_string_set(&key, g_key);
  component_option_list_u8_t value;
  if (!capsule_core_storage_get(&key, &value, err)) return false;
  g_len = g_count = 0;
  if (value.is_some) {
    g_len = value.val.len < sizeof g_items - 1 ? value.val.len : sizeof g_items - 1;
    memcpy(g_items, value.val.ptr, g_len);
    component_list_u8_free(&value.val);
    g_count = g_len ? 1 : 0;
    for (size_t i = 0; i < g_len; ++i) g_count += g_items[i] == ',';
  }
  g_items[g_len] = 0;
  g_loaded = g_count;
  return true;
}

static bool add_item(const uint8_t* item, size_t n, capsule_error_t* err) {
  if (g_len + n + 2 > sizeof g_items) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_QUOTA_EXCEEDED, "cart is full");
    return false;
  }
  if (g_len) g_items[g_len++] = ',';
  memcpy(g_items + g_len, item, n);
  g_len += n;
  g_items[g_len] = 0;
  ++g_count;
  component_string_t key;
  component_string_set(&key, g_key);
  component_list_u8_t value = {(uint8_t*)g_items, g_len};
  return capsule_core_storage_set(&key, &value, err);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  const uint8_t* p = msg->payload.bytes.ptr;
  const size_t n = msg->payload.bytes.len;
  const bool is_request = msg->correlation.is_some;
  bool ok = true;
  char text[200];
  reply->is_some = false;
  if (n > 4 && memcmp(p, "add:", 4) == 0) {
    ok = add_item(p + 4, n - 4, err);
    snprintf(text, sizeof text, "%zu", g_count);
  } else if (n == 4 && memcmp(p, "list", 4) == 0) {
    if (is_request) capsule_reply_text(reply, g_items);
  } else if (n == 5 && memcmp(p, "count", 5) == 0) {
    snprintf(text, sizeof text, "%zu", g_count);
  } else if (n == 4 && memcmp(p, "info", 4) == 0) {
    snprintf(text, sizeof text, "%s items=%zu loaded=%zu", g_name, g_count, g_loaded);
  } else if (n == 5 && memcmp(p, "crash", 5) == 0) {
    __builtin_trap();
  } else {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "unknown command (use add:<item>, list, count, info or crash)");
    ok = false;
  }
  if (ok && is_request && !reply->is_some) capsule_reply_text(reply, text);
  capsule_message_free(msg);
  return ok;
}

/* ledger: a balance kept in component storage, not in linear memory, so it survives restarts,
 * upgrades and - with a cluster-wide storage backend - the failover of its host.
 *   request "add:<n>"  -> adds n (may be negative) and replies the new balance
 *   request "balance"  -> replies the balance ("0" before the first add)
 * Every reply is read back from storage, never from a cached copy.
 * Config `tag_replies = "owner"`: each reply is "<balance> <host> <lease token>", from the
 * config a host gives an instance it serves under a failover lease (capsule.lease.host,
 * capsule.lease.token), so a checker can tell which owner answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("ledger", "0.1.0", "A balance persisted in component storage")

static char g_text[160];
static bool g_tag_owner = false;
static char g_owner[96] = "- 0";  // "<host> <token>"
static char g_lease_host[48] = "-";
static char g_lease_token[24] = "0";

static void copy_text(char* out, size_t size, const component_string_t* s) {
  const size_t n = s->len < size - 1 ? s->len : size - 1;
  memcpy(out, s->ptr, n);
  out[n] = 0;
}

bool exports_capsule_core_lifecycle_init(capsule_config_t* config, capsule_error_t* err) {
  (void)err;
  for (size_t i = 0; i < config->len; ++i) {
    const component_string_t *k = &config->ptr[i].f0, *v = &config->ptr[i].f1;
    if (capsule_string_eq(k, "tag_replies")) {
      char value[16];
      copy_text(value, sizeof value, v);
      g_tag_owner = strcmp(value, "owner") == 0;
    } else if (capsule_string_eq(k, "capsule.lease.host")) {
      copy_text(g_lease_host, sizeof g_lease_host, v);
    } else if (capsule_string_eq(k, "capsule.lease.token")) {
      copy_text(g_lease_token, sizeof g_lease_token, v);
    }
  }
  snprintf(g_owner, sizeof g_owner, "%s %s", g_lease_host, g_lease_token);
  capsule_config_free(config);
  return true;
}

static bool load_balance(long long* balance, capsule_error_t* err) {
  component_string_t key;
  component_string_set(&key, "balance");
  component_option_list_u8_t value;
  if (!capsule_core_storage_get(&key, &value, err)) return false;
  *balance = 0;
  if (value.is_some) {
    char digits[32];
    const size_t n = value.val.len < sizeof digits - 1 ? value.val.len : sizeof digits - 1;
    memcpy(digits, value.val.ptr, n);
    digits[n] = 0;
    *balance = strtoll(digits, NULL, 10);
    component_list_u8_free(&value.val);
  }
  return true;
}

static bool store_balance(long long balance, capsule_error_t* err) {
  component_string_t key;
  component_string_set(&key, "balance");
  char digits[32];
  const int n = snprintf(digits, sizeof digits, "%lld", balance);
  component_list_u8_t value = {(uint8_t*)digits, (size_t)n};
  return capsule_core_storage_set(&key, &value, err);
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  char query[48];
  const size_t n =
      msg->payload.bytes.len < sizeof query - 1 ? msg->payload.bytes.len : sizeof query - 1;
  memcpy(query, msg->payload.bytes.ptr, n);
  query[n] = 0;
  capsule_message_free(msg);
  long long balance = 0;
  if (!load_balance(&balance, err)) return false;
  if (strncmp(query, "add:", 4) == 0) {
    char* end = NULL;
    const long long delta = strtoll(query + 4, &end, 10);
    if (end == query + 4 || *end != 0) {
      capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT, "add:<integer> expected");
      return false;
    }
    balance += delta;
    if (!store_balance(balance, err)) return false;
    if (!load_balance(&balance, err)) return false;
  } else if (strcmp(query, "balance") != 0) {
    capsule_error_set(err, CAPSULE_CORE_TYPES_ERROR_INVALID_ARGUMENT,
                      "unknown query (use add:<n> or balance)");
    return false;
  }
  if (g_tag_owner) {
    snprintf(g_text, sizeof g_text, "%lld %s", balance, g_owner);
  } else {
    snprintf(g_text, sizeof g_text, "%lld", balance);
  }
  capsule_reply_text(reply, g_text);
  return true;
}

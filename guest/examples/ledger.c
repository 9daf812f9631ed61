/* ledger: a balance kept in component storage, not in linear memory, so it survives restarts,
 * upgrades and - with a cluster-wide storage backend - the failover of its host.
 *   request "add:<n>"  -> adds n (may be negative) and replies the new balance
 *   request "balance"  -> replies the balance ("0" before the first add)
 * Every reply is read back from storage, never from a cached copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("ledger", "0.1.0", "A balance persisted in component storage")

static char g_text[64];

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
  snprintf(g_text, sizeof g_text, "%lld", balance);
  capsule_reply_text(reply, g_text);
  return true;
}

/* trap: executes `unreachable` on every message. */
#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("trap", "0.1.0", "Traps on every message")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  capsule_message_free(msg);
  __builtin_trap();
}

/* spin: loops forever on every message. Only fuel or the wall-time limit stops it. */
#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("spin", "0.1.0", "Never returns from handle-message")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  capsule_message_free(msg);
  volatile uint64_t spins = 0;
  for (;;) spins = spins + 1;
}

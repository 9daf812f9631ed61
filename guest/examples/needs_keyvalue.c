/* needs_keyvalue: imports wasi:keyvalue/store@0.2.0-draft2 and wasi:keyvalue/atomics@0.2.0-draft2,
 * which capsule does not provide (it links wasi:keyvalue@0.2.0-draft, docs/wasi.md; a prerelease
 * matches only itself; guest/CMakeLists.txt adds them to its world). `capsule inspect`
 * and `capsule run` must refuse it at load time, naming both imports. */
#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("needs_keyvalue", "0.1.0", "Imports an interface capsule lacks")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  capsule_message_free(msg);
  /* Calls, so that the imports stay in the core module and so in the component. */
  return wasi_keyvalue_store_get(1) != 0 && wasi_keyvalue_atomics_increment(1, 1) != 0;
}

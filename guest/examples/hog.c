/* hog: allocates and touches 1 MiB blocks until the memory limit refuses more. */
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("hog", "0.1.0", "Allocates memory until it fails")

static void* g_blocks = NULL; /* linked through each block's first word, so nothing is freed */

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  capsule_message_free(msg);
  for (;;) {
    void** block = (void**)capsule_alloc(1u << 20);
    memset(block, 0xab, 1u << 20);
    *block = g_blocks;
    g_blocks = block;
  }
}

/* oom_abort: mallocs 1 MiB blocks until malloc returns NULL, then calls abort(), which is
 * `unreachable` in wasi-libc: the out-of-memory path of a language runtime that does not use the
 * capsule SDK's allocator (no capsule_guest_out_of_memory frame). The host must still name the
 * memory limit. */
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("oom_abort", "0.1.0",
                           "Allocates with malloc until it fails, then aborts")

static void* g_blocks = NULL; /* linked through each block's first word, so nothing is freed */

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  capsule_message_free(msg);
  for (;;) {
    void** block = (void**)malloc(1u << 20);
    if (block == NULL) abort();
    memset(block, 0xab, 1u << 20);
    *block = g_blocks;
    g_blocks = block;
  }
}

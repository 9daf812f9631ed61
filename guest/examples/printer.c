/* printer: writes to stdout, which the host logs line by line ("guest stdout: ...") under the
 * component's log quota. A message "flood N" prints N lines, "long N" one line of N 'x'; any
 * other payload is printed as "printer got: <payload>". Requests are answered "printed". stdout is
 * not a terminal, so libc buffers it fully: the handler flushes before it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("printer", "0.1.0", "Prints what it receives to stdout")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  reply->is_some = false; /* the generated wrapper leaves it uninitialised */
  (void)err;
  char text[256];
  const size_t n =
      msg->payload.bytes.len < sizeof text - 1 ? msg->payload.bytes.len : sizeof text - 1;
  memcpy(text, msg->payload.bytes.ptr, n);
  text[n] = 0;
  const bool request = msg->correlation.is_some;
  capsule_message_free(msg);
  if (strncmp(text, "flood ", 6) == 0) {
    const long lines = atol(text + 6);
    for (long i = 0; i < lines; ++i) printf("printer flood line %ld\n", i);
  } else if (strncmp(text, "long ", 5) == 0) {
    for (long i = atol(text + 5); i > 0; --i) putchar('x');
    putchar('\n');
  } else {
    printf("printer got: %s\n", text);
  }
  fflush(stdout);
  if (request) capsule_reply_text(reply, "printed");
  return true;
}

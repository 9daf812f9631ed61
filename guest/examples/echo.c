/* echo: replies with the payload it receives, codec included. */
#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("echo", "0.1.0", "Replies with the payload it receives")

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  (void)err;
  /* Hand the received bytes straight back: the reply now owns them, so no copy is made. */
  reply->is_some = true;
  reply->val = msg->payload;
  msg->payload.bytes.ptr = NULL;
  msg->payload.bytes.len = 0;
  capsule_message_free(msg);
  return true;
}

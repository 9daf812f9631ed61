/* fuzz_guest: turns the bytes of each message into values it hands the host, for
 * fuzz/lift_fuzzer.cpp. Each value comes straight from the input: string and list pointers and
 * lengths (in or out of bounds), variant tags (valid or not), enum values, UTF-8 or not. The host
 * must lift every one of them into a clear error or a valid value, never crash.
 *
 * Input: a sequence of operations, each one opcode byte followed by its operands; a reply or an
 * error return ends the sequence. */
#include <stdlib.h>
#include <string.h>

#include <capsule/guest.h>

CAPSULE_COMPONENT_METADATA("fuzz_guest", "0.1.0", "Hands the host values shaped by its input")

typedef struct {
  const uint8_t* p;
  size_t left;
} input_t;

static uint8_t byte(input_t* in) {
  if (in->left == 0) return 0;
  in->left--;
  return *in->p++;
}

static uint32_t u32(input_t* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | byte(in);
  return v;
}

/* A (pointer, length) the guest hands over: mostly bytes of the input itself (any content),
 * sometimes raw numbers from the input (any address, any length). */
static void span(input_t* in, uint8_t** ptr, size_t* len) {
  const uint8_t how = byte(in);
  if (how < 200) {
    size_t n = how % 64;
    if (n > in->left) n = in->left;
    *ptr = (uint8_t*)in->p;
    *len = n;
    in->p += n;
    in->left -= n;
  } else {
    *ptr = (uint8_t*)(uintptr_t)u32(in);
    *len = how == 255 ? u32(in) : (size_t)(u32(in) % 4096);
  }
}

static void string_from(input_t* in, component_string_t* s) {
  span(in, &s->ptr, &s->len);
}

static void id_from(input_t* in, capsule_component_id_t* id) {
  string_from(in, &id->namespace_);
  string_from(in, &id->name);
  string_from(in, &id->instance);
}

static void payload_from(input_t* in, capsule_payload_t* p) {
  p->codec = u32(in);
  span(in, &p->bytes.ptr, &p->bytes.len);
}

/* Host calls: what comes back (errors included) is dropped without freeing, so nothing the host
 * returned is ever handed to free() with a pointer the input chose. */
static void call_import(input_t* in, uint8_t which) {
  capsule_error_t e;
  capsule_payload_t payload;
  component_string_t s;
  uint32_t n = 0;
  switch (which % 8) {
    case 0: {
      string_from(in, &s);
      component_tuple2_string_string_t fields[2];
      string_from(in, &fields[0].f0);
      string_from(in, &fields[0].f1);
      string_from(in, &fields[1].f0);
      string_from(in, &fields[1].f1);
      component_list_tuple2_string_string_t list = {fields, byte(in) % 3};
      /* Any level, also past the enum's last case. */
      capsule_core_services_log((capsule_core_services_log_level_t)byte(in), &s, &list);
      break;
    }
    case 1: {
      capsule_component_id_t id;
      id_from(in, &id);
      payload_from(in, &payload);
      capsule_core_messaging_send(&id, &payload, &e);
      break;
    }
    case 2: {
      capsule_component_id_t id;
      id_from(in, &id);
      payload_from(in, &payload);
      uint64_t corr = 0;
      capsule_core_messaging_request(&id, &payload, u32(in), &corr, &e);
      break;
    }
    case 3: {
      string_from(in, &s);
      payload_from(in, &payload);
      capsule_core_messaging_publish(&s, &payload, &n, &e);
      break;
    }
    case 4: {
      capsule_component_id_t ids[2];
      id_from(in, &ids[0]);
      id_from(in, &ids[1]);
      capsule_core_messaging_list_component_id_t list;
      if (byte(in) < 200) {
        list.ptr = ids;
        list.len = byte(in) % 3;
      } else {
        list.ptr = (capsule_component_id_t*)(uintptr_t)u32(in);
        list.len = u32(in) % 100000;
      }
      payload_from(in, &payload);
      capsule_core_messaging_broadcast(&list, &payload, &n, &e);
      break;
    }
    case 5: {
      string_from(in, &s);
      component_list_u8_t value;
      span(in, &value.ptr, &value.len);
      capsule_core_storage_set(&s, &value, &e);
      break;
    }
    case 6: {
      string_from(in, &s);
      capsule_core_messaging_subscribe(&s, &e);
      break;
    }
    default: {
      capsule_component_id_t id;
      id_from(in, &id);
      capsule_metadata_t meta;
      capsule_core_services_metadata_of(&id, &meta, &e);
      break;
    }
  }
}

bool exports_capsule_core_lifecycle_handle_message(capsule_message_t* msg, capsule_reply_t* reply,
                                                   capsule_error_t* err) {
  /* The message stays alive (not freed): the values handed over may point into it. */
  input_t in = {msg->payload.bytes.ptr, msg->payload.bytes.len};
  while (in.left > 0) {
    const uint8_t op = byte(&in);
    if (op < 160) {
      call_import(&in, op);
    } else if (op < 208) {
      /* A reply, any codec, any bytes. */
      reply->is_some = true;
      reply->val.codec = u32(&in);
      span(&in, &reply->val.bytes.ptr, &reply->val.bytes.len);
      return true;
    } else {
      /* An error, any tag (also past the variant's last case), any text. */
      err->tag = byte(&in);
      string_from(&in, &err->val.internal);
      return false;
    }
  }
  reply->is_some = false;
  return true;
}

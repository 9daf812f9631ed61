#pragma once
// A hook on a cnats connection's reader thread. cnats (3.4.1, Debian's) runs every subscription
// handler on a delivery thread: the connection's reader parses a message, queues it and wakes that
// thread, a hand-off raw NATS request/reply pays once per side and the bridge paid again on top
// (reader -> delivery thread -> scheduler worker). The library's only way to act on a message on
// the reader thread itself is its message filter, natsConn_setFilterWithClosure: exported by
// libnats but not declared in nats.h (the library's own tests use it). CMake checks that the
// library has it (CAPSULE_NATS_READER_HOOK); without it the bridge keeps the delivery threads.
#include <nats/nats.h>

namespace capsule::cluster::nats {

// Called on the reader thread for every message of one of the connection's subscriptions, before
// it is queued for its delivery thread. Setting `*message` to null takes it: the hook then owns
// it (natsMsg_Destroy) and nothing else sees it. Must never wait: the connection reads nothing
// else meanwhile (no flush, no synchronous request on this connection).
using ReaderHook = void (*)(natsConnection* connection, natsMsg** message, void* closure);

// Installs `hook` (null: removes it). False when this libnats has no such hook.
bool set_reader_hook(natsConnection* connection, ReaderHook hook, void* closure);

}  // namespace capsule::cluster::nats

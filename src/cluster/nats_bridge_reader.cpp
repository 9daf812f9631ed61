#include "nats_bridge_reader.hpp"

#ifdef CAPSULE_NATS_READER_HOOK
// libnats' src/conn.h (not installed): void natsConn_setFilterWithClosure(natsConnection*,
// natsMsgFilter, void*), with natsMsgFilter = void (*)(natsConnection*, natsMsg**, void*).
extern "C" void natsConn_setFilterWithClosure(natsConnection* nc,
                                              capsule::cluster::nats::ReaderHook filter,
                                              void* closure);
#endif

namespace capsule::cluster::nats {

bool set_reader_hook(natsConnection* connection, ReaderHook hook, void* closure) {
#ifdef CAPSULE_NATS_READER_HOOK
  natsConn_setFilterWithClosure(connection, hook, closure);
  return true;
#else
  static_cast<void>(connection);
  static_cast<void>(hook);
  static_cast<void>(closure);
  return false;
#endif
}

}  // namespace capsule::cluster::nats

#pragma once

#include <chrono>
#include <limits>
#include <memory>
#include <nats/nats.h>
#include <string>

#include <capsule/core/result.hpp>

#include "nats_tls.hpp"

namespace capsule::cluster::nats {

// Owning handles for the cnats C objects: each one is destroyed exactly once, by its owner.
struct OptionsDeleter {
  void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};
struct ConnectionDeleter {
  // Close first: it flushes what is buffered and stops the reconnect loop.
  void operator()(natsConnection* c) const noexcept {
    natsConnection_Close(c);
    natsConnection_Destroy(c);
  }
};
struct SubscriptionDeleter {
  // Unsubscribe closes the subscription: its delivery thread ends after the running callback.
  void operator()(natsSubscription* s) const noexcept {
    natsSubscription_Unsubscribe(s);
    natsSubscription_Destroy(s);
  }
};
struct MessageDeleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};

using Options = std::unique_ptr<natsOptions, OptionsDeleter>;
using Connection = std::unique_ptr<natsConnection, ConnectionDeleter>;
using Subscription = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using Message = std::unique_ptr<natsMsg, MessageDeleter>;

// A cnats status as a capsule error: the library's last error text names the cause.
inline Status check(natsStatus s, const std::string& what) {
  if (s == NATS_OK) return ok();
  const char* detail = nats_GetLastError(nullptr);
  std::string message = what + ": " + natsStatus_GetText(s);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  message += tls_hint(s);
  const bool unreachable = s == NATS_NO_SERVER || s == NATS_CONNECTION_CLOSED ||
                           s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION ||
                           s == NATS_IO_ERROR || s == NATS_TIMEOUT;
  return make_error(unreachable ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                    std::move(message));
}

// JetStream key-value handles (NatsKvBackend). Destroy order: watchers and entries, then the
// store, then the context, then the connection (each retains what it was made from).
struct JetStreamDeleter {
  void operator()(jsCtx* js) const noexcept { jsCtx_Destroy(js); }
};
struct KvStoreDeleter {
  void operator()(kvStore* kv) const noexcept { kvStore_Destroy(kv); }
};
struct KvEntryDeleter {
  void operator()(kvEntry* e) const noexcept { kvEntry_Destroy(e); }
};
struct KvWatcherDeleter {
  // Destroy stops the watcher first: a thread blocked in kvWatcher_Next returns.
  void operator()(kvWatcher* w) const noexcept { kvWatcher_Destroy(w); }
};

using JetStream = std::unique_ptr<jsCtx, JetStreamDeleter>;
using KvStore = std::unique_ptr<kvStore, KvStoreDeleter>;
using KvEntry = std::unique_ptr<kvEntry, KvEntryDeleter>;
using KvWatcher = std::unique_ptr<kvWatcher, KvWatcherDeleter>;

// The options every capsule NATS client starts from: a name the server shows, a connect
// timeout, and reconnection forever every `reconnect_wait` (the bridge and the KV backend both
// keep working across server restarts). Callers add what is theirs before connecting.
// `user` empty: no credentials (a server without authorization); `tls` not enabled: plain TCP.
inline Result<Options> client_options(const std::string& url, const std::string& name,
                                      std::chrono::milliseconds timeout,
                                      std::chrono::milliseconds reconnect_wait, bool send_asap,
                                      const std::string& user = {},
                                      const std::string& password = {}, const TlsFiles& tls = {}) {
  natsOptions* raw = nullptr;
  if (Status s = check(natsOptions_Create(&raw), "nats options"); !s) return std::move(s).error();
  Options options(raw);
  for (const auto& [status, what] : std::initializer_list<std::pair<natsStatus, const char*>>{
           {natsOptions_SetURL(raw, url.c_str()), "url"},
           {natsOptions_SetName(raw, name.c_str()), "name"},
           {natsOptions_SetTimeout(raw, timeout.count()), "timeout"},
           {natsOptions_SetAllowReconnect(raw, true), "reconnect"},
           {natsOptions_SetMaxReconnect(raw, std::numeric_limits<int>::max()), "max reconnect"},
           {natsOptions_SetReconnectWait(raw, reconnect_wait.count()), "reconnect wait"},
           {natsOptions_SetSendAsap(raw, send_asap), "send asap"},
       }) {
    if (Status s = check(status, std::string("nats option ") + what); !s) {
      return std::move(s).error();
    }
  }
  if (!user.empty()) {
    if (Status s =
            check(natsOptions_SetUserInfo(raw, user.c_str(), password.c_str()), "nats option user");
        !s) {
      return std::move(s).error();
    }
  }
  if (Status s = use_tls(raw, url, tls); !s) return std::move(s).error();
  return options;
}

}  // namespace capsule::cluster::nats

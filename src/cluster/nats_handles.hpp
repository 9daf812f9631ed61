#pragma once

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <nats/nats.h>
#include <string>
#include <vector>

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

// The servers of `url`: one URL, or a comma-separated list of a NATS cluster's servers (each
// trimmed, empty entries dropped).
inline std::vector<std::string> server_urls(const std::string& url) {
  std::vector<std::string> out;
  for (std::size_t start = 0;;) {
    const std::size_t comma = url.find(',', start);
    std::string item = url.substr(start, comma == std::string::npos ? comma : comma - start);
    item.erase(0, std::min(item.find_first_not_of(' '), item.size()));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// Points `options` at the server or servers of `url`. cnats reads one URL per natsOptions_SetURL
// (a list there is no server at all: "No server available"); a list goes to SetServers, and the
// client connects to one of them and moves to another when it goes away.
inline natsStatus set_servers(natsOptions* options, const std::string& url) {
  const auto servers = server_urls(url);
  if (servers.size() <= 1) return natsOptions_SetURL(options, url.c_str());
  std::vector<const char*> pointers;
  pointers.reserve(servers.size());
  for (const auto& s : servers) pointers.push_back(s.c_str());
  return natsOptions_SetServers(options, pointers.data(), static_cast<int>(pointers.size()));
}

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
           {set_servers(raw, url), "url"},
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

// NatsBridge: the NATS connection, attaching to a runtime and detaching, stats.
#include <utility>

#include "nats_bridge_impl.hpp"
#include "nats_bridge_reader.hpp"

namespace capsule::cluster {

// With a queue group, NATS hands each message to one member only: should two hosts ever run
// an instance of the same id, a message is still delivered once, not once per host.
Result<nats::Subscription> NatsBridge::Impl::subscribe(const std::string& subject,
                                                       natsMsgHandler handler,
                                                       const char* queue_group) {
  natsSubscription* raw = nullptr;
  const natsStatus status =
      queue_group != nullptr
          ? natsConnection_QueueSubscribe(&raw, connection.get(), subject.c_str(), queue_group,
                                          handler, this)
          : natsConnection_Subscribe(&raw, connection.get(), subject.c_str(), handler, this);
  if (Status s = nats::check(status, "subscribe to " + subject); !s) {
    return std::move(s).error();
  }
  nats::Subscription sub(raw);
  std::lock_guard lock(live_mutex);
  if (natsSubscription_SetOnCompleteCB(raw, &Impl::on_complete, this) == NATS_OK) {
    ++live_threads;
  }
  return sub;
}

void NatsBridge::Impl::on_closed(natsConnection* /*nc*/, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  std::lock_guard lock(impl->closed_mutex);
  impl->closed = true;
  impl->closed_changed.notify_all();
}

void NatsBridge::Impl::on_reconnected(natsConnection* /*nc*/, void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  impl->reconnected_at.store(Clock::now().time_since_epoch().count());
  std::lock_guard lock(impl->tick_mutex);
  impl->announce_soon = true;  // tell the others at once that this host is back
  impl->tick_wake.notify_all();
}

void NatsBridge::Impl::on_complete(void* closure) {
  auto* impl = static_cast<Impl*>(closure);
  std::lock_guard lock(impl->live_mutex);
  --impl->live_threads;
  impl->live_changed.notify_all();  // under the lock: after it, this thread never touches impl
}

void NatsBridge::Impl::wait_for_delivery_threads() {
  std::unique_lock lock(live_mutex);
  live_changed.wait_for(lock, std::chrono::seconds(10), [&] { return live_threads <= 0; });
}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    if (bridge_) bridge_->detach();
    bridge_ = std::move(other.bridge_);
  }
  return *this;
}

Attachment::~Attachment() {
  if (bridge_) bridge_->detach();
}

NatsBridge::NatsBridge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::shared_ptr<NatsBridge>> NatsBridge::connect(BridgeConfig config) {
  if (!is_valid_id_segment(config.host)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cluster host name '" + config.host + "' must be [A-Za-z0-9._-]+");
  }
  if (config.heartbeat_interval.count() <= 0 || config.missed_heartbeats < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "heartbeat interval and missed heartbeats must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  const BridgeConfig& cfg = impl->config;
  auto options =
      nats::client_options(cfg.url, "capsule-" + cfg.host, cfg.connect_timeout, cfg.reconnect_wait,
                           cfg.send_asap, cfg.user, cfg.password, cfg.tls);
  if (!options) return std::move(options).error();
  natsOptions* raw_options = options->get();
  for (const auto& [status, what] : std::initializer_list<std::pair<natsStatus, const char*>>{
           // This host's own publishes never come back to it: local delivery is the runtime's.
           {natsOptions_SetNoEcho(raw_options, true), "no-echo"},
           {natsOptions_SetReconnectedCB(raw_options, &Impl::on_reconnected, impl.get()),
            "reconnected callback"},
           {natsOptions_SetClosedCB(raw_options, &Impl::on_closed, impl.get()), "closed callback"},
           {natsOptions_UseGlobalMessageDelivery(raw_options, cfg.delivery_threads > 0),
            "global message delivery"},
       }) {
    if (Status s = nats::check(status, std::string("nats option ") + what); !s) {
      return std::move(s).error();
    }
  }
  if (cfg.delivery_threads > 0) {
    // The pool is the library's, shared by every connection of the process; it only grows.
    if (Status s = nats::check(nats_SetMessageDeliveryPoolSize(cfg.delivery_threads),
                               "nats delivery pool size");
        !s) {
      return std::move(s).error();
    }
  }
  natsConnection* raw_connection = nullptr;
  if (Status s = nats::check(natsConnection_Connect(&raw_connection, raw_options),
                             "connecting to " + cfg.url);
      !s) {
    return std::move(s).error();
  }
  impl->connection.reset(raw_connection);
  // Before any subscription exists (attach), so every message of one takes the same path.
  if (cfg.deliver_on_reader) {
    impl->reader_hooked = nats::set_reader_hook(raw_connection, &Impl::on_read, impl.get());
  }
  auto bridge = std::make_shared<NatsBridge>(std::move(impl));
  bridge->impl_->self = bridge;
  return bridge;
}

NatsBridge::~NatsBridge() {
  detach();
  impl_->wait_for_delivery_threads();
}

Result<Attachment> NatsBridge::attach(component::ComponentRuntime& runtime) {
  {
    std::unique_lock lock(impl_->runtime_mutex);
    if (impl_->runtime != nullptr) {
      return make_error(ErrorCode::kAlreadyExists,
                        "cluster bridge of " + impl_->config.host + " already serves a runtime");
    }
    impl_->runtime = &runtime;
  }
  {
    std::lock_guard lock(impl_->subs_mutex);
    const auto& s = impl_->subjects;
    for (const auto& [subject, handler] :
         std::initializer_list<std::pair<std::string, natsMsgHandler>>{
             {s.host_inbox(impl_->config.host), &Impl::on_wire},
             {s.reply_inbox(impl_->config.host, impl_->boot), &Impl::on_wire},
             {impl_->ack_prefix + "*", &Impl::on_ack},
             {s.all_topics(), &Impl::on_wire},
             {s.all_hosts(), &Impl::on_heartbeat}}) {
      auto sub = impl_->subscribe(subject, handler);
      if (!sub) {
        impl_->fixed_subs.clear();
        std::unique_lock rt_lock(impl_->runtime_mutex);
        impl_->runtime = nullptr;
        return std::move(sub).error();
      }
      impl_->fixed_subs.push_back(std::move(*sub));
    }
  }
  {
    std::lock_guard lock(impl_->tick_mutex);
    impl_->stopping = false;
  }
  impl_->ticker = std::thread([impl = impl_.get()] { impl->run_ticker(); });
  return Attachment(shared_from_this());
}

void NatsBridge::detach(Farewell farewell) {
  {
    std::lock_guard lock(impl_->tick_mutex);
    impl_->stopping = true;
    impl_->tick_wake.notify_all();
  }
  if (!impl_->ticker.joinable()) return;
  impl_->ticker.join();
  impl_->coalescer.flush_all();  // held sends leave before the goodbye
  impl_->confirmations.fail_all("host " + impl_->config.host + " left the cluster");
  // Goodbye: the other hosts fail requests to this host's components now, not after a timeout.
  if (farewell == Farewell::kAnnounce && impl_->announce(true)) {
    static_cast<void>(natsConnection_FlushTimeout(impl_->connection.get(), 500));
  }
  std::vector<nats::Subscription> subs;
  {
    std::lock_guard lock(impl_->subs_mutex);
    subs = std::move(impl_->fixed_subs);
    impl_->fixed_subs.clear();
  }
  subs.clear();  // unsubscribes; running callbacks finish on their threads
  impl_->wait_for_delivery_threads();
  std::unique_lock lock(impl_->runtime_mutex);
  impl_->runtime = nullptr;
}

Status NatsBridge::announce() {
  return impl_->announce(false);
}

const std::string& NatsBridge::host() const {
  return impl_->config.host;
}

const std::string& NatsBridge::boot() const {
  return impl_->boot;
}

BridgeStats NatsBridge::stats() const {
  BridgeStats s;
  s.sent = impl_->sent.load();
  s.received = impl_->received.load();
  s.replies = impl_->replies.load();
  s.failed_by_host_loss = impl_->failed_by_host_loss.load();
  s.inbound_dropped = impl_->inbound_dropped.load();
  s.malformed = impl_->malformed.load();
  s.unmatched_replies = impl_->unmatched_replies.load();
  s.mismatched_replies = impl_->mismatched_replies.load();
  s.forged = impl_->forged.load();
  s.hosts_declared_dead = impl_->hosts_declared_dead.load();
  s.oversized = impl_->oversized.load();
  s.coalesced = impl_->coalesced.load();
  s.coalesced_lost = impl_->coalesced_lost.load();
  s.handled_on_reader = impl_->handled_on_reader.load();
  s.answered_on_reader = impl_->answered_on_reader.load();
  natsStatistics* raw = nullptr;
  if (natsStatistics_Create(&raw) == NATS_OK) {
    if (natsConnection_GetStats(impl_->connection.get(), raw) == NATS_OK) {
      static_cast<void>(
          natsStatistics_GetCounts(raw, nullptr, nullptr, nullptr, nullptr, &s.reconnects));
    }
    natsStatistics_Destroy(raw);
  }
  return s;
}

bool NatsBridge::delivers_on_reader() const {
  return impl_->reader_hooked;
}

bool NatsBridge::connected() const {
  return natsConnection_Status(impl_->connection.get()) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace capsule::cluster

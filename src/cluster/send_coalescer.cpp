#include "send_coalescer.hpp"

namespace capsule::cluster {

void SendCoalescer::hold(const std::string& host, WireMessage send) {
  bool full = false;
  {
    const std::size_t size = send.payload.bytes.size() + send.sender.ns.size() +
                             send.sender.name.size() + send.sender.instance.size() +
                             send.target.ns.size() + send.target.name.size() +
                             send.target.instance.size() + 16;
    std::lock_guard lock(batches_mutex_);
    Batch& batch = batches_[host];
    if (batch.sends.empty()) batch.sends.reserve(max_sends_);  // a send is large to move
    batch.sends.push_back(std::move(send));
    batch.bytes += size;
    unsent_.fetch_add(1, std::memory_order_acq_rel);
    full = batch.sends.size() >= max_sends_ || batch.bytes >= max_bytes_;
  }
  if (full) {
    std::lock_guard order(order_mutex_);
    publish_held(host);
  }
}

void SendCoalescer::flush_all() {
  if (unsent_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard order(order_mutex_);
  std::vector<std::string> hosts;
  {
    std::lock_guard lock(batches_mutex_);
    for (const auto& [host, batch] : batches_) {
      if (!batch.sends.empty()) hosts.push_back(host);
    }
  }
  for (const auto& host : hosts) publish_held(host);
}

void SendCoalescer::in_order(const std::string& host, const std::function<void()>& publish_now) {
  // Nothing held or on its way: no earlier send of this caller can be overtaken.
  if (unsent_.load(std::memory_order_acquire) == 0) return publish_now();
  std::lock_guard order(order_mutex_);
  publish_held(host);
  publish_now();
}

void SendCoalescer::publish_held(const std::string& host) {
  Batch batch;
  {
    std::lock_guard lock(batches_mutex_);
    const auto it = batches_.find(host);
    if (it == batches_.end() || it->second.sends.empty()) return;
    batch = std::move(it->second);
    it->second = Batch{};
  }
  const std::size_t n = batch.sends.size();
  publish_(host, std::move(batch.sends));
  // Only now: until the envelope is on the wire, another message must wait for it (in_order).
  unsent_.fetch_sub(n, std::memory_order_acq_rel);
}

}  // namespace capsule::cluster

#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <capsule/cluster/wire.hpp>

namespace capsule::cluster {

// Unconfirmed sends made during guests' turns, held per destination host and put on the wire as
// one coalesced envelope per host (one NATS message, one server hop and one delivery on the other
// side for many sends). A host's held sends leave when the turn that made them ends or pauses
// (end_turn), when they reach a bound (count or bytes), or before any other message this host
// publishes to that host (in_order), so every sender's messages keep their order whatever path
// each takes. No timer holds anything: a lone send waits only for the rest of its sender's turn.
class SendCoalescer {
 public:
  // Puts one host's held sends on the wire, in order. Called with the order lock held, so
  // batches leave in the order they were taken.
  using Publish = std::function<void(const std::string& host, std::vector<WireMessage> sends)>;

  SendCoalescer(std::size_t max_sends, std::size_t max_bytes, Publish publish)
      : max_sends_(max_sends), max_bytes_(max_bytes), publish_(std::move(publish)) {}

  // Holds `send` for `host`; publishes the host's batch at once if it reached a bound.
  void hold(const std::string& host, WireMessage send);
  // Publishes every held send (a turn ended or paused).
  void flush_all();
  // Runs `publish_now` (another message to `host`) after every send held for `host` before this
  // call is on the wire, and before any batch taken after it.
  void in_order(const std::string& host, const std::function<void()>& publish_now);

 private:
  struct Batch {
    std::vector<WireMessage> sends;
    std::size_t bytes = 0;
  };
  // Takes host's batch (empty if none) and publishes it; caller holds order_mutex_.
  void publish_held(const std::string& host);

  const std::size_t max_sends_;
  const std::size_t max_bytes_;
  const Publish publish_;
  // Held from taking a batch until it is published: two threads flushing cannot swap batches.
  std::mutex order_mutex_;
  std::mutex batches_mutex_;
  std::unordered_map<std::string, Batch> batches_;
  // Sends held or being published. Zero: no send made before now is still on its way to the
  // wire, so another message may go at once without the order lock.
  std::atomic<std::size_t> unsent_{0};
};

}  // namespace capsule::cluster

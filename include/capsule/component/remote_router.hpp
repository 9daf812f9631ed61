#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <capsule/core/message.hpp>
#include <capsule/core/result.hpp>
#include <capsule/core/send_batch.hpp>

namespace capsule::component {

// Where ComponentRuntime sends what it cannot deliver on this host. The component layer only
// knows this interface; the cluster layer implements it (over NATS), so src/component never
// depends on src/cluster.
//
// Request/reply stays owned by the requesting runtime: its CorrelationTracker and TimeoutHandler
// decide the one outcome. The router only carries the request out and, when the reply (or the
// loss of the responder's host) comes back, calls ComponentRuntime::complete_request.
class RemoteRouter {
 public:
  RemoteRouter() = default;
  RemoteRouter(const RemoteRouter&) = delete;
  RemoteRouter& operator=(const RemoteRouter&) = delete;
  virtual ~RemoteRouter() = default;

  // `to` is not on this host. kNotFound if no host of the cluster runs it.
  virtual Status send(const ComponentId& from, const ComponentId& to, const Payload& payload) = 0;
  // The same send, answered later: `done` runs exactly once, on any thread, with what send()
  // would have returned, and no thread waits meanwhile (a confirmed send's acknowledgement is
  // matched when it arrives). Default: send(), then done.
  // By value: overrides keep `done` until the outcome is known.
  virtual void send_later(const ComponentId& from, const ComponentId& to, const Payload& payload,
                          // NOLINTNEXTLINE(performance-unnecessary-value-param)
                          std::function<void(Status)> done) {
    done(send(from, to, payload));
  }
  // A send made during a guest's turn (the guest's call is running on this thread): like
  // send_later, but the router may hold it, with other sends to the same host, until end_turn()
  // (an unconfirmed send's outcome is then "held for the wire"). Default: send_later.
  // By value: overrides keep (move) the payload and `done`.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void send_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                            // NOLINTNEXTLINE(performance-unnecessary-value-param)
                            std::function<void(Status)> done) {
    send_later(from, to, payload, std::move(done));
  }
  // Whether send_later's outcome may come after it returns (a confirmation from another host).
  // False: `done` has run before send_later or send_in_turn returns, so a guest's send for
  // another host needs no suspension. Default: it may.
  [[nodiscard]] virtual bool sends_wait() const { return true; }
  // The runtime calls this when a guest's turn ends or pauses (its call returned or suspended):
  // whatever send_in_turn held goes on the wire now. Default: nothing is held.
  virtual void end_turn() {}
  // Messages from `from` whose targets are all off this host (at most kMaxSendBatch), answered
  // later like send_later: `done` runs exactly once, with one outcome per message in order, once
  // all are known. Messages to one target keep their order. Default: send_later each, in order.
  virtual void send_batch_later(const ComponentId& from, std::vector<OutgoingMessage> messages,
                                // NOLINTNEXTLINE(performance-unnecessary-value-param)
                                std::function<void(std::vector<Status>)> done) {
    struct Shared {
      std::vector<Status> outcomes;
      std::atomic<std::size_t> left;
      std::function<void(std::vector<Status>)> done;
    };
    if (messages.empty()) return done({});
    auto shared = std::make_shared<Shared>();
    shared->outcomes.resize(messages.size());
    shared->left = messages.size();
    shared->done = std::move(done);
    for (std::size_t i = 0; i < messages.size(); ++i) {
      send_later(from, messages[i].to, messages[i].payload, [shared, i](Status s) {
        shared->outcomes[i] = std::move(s);
        if (shared->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          shared->done(std::move(shared->outcomes));
        }
      });
    }
  }
  // `to` is not on this host; `correlation` is already pending in the requester's tracker and
  // expires after `timeout` there. An error here means the request was never sent.
  virtual Status request(const ComponentId& from, const ComponentId& to, const Payload& payload,
                         CorrelationId correlation, std::chrono::milliseconds timeout) = 0;
  // A request made during a guest's turn (as send_in_turn): the router may hold it with the
  // turn's other messages for the same host until end_turn(). Default: request().
  // By value: overrides keep (move) the payload.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual Status request_in_turn(const ComponentId& from, const ComponentId& to, Payload payload,
                                 CorrelationId correlation, std::chrono::milliseconds timeout) {
    return request(from, to, payload, correlation, timeout);
  }
  // Called for every publish, after the local subscribers got it: the other hosts' turn.
  virtual void publish(const ComponentId& from, std::string_view topic, const Payload& payload) = 0;

  // -- on-demand components (virtual actors) across hosts --------------------------------------
  // This host now loads (or no longer loads) on-demand component `key` ("ns/name"): the router
  // tells the other hosts, which may then place its names here. Default: nothing (one host).
  virtual void on_demand_loaded(const std::string& key, bool loaded) {
    static_cast<void>(key);
    static_cast<void>(loaded);
  }
  // Whether name `id` of an on-demand component this host loads is served here now. False:
  // another host serves it, and send/request above carry its messages there. Default: here.
  [[nodiscard]] virtual bool serves_here(const ComponentId& id) const {
    static_cast<void>(id);
    return true;
  }
};

}  // namespace capsule::component

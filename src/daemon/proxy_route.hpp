#pragma once

#include <asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <capsule/wasm/engine.hpp>

#include "http_routes.hpp"

namespace capsule::daemon {

// Serves a route with a wasi:http/proxy component (Spin's and `wasmtime serve`'s kind): each
// request is one call of its `wasi:http/incoming-handler.handle` on an instance of a small pool.
// An instance serves one request at a time and, with `reuse`, is kept for the next (its memory
// persists, as with `wasmtime serve --max-instance-reuse-count`); one that failed (trap, limit) is
// dropped and a fresh one instantiated. Without `reuse` every request gets a fresh instance (no
// state leaks from one request to the next: `wasmtime serve`'s default for wasip2 components).
//
// Where a call runs: on the connection's own thread when an instance slot is free and no request
// is queued (no hand-off, as `wasmtime serve` runs it on the connection's task), otherwise on the
// route's threads in arrival order (asio's FIFO queue). A connection thread never waits for a
// slot - with many connections, waiting threads would be woken in no particular order - and a
// call never runs on a scheduler worker. Either way the call is bounded by the route's timeout
// (its wall time), which is what lets a connection thread run one.
//
// Supervision: every instance dropped after a failure (trap, limit, failed instantiation) is a
// restart, counted against the route's restart intensity as a component supervisor counts its
// children's (rt::SupervisorConfig: more than `max_restarts` within `restart_window`). Past it
// the route gives up: its instances go, `on_give_up` is told once, and every request from then
// on is answered 503 naming the route and the last failure, instead of instantiating forever -
// until restart() (`capsule restart`), which starts the pool afresh.
class ProxyRouteHandler final : public RouteHandler {
 public:
  struct Options {
    std::string target;  // the `component` label of metrics and error bodies: the file name
    std::uint32_t instances = 4;  // requests served at once: instances alive and threads
    bool reuse = true;
    ResourceLimits limits;  // per request; wall time = the route's timeout
    std::vector<std::string> outgoing_allowed_hosts;
    std::chrono::milliseconds timeout{30'000};
    // Its instances are "<ns>/<name>/<n>", n counting the instances made.
    std::string ns = "http";
    std::string name;
    // The host functions of a new instance (wasi:keyvalue, wasi:config, wasi:logging, output);
    // null: a StandaloneHostApi, which has no storage.
    std::function<std::shared_ptr<wasm::HostApi>(const ComponentId&)> host;
    // The route's path prefix: named by the 503 body once the route gave up.
    std::string route;
    // Restart intensity ([http.route.supervision]; the defaults are a component supervisor's).
    std::uint32_t max_restarts = 3;
    std::chrono::milliseconds restart_window{5000};
    // Told once, when the route gives up: the intensity ("3 restarts in 5000 ms") and the last
    // failure. May be null.
    std::function<void(const std::string& intensity, const std::string& last_failure)> on_give_up;
  };

  // `engine` outlives the handler (the trigger stops before the runtime that owns it).
  ProxyRouteHandler(wasm::WasmEngine& engine,
                    std::shared_ptr<const wasm::CompiledComponent> component, Options options);
  ~ProxyRouteHandler() override;
  ProxyRouteHandler(const ProxyRouteHandler&) = delete;
  ProxyRouteHandler& operator=(const ProxyRouteHandler&) = delete;

  void handle(HttpTriggerRequest request, Done done) override;
  [[nodiscard]] const std::string& target() const override { return options_.target; }
  [[nodiscard]] std::chrono::milliseconds timeout() const override { return options_.timeout; }
  [[nodiscard]] std::optional<ProxyPoolStats> pool() const override;

  // What restart() found.
  struct Restart {
    std::string gave_up;           // why the route had given up; empty: it was serving
    std::size_t idle_dropped = 0;  // idle instances dropped at once
    std::uint32_t busy = 0;        // serving a request now: dropped after their answer
  };
  // The pool afresh, as an operator's restart of a component starts new instances: the idle
  // instances are dropped, the busy ones after their answer (never reused), the restart
  // intensity's window starts empty and a route that gave up serves again. Instantiation and
  // failure totals go on counting (they are counters since the host started).
  Restart restart();

 private:
  [[nodiscard]] HttpTriggerResponse serve(const HttpTriggerRequest& request);
  // One call on a slot already held; gives the slot back.
  [[nodiscard]] HttpTriggerResponse serve_on_slot(const HttpTriggerRequest& request);
  // An instance and the pool generation it was made in: one made before a restart() is never
  // reused, and its failure is not counted against the new window.
  struct Taken {
    std::unique_ptr<wasm::HttpProxyInstance> instance;
    std::uint64_t generation = 0;
  };
  [[nodiscard]] Result<Taken> take_instance();
  void give_back(Taken taken);
  // One instance of `generation` dropped after `why`: counted against the restart intensity
  // (past it, gives up) unless the pool was restarted since.
  void record_failure(const std::string& why, std::uint64_t generation);
  [[nodiscard]] std::string intensity_text() const;
  // The route's answer once it gave up; nullopt while it serves.
  [[nodiscard]] std::optional<HttpTriggerResponse> refusal_if_down() const;

  wasm::WasmEngine& engine_;
  std::shared_ptr<const wasm::CompiledComponent> component_;
  Options options_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<wasm::HttpProxyInstance>> idle_;
  std::uint64_t made_ = 0;    // instances instantiated so far: their ids
  std::uint64_t failed_ = 0;  // dropped after a trap or a limit
  // restart() calls so far: the pool's instances are of this generation. Changed under mutex_;
  // atomic so that a request reads it without the lock.
  std::atomic<std::uint64_t> generation_{0};
  std::deque<std::chrono::steady_clock::time_point> recent_failures_;  // within the window
  std::string gave_up_;  // why the route gave up; empty while it serves
  // Calls running (at most options_.instances) and requests queued for the route's threads.
  mutable std::mutex slots_mutex_;
  std::condition_variable slot_freed_;
  std::uint32_t running_ = 0;
  std::uint32_t queued_ = 0;
  asio::thread_pool threads_;  // last: joined before the pool of instances goes
};

}  // namespace capsule::daemon
